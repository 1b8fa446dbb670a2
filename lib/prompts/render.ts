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

/** Fills `{{name}}` placeholders; a placeholder without a value is an error, never silent. */
export function render(name: TemplateName, vars: Record<string, string | number>): string {
  return template(name)
    .replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
      const value = vars[key];
      if (value === undefined) throw new SAError("E_CONFIG", `prompt ${name}.md: no value for {{${key}}}`);
      return String(value);
    })
    .trim();
}
