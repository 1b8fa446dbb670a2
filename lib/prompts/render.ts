import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SAError } from "../errors.ts";

export const templateNames = [
  "domain",
  "descriptions.system",
  "descriptions.user",
  "features.system",
  "features.user",
  "mapping.system",
  "mapping.user",
] as const;
export type TemplateName = (typeof templateNames)[number];

export type TemplateVars = Record<string, string | number | boolean>;

const cache = new Map<TemplateName, string>();

/** Loads a template from this folder once. */
export function template(name: TemplateName): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(import.meta.dir, `${name}.md`), "utf8");
    cache.set(name, text);
  }
  return text;
}

function valueOf(name: TemplateName, vars: TemplateVars, key: string): string | number | boolean {
  const value = vars[key];
  if (value === undefined) throw new SAError("E_CONFIG", `prompt ${name}.md: no value for {{${key}}}`);
  return value;
}

/**
 * `{{#flag}}…{{/flag}}` keeps its text only when the value is set (true, non-empty). Hand-written on
 * purpose: it is the one form the templates need, and a Mustache library would HTML-escape values
 * by default and skip a missing one silently.
 */
const section = /\{\{#(\w+)\}\}\n?([\s\S]*?)\{\{\/\1\}\}\n?/g;

/**
 * Fills `{{name}}` placeholders and `{{#name}}` sections; a placeholder without a
 * value is an error, never silent.
 */
export function render(name: TemplateName, vars: TemplateVars): string {
  return template(name)
    .replace(section, (_m, key: string, body: string) => {
      const value = valueOf(name, vars, key);
      return value !== false && value !== "" && value !== 0 ? body : "";
    })
    .replace(/\{\{(\w+)\}\}/g, (_m, key: string) => String(valueOf(name, vars, key)))
    .trim();
}
