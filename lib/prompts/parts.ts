import type { Catalogue, Definition, Facet } from "../schema/data.ts";

/** Newlines and tabs inside a list entry would break the list: they become spaces. */
export const oneLine = (text: string) => text.replace(/[\n\r\t]+/g, " ").trim();

/** A labelled list: one entry inline, several as an indented sub-list, none left out. */
function listLines(label: string, values: string[]): string[] {
  if (values.length === 0) return [];
  if (values.length === 1) return [`  ${label}: ${oneLine(values[0]!)}`];
  return [`  ${label}:`, ...values.map((v) => `    - ${oneLine(v)}`)];
}

/** One definition with every field the Python tool's `DefinitionItem` has (its prompt carries them all). */
export function definitionText(d: Definition): string {
  const definition = d.definition ?? d.description;
  return [
    `- ${d.name}${d.aliases.length ? ` (also called ${d.aliases.join(", ")})` : ""}`,
    ...(d.short_definition ? [`  In short: ${oneLine(d.short_definition)}`] : []),
    ...(definition ? [`  Definition: ${oneLine(definition)}`] : []),
    ...listLines("Decision rules", d.decision_rules),
    ...listLines("Use when", d.use_when),
    ...listLines("Avoid confusion with", d.avoid_confusion_with),
    ...listLines("Examples", d.examples),
    ...listLines("Non-examples", d.non_examples),
    ...(d.related_terms.length ? [`  Related terms: ${d.related_terms.join(", ")}`] : []),
    ...(d.tags.length ? [`  Tags: ${d.tags.join(", ")}`] : []),
    ...(d.owner ? [`  Owner: ${oneLine(d.owner)}`] : []),
    ...(d.last_updated ? [`  Last updated: ${oneLine(d.last_updated)}`] : []),
  ].join("\n");
}

const typeText: Record<Facet["type"], string> = {
  enum: "one of the options below",
  string: "text",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
};

/** One facet: its id and label, whether it is required, its type, and each option with its label. */
function facetLine(f: Facet): string {
  const need = f.required ? "required" : "optional, null when not relevant or not known";
  const head = `- ${f.id}${f.label ? ` "${f.label}"` : ""} (${need}; ${typeText[f.type]})${f.description ? `: ${oneLine(f.description)}` : ""}`;
  const options = (f.options ?? []).map((o) => `    - ${o.id}${o.label && o.label !== o.id ? ` "${o.label}"` : ""}`);
  return [head, ...options].join("\n");
}

/** The facet instructions of a catalogue, or "" when it declares none. */
export function facetText(catalogue: Catalogue): string {
  return catalogue.facets.map(facetLine).join("\n");
}

/** Each line's ATX heading level (0 for none), code fences skipped. */
function headingLevels(lines: string[]): number[] {
  let fenced = false;
  return lines.map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return 0;
    }
    return fenced ? 0 : (/^(#{1,6})[ \t]/.exec(line)?.[1]!.length ?? 0);
  });
}

/**
 * A user's prompt file placed under one of the template's `#` sections: its headings are moved
 * down so that the shallowest is `##`, or a `# Library` heading in it would read as a section of
 * its own beside the template's, and what follows it as no longer part of the file.
 */
export function nestHeadings(text: string): string {
  const lines = text.split("\n");
  const levels = headingLevels(lines);
  const shift = 2 - Math.min(...levels.filter((l) => l > 0));
  if (!(shift > 0)) return text;
  return lines.map((line, i) => (levels[i] ? "#".repeat(Math.min(6, levels[i]! + shift)) + line.slice(levels[i]) : line)).join("\n");
}
