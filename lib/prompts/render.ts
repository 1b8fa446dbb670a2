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

const placeholder = /\{\{(\w+)\}\}/;

/**
 * A template without sections split once at its placeholders: text, name, text, name, … text.
 * Filling it joins the parts, what the placeholder pass below does, without a regex per call
 * (the user prompts are filled for every call of a run).
 */
const splitTemplates = new Map<TemplateName, string[] | null>();
function partsOf(name: TemplateName): string[] | null {
  let parts = splitTemplates.get(name);
  if (parts === undefined) {
    const text = template(name);
    splitTemplates.set(name, (parts = text.includes("{{#") ? null : text.split(placeholder)));
  }
  return parts;
}

/**
 * Fills `{{name}}` placeholders and `{{#name}}` sections; a placeholder without a
 * value is an error, never silent.
 */
export function render(name: TemplateName, vars: TemplateVars): string {
  const parts = partsOf(name);
  if (parts) {
    let text = parts[0]!;
    for (let i = 1; i < parts.length; i += 2) text += String(valueOf(name, vars, parts[i]!)) + parts[i + 1]!;
    return text.trim();
  }
  return template(name)
    .replace(section, (_m, key: string, body: string) => {
      const value = valueOf(name, vars, key);
      return value !== false && value !== "" && value !== 0 ? body : "";
    })
    .replace(/\{\{(\w+)\}\}/g, (_m, key: string) => String(valueOf(name, vars, key)))
    .trim();
}
