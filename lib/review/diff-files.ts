import { openEvolutions, type EvolutionSource } from "../export/source.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import { diffServices, type DiffReport } from "./diff-report.ts";
import { readServices, sortedFacets, type FacetChange } from "./diff.ts";

type Side = "old" | "new";
const key = (...parts: string[]) => parts.join("\u0000");

/** Each mapping of a line with where it is: service, plateau, feature, `catalogue:item`. */
function* mappingsOf(e: ServiceEvolution) {
  for (const p of e.plateaus) {
    for (const f of p.features) {
      for (const [catalogue, list] of Object.entries(f.mappings)) for (const m of list) yield { at: key(e.service.service_id, p.plateau_name, f.feature_id, `${catalogue}:${m.item}`), facets: m.facets };
    }
  }
}

/** The facets of each mapping whose facets changed, read again from both files: the diff kept only their hashes. */
export async function fillFacetChanges(report: DiffReport, sources: Record<Side, EvolutionSource>): Promise<void> {
  const wanted: Record<Side, Map<string, FacetChange>> = { old: new Map(), new: new Map() };
  for (const d of report.details) {
    for (const p of d.plateaus) {
      for (const c of p.features.changed) {
        // A feature matched by name may have another id in the old file.
        const oldId = String(c.changes.feature_id?.old ?? c.feature_id);
        for (const m of c.mappings.changed) {
          wanted.old.set(key(d.service_id, p.plateau, oldId, m.mapping), m);
          wanted.new.set(key(d.service_id, p.plateau, c.feature_id, m.mapping), m);
        }
      }
    }
  }
  for (const side of ["old", "new"] as const) {
    if (!wanted[side].size) continue;
    const services = new Set([...wanted[side].keys()].map((k) => k.split("\u0000")[0]));
    for await (const e of sources[side].read()) {
      if (!services.has(e.service.service_id)) continue;
      for (const { at, facets } of mappingsOf(e)) {
        const change = wanted[side].get(at);
        if (change) change[side] = sortedFacets(facets);
      }
    }
  }
}

/** Two evolutions files compared (`-` is stdin for one of them). */
export async function diffFiles(oldPath: string, newPath: string): Promise<DiffReport> {
  const sources = { old: await openEvolutions(oldPath), new: await openEvolutions(newPath) };
  try {
    const report = diffServices(await readServices(sources.old), await readServices(sources.new));
    await fillFacetChanges(report, sources);
    return report;
  } finally {
    sources.old.dispose();
    sources.new.dispose();
  }
}
