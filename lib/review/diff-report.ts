import { compareFeature, matchFeatures, type FeatureView, type PlateauDiff, type ServiceDiff, type ServiceView } from "./diff.ts";

export interface DiffReport {
  services: { added: number; removed: number; changed: number };
  features: { added: number; removed: number; changed: number };
  levels: { up: number; down: number };
  /** `changed`: mappings kept whose facets differ. */
  mappings: { added: number; removed: number; changed: number };
  details: ServiceDiff[];
}

const tagged = (fs: FeatureView[]) => fs.flatMap((f) => f.mappings.map((m) => `${f.id} ${m}`));

function comparePlateau(name: string, o?: { description: string; features: FeatureView[] }, n?: { description: string; features: FeatureView[] }): PlateauDiff | undefined {
  const match = matchFeatures(o?.features ?? [], n?.features ?? []);
  const changed = match.pairs.flatMap(([a, b]) => compareFeature(a, b) ?? []);
  const mappings = {
    added: [...tagged(match.added), ...changed.flatMap((c) => c.mappings.added.map((m) => `${c.feature_id} ${m}`))],
    removed: [...tagged(match.removed), ...changed.flatMap((c) => c.mappings.removed.map((m) => `${c.feature_id} ${m}`))],
    changed: changed.flatMap((c) => c.mappings.changed.map((m) => `${c.feature_id} ${m.mapping}`)),
  };
  const status = !o ? "added" : !n ? "removed" : "changed";
  const description = o && n && o.description !== n.description ? { old: o.description, new: n.description } : undefined;
  if (status === "changed" && !description && !changed.length && !match.added.length && !match.removed.length) return undefined;
  return { plateau: name, status, ...(description ? { description } : {}), features: { added: match.added, removed: match.removed, changed }, mappings };
}

function compareService(o: ServiceView, n: ServiceView): ServiceDiff | undefined {
  const names = [...new Set([...o.plateaus.keys(), ...n.plateaus.keys()])];
  const order = (p: string) => n.plateaus.get(p)?.order ?? o.plateaus.get(p)?.order ?? 0;
  const plateaus = names.sort((a, b) => order(a) - order(b)).flatMap((p) => comparePlateau(p, o.plateaus.get(p), n.plateaus.get(p)) ?? []);
  const renamed = o.name !== n.name ? { changes: { name: { old: o.name, new: n.name } } } : {};
  return plateaus.length || o.name !== n.name ? { service_id: n.id, name: n.name, status: "changed", ...renamed, plateaus } : undefined;
}

/**
 * Service by service, plateau by plateau. Features of services only in one file count as that
 * service added or removed, not as features; a plateau only in one file counts its features.
 */
export function diffServices(olds: Map<string, ServiceView>, news: Map<string, ServiceView>): DiffReport {
  const report: DiffReport = { services: { added: 0, removed: 0, changed: 0 }, features: { added: 0, removed: 0, changed: 0 }, levels: { up: 0, down: 0 }, mappings: { added: 0, removed: 0, changed: 0 }, details: [] };
  const ids = [...new Set([...olds.keys(), ...news.keys()])];
  for (const id of ids) {
    const o = olds.get(id);
    const n = news.get(id);
    const d = !o ? { service_id: id, name: n!.name, status: "added" as const, plateaus: [] } : !n ? { service_id: id, name: o.name, status: "removed" as const, plateaus: [] } : compareService(o, n);
    if (!d) continue;
    report.services[d.status]++;
    for (const p of d.plateaus) {
      report.features.added += p.features.added.length;
      report.features.removed += p.features.removed.length;
      report.features.changed += p.features.changed.length;
      report.mappings.added += p.mappings.added.length;
      report.mappings.removed += p.mappings.removed.length;
      report.mappings.changed += p.mappings.changed.length;
      for (const c of p.features.changed) {
        const level = c.changes.level;
        if (level) report.levels[(level.new as number) > (level.old as number) ? "up" : "down"]++;
      }
    }
    report.details.push(d);
  }
  return report;
}

export const isIdentical = (r: DiffReport) => r.details.length === 0;
