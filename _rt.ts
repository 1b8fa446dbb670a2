import { marked } from "marked";
import { readFileSync } from "node:fs";
const [input, mdPath, htmlPath] = process.argv.slice(2) as [string, string, string];
const shown = (html: string) => html.replace(/<[^>]+>/g, " ").replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => (e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ({ amp: "&", lt: "<", gt: ">", quot: '"' } as Record<string, string>)[e] ?? m)).replace(/\s+/g, " ");
const texts = new Set<string>();
for (const l of readFileSync(input, "utf8").trim().split("\n")) {
  const e = JSON.parse(l);
  texts.add(e.service.description);
  for (const p of e.plateaus) {
    texts.add(p.service_description);
    for (const f of p.features) { texts.add(f.name); texts.add(f.description); texts.add(f.score.justification); for (const ms of Object.values(f.mappings) as any[]) for (const m of ms) for (const v of Object.values(m.facets ?? {})) if (typeof v === "string") texts.add(v); }
    for (const items of Object.values(p.mappings ?? {}) as any[]) for (const it of items) for (const m of it.mappings) texts.add(m.description);
  }
}
const norm = (s: string) => s.replace(/\s+/g, " ").trim();
const md = shown(await marked.parse(readFileSync(mdPath, "utf8"), { gfm: true }));
const html = shown(readFileSync(htmlPath, "utf8").replace(/<script[\s\S]*?<\/script>/g, "").replace(/<style[\s\S]*?<\/style>/g, ""));
const lost = (doc: string) => [...texts].filter((t) => t && !doc.includes(norm(t)));
const facetIds = new Set(["vm","event-producer","entity","avro","system-of-record"]); console.log("md lost", lost(md).filter(t => t.length > 20 || /[^a-z-]/.test(t))); console.log("html lost", lost(html).filter(t => t.length > 20 || /[^a-z-]/.test(t)));
