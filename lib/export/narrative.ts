import { gapsOf } from "../pipeline/gaps.ts";
import { roleOf, type Feature, type PlateauResult, type ServiceEvolution } from "../schema/evolution.ts";
import { facetValue, itemName, roleName, type CatalogueInfo, type Labels } from "./labels.ts";
import { byRoleThenName, plateausInOrder } from "./views.ts";

/** One mapped item of a plateau: its catalogue, and each feature mapped to it with the facets it gave. */
export interface MappedItem {
  catalogue: CatalogueInfo;
  id: string;
  name: string;
  uses: Array<{ feature: Feature; facets: string }>;
}

/** Facets as "Label: value" pairs, in the catalogue's order. */
function facetsText(c: CatalogueInfo, facets: Record<string, unknown> | null): string {
  return c.facets
    .map((f) => [f.label, facetValue(f, facets?.[f.id])] as const)
    .filter(([, v]) => v !== "")
    .map(([label, v]) => `${label}: ${v}`)
    .join(", ");
}

/** The plateau's features grouped by role, in the data's role order. */
export function featuresByRole(labels: Labels, p: PlateauResult): Array<{ role: string; name: string; features: Feature[] }> {
  const groups = new Map<string, Feature[]>();
  for (const f of [...p.features].sort(byRoleThenName(labels))) groups.set(roleOf(f), [...(groups.get(roleOf(f)) ?? []), f]);
  return [...groups].map(([role, features]) => ({ role, name: roleName(labels, role), features }));
}

/** Every item a plateau's features map to, by catalogue then item name. */
export function mappedItems(labels: Labels, p: PlateauResult): MappedItem[] {
  const items: MappedItem[] = [];
  for (const c of labels.catalogues.values()) {
    const byId = new Map<string, MappedItem>();
    for (const f of [...p.features].sort(byRoleThenName(labels))) {
      for (const m of f.mappings[c.field] ?? []) {
        const item = byId.get(m.item) ?? { catalogue: c, id: m.item, name: itemName(c, m.item), uses: [] };
        item.uses.push({ feature: f, facets: facetsText(c, m.facets) });
        byId.set(m.item, item);
      }
    }
    items.push(...[...byId.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)));
  }
  return items;
}

/**
 * The model's text as Markdown that shows it as written, never runs it as markup, on one line:
 * inline markup (GFM's `~~` and GitHub's `$` maths too) and the `&` of an entity (`&amp;`)
 * escaped, and a start that would open a block (a list, a rule, a setext underline, an indented
 * code block) escaped or trimmed, since a text may begin a paragraph or a list item's line. Its
 * line breaks are `<br>`s (a table cell holds no other), so what follows one opens no block.
 */
export const md = (text: string) =>
  text
    .trim()
    .replace(/([\\`*_[\]<>|#~$])/g, "\\$1")
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, "\\&")
    // A carriage return alone ends a line too (and U+2028/9 does in some renderers).
    .replace(/[^\S\r\n\u2028\u2029]*(\r\n|[\r\n\u2028\u2029])[^\S\r\n\u2028\u2029]*/g, "<br>")
    .replace(/^[-+=]/, "\\$&")
    .replace(/^(\d+)([.)])/, "$1\\$2");

function plateauMarkdown(labels: Labels, p: PlateauResult): string[] {
  const out = [`### ${p.plateau}. ${md(p.plateau_name)}`, "", md(p.service_description || "(no description)"), ""];
  for (const group of featuresByRole(labels, p)) {
    out.push(`#### ${md(group.name)}`, "");
    for (const f of group.features) {
      out.push(`- **${md(f.name)}** (${md(f.feature_id)}): level ${f.score.level}, ${md(f.score.label)}`);
      if (f.description) out.push(`  ${md(f.description)}`);
      if (f.score.justification) out.push(`  *Justification:* ${md(f.score.justification)}`);
    }
    out.push("");
  }
  let catalogue = "";
  for (const item of mappedItems(labels, p)) {
    if (item.catalogue.field !== catalogue) {
      catalogue = item.catalogue.field;
      out.push("", `#### ${md(item.catalogue.label)}`, "");
    }
    const uses = item.uses.map((u) => `${md(u.feature.name)}${u.facets ? ` (${md(u.facets)})` : ""}`).join("; ");
    out.push(`- **${md(item.name)}** (${md(item.id)}): ${uses}`);
  }
  return out;
}

/** The service's jobs to be done as one line ("a; b"): a job is a string or an object with a name. */
export const jobsText = (e: ServiceEvolution) => e.service.jobs_to_be_done.map((job) => (typeof job === "string" ? job : job.name)).join("; ");

/** What the input says of where the service sits: its parent service and its customer type, those given. */
export function serviceFacts(e: ServiceEvolution): Array<[label: string, value: string]> {
  const facts: Array<[string, string | null | undefined]> = [["Part of", e.service.parent_id], ["Customer type", e.service.customer_type]];
  return facts.filter((f): f is [string, string] => Boolean(f[1]?.trim()));
}

/** Said with a service's gaps (`meta.models.incomplete`), in the narrative of every report. */
export const leftEmptyWhy = "(answers stayed invalid; run again to ask again)";

/** One service as a document: per plateau its description, features by role, then mapped items. */
export function narrativeMarkdown(labels: Labels, e: ServiceEvolution): string {
  const out = [`## ${md(e.service.name)} (${md(e.service.service_id)})`, ""];
  if (e.service.description) out.push(md(e.service.description), "");
  const jobs = jobsText(e);
  if (jobs) out.push(`*Jobs to be done:* ${md(jobs)}`, "");
  const facts = serviceFacts(e);
  if (facts.length) out.push(facts.map(([label, value]) => `*${label}:* ${md(value)}`).join(" · "), "");
  const gaps = gapsOf(e.meta.models);
  if (gaps) out.push(`*Left empty* ${leftEmptyWhy}: ${md(gaps)}`, "");
  for (const p of plateausInOrder(e)) out.push(...plateauMarkdown(labels, p), "");
  return `${out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n\n`;
}
