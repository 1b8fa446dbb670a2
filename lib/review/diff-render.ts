import { escapeXml as h } from "../export/charts.ts";
import { md } from "../export/narrative.ts";
import { clipText } from "../format.ts";
import { printable } from "../printable.ts";
import type { DiffReport } from "./diff-report.ts";
import type { FacetChange, FeatureChange, PlateauDiff, ServiceDiff } from "./diff.ts";

/** At most `n` characters (lib/format.ts `clipText`), as the terminal shows them. */
const clip = (s: string | number, n = 60) => printable(clipText(String(s), n));
/** A name from the file as the terminal shows it (lib/printable.ts). */
const p = (s: string) => printable(s);

function summaryLines(r: DiffReport): string[] {
  return [
    `services  ${r.services.added} added, ${r.services.removed} removed, ${r.services.changed} changed`,
    `features  ${r.features.added} added, ${r.features.removed} removed, ${r.features.changed} changed`,
    `levels    ${r.levels.up} up, ${r.levels.down} down`,
    `mappings  ${r.mappings.added} added, ${r.mappings.removed} removed, ${r.mappings.changed} with facets changed`,
  ];
}

/** `applications:APP1 (interface: UI → API)`: the facets that differ, old → new. */
function facetText(c: FacetChange): string {
  const keys = [...new Set([...Object.keys(c.old ?? {}), ...Object.keys(c.new ?? {})])].sort();
  const shown = (v: unknown) => (v === undefined || v === null ? "none" : String(v));
  const parts = keys.filter((k) => JSON.stringify(c.old?.[k]) !== JSON.stringify(c.new?.[k])).map((k) => `${k}: ${shown(c.old?.[k])} → ${shown(c.new?.[k])}`);
  return `${c.mapping} (${parts.join("; ")})`;
}

const facetLine = (c: FeatureChange) => `facets changed: ${c.mappings.changed.map(facetText).join(", ")}`;

function changeText(c: FeatureChange): string {
  const parts = Object.entries(c.changes).map(([field, v]) => (field === "level" ? `level ${v!.old}→${v!.new}` : field === "description" || field === "justification" ? field : `${field} "${clip(v!.old, 30)}"→"${clip(v!.new, 30)}"`));
  const { added, removed, changed } = c.mappings;
  if (added.length || removed.length || changed.length) parts.push(`mappings +${added.length} -${removed.length}${changed.length ? ` ~${changed.length}` : ""}`);
  return `"${p(c.name)}" ${parts.join(", ")}`;
}

function plateauLines(p: PlateauDiff): string[] {
  const out = [`  ${printable(p.plateau)}${p.status === "changed" ? "" : ` (plateau ${p.status})`}`];
  if (p.description) out.push(`    ~ description changed`);
  for (const f of p.features.added) out.push(`    + "${printable(f.name)}" (${printable(f.role)}, level ${f.level})`);
  for (const f of p.features.removed) out.push(`    - "${printable(f.name)}" (${printable(f.role)}, level ${f.level})`);
  for (const c of p.features.changed) out.push(`    ~ ${changeText(c)}`);
  return out;
}

/** The terminal summary: counts, then each changed service. */
export function diffText(r: DiffReport): string {
  const lines = summaryLines(r);
  if (!r.details.length) return `${lines.join("\n")}\nidentical\n`;
  for (const d of r.details) {
    lines.push("", `${d.status === "added" ? "+" : d.status === "removed" ? "-" : "~"} ${p(d.service_id)} ${p(d.name)}${d.status === "changed" ? "" : ` (service ${d.status})`}`);
    if (d.changes) lines.push(`  name "${p(d.changes.name.old)}"→"${p(d.changes.name.new)}"`);
    for (const p of d.plateaus) lines.push(...plateauLines(p));
  }
  return `${lines.join("\n")}\n`;
}

/** The export's Markdown escape (lib/export/narrative.ts): the text shows as written. */
const mdText = (s: string | number) => md(String(s));

function plateauMarkdown(p: PlateauDiff): string[] {
  const out = [`### ${mdText(p.plateau)}${p.status === "changed" ? "" : ` (plateau ${p.status})`}`, ""];
  if (p.description) out.push(`- Description was: ${mdText(p.description.old)}`, `- Description is: ${mdText(p.description.new)}`);
  for (const f of p.features.added) out.push(`- Added **${mdText(f.name)}** (${mdText(f.role)}, level ${f.level}): ${mdText(f.description)}`);
  for (const f of p.features.removed) out.push(`- Removed **${mdText(f.name)}** (${mdText(f.role)}, level ${f.level})`);
  for (const c of p.features.changed) {
    out.push(`- Changed **${mdText(c.name)}**:`);
    for (const [field, v] of Object.entries(c.changes)) out.push(`  - ${field}: ${mdText(v!.old)} → ${mdText(v!.new)}`);
    if (c.mappings.added.length) out.push(`  - mappings added: ${mdText(c.mappings.added.join(", "))}`);
    if (c.mappings.removed.length) out.push(`  - mappings removed: ${mdText(c.mappings.removed.join(", "))}`);
    if (c.mappings.changed.length) out.push(`  - ${mdText(facetLine(c))}`);
  }
  return [...out, ""];
}

export function diffMarkdown(r: DiffReport, title: string): string {
  const out = [`# ${mdText(title)}`, "", ...summaryLines(r).map((l) => `- ${l.replace(/\s+/, ": ")}`), ""];
  for (const d of r.details) {
    out.push(`## ${mdText(d.name)} (${mdText(d.service_id)})${d.status === "changed" ? "" : `: service ${d.status}`}`, "");
    if (d.changes) out.push(`- Name was: ${mdText(d.changes.name.old)}`, `- Name is: ${mdText(d.changes.name.new)}`, "");
    for (const p of d.plateaus) out.push(...plateauMarkdown(p));
  }
  return `${out.join("\n").trimEnd()}\n`;
}

function serviceHtml(d: ServiceDiff): string {
  const plateaus = d.plateaus.map((p) => {
    const items = [
      ...(p.description ? [`<li>Description was: ${h(p.description.old)}<br>Description is: ${h(p.description.new)}</li>`] : []),
      ...p.features.added.map((f) => `<li class="add">Added <strong>${h(f.name)}</strong> (${h(f.role)}, level ${f.level}): ${h(f.description)}</li>`),
      ...p.features.removed.map((f) => `<li class="del">Removed <strong>${h(f.name)}</strong> (${h(f.role)}, level ${f.level})</li>`),
      ...p.features.changed.map((c) => `<li>Changed <strong>${h(c.name)}</strong><ul>${Object.entries(c.changes).map(([k, v]) => `<li>${h(k)}: ${h(v!.old)} → ${h(v!.new)}</li>`).join("")}${c.mappings.added.length ? `<li>mappings added: ${h(c.mappings.added.join(", "))}</li>` : ""}${c.mappings.removed.length ? `<li>mappings removed: ${h(c.mappings.removed.join(", "))}</li>` : ""}${c.mappings.changed.length ? `<li>${h(facetLine(c))}</li>` : ""}</ul></li>`),
    ];
    return `<h3>${h(p.plateau)}${p.status === "changed" ? "" : ` (plateau ${p.status})`}</h3><ul>${items.join("")}</ul>`;
  });
  const renamed = d.changes ? `<ul><li>Name was: ${h(d.changes.name.old)}<br>Name is: ${h(d.changes.name.new)}</li></ul>` : "";
  return `<section><h2>${h(d.name)} <small>${h(d.service_id)}</small>${d.status === "changed" ? "" : ` (service ${d.status})`}</h2>${renamed}${plateaus.join("")}</section>`;
}

export function diffHtml(r: DiffReport, title: string): string {
  const css = "body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:1rem}li.add{color:#1b6e1b}li.del{color:#a11}small{color:#666}";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${h(title)}</title><style>${css}</style></head>
<body><h1>${h(title)}</h1><ul>${summaryLines(r).map((l) => `<li>${h(l)}</li>`).join("")}</ul>
${r.details.length ? r.details.map(serviceHtml).join("\n") : "<p>The two files are identical.</p>"}
</body></html>
`;
}
