import { roleOf, type ServiceEvolution } from "../schema/evolution.ts";

export type Cell = string | number;
export interface Column {
  key: string;
  header: string;
}
export interface Table {
  name: "features" | "mappings" | "services";
  columns: Column[];
  rows: Record<string, Cell>[];
}
export const viewNames = ["features", "mappings", "services"] as const;
export type ViewName = (typeof viewNames)[number];

const col = (key: string, header = key) => ({ key, header });

/** The sets an evolution maps, in a stable order: the ones the meta names, then any others found. */
function setsOf(evolutions: ServiceEvolution[]): string[] {
  const sets: string[] = [];
  const add = (s: string) => !sets.includes(s) && sets.push(s);
  for (const e of evolutions) {
    e.meta.mapping_types.forEach(add);
    for (const p of e.plateaus) for (const f of p.features) Object.keys(f.mappings).forEach(add);
  }
  return sets;
}

/** Item names per set, from the plateau-level mappings (the Python tool's files carry them there). */
function itemNames(e: ServiceEvolution): Map<string, string> {
  const names = new Map<string, string>();
  for (const p of e.plateaus) for (const [set, items] of Object.entries(p.mappings)) for (const i of items) names.set(`${set}:${i.id}`, i.name || i.id);
  return names;
}


export function featuresView(evolutions: ServiceEvolution[]): Table {
  const sets = setsOf(evolutions);
  const rows: Record<string, Cell>[] = [];
  for (const e of evolutions) {
    const names = itemNames(e);
    for (const p of e.plateaus) {
      for (const f of p.features) {
        const row: Record<string, Cell> = {
          service_id: e.service.service_id,
          service: e.service.name,
          plateau: p.plateau,
          plateau_name: p.plateau_name,
          role: roleOf(f),
          feature_id: f.feature_id,
          feature: f.name,
          level: f.score.level,
          label: f.score.label,
        };
        for (const set of sets) row[set] = (f.mappings[set] ?? []).map((m) => names.get(`${set}:${m.item}`) ?? m.item).join("; ");
        rows.push(row);
      }
    }
  }
  const columns = [col("service_id"), col("service"), col("plateau"), col("plateau_name"), col("role"), col("feature_id"), col("feature"), col("level"), col("label"), ...sets.map((s) => col(s))];
  return { name: "features", columns, rows };
}

const facetText = (v: unknown) => (v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

export function mappingsView(evolutions: ServiceEvolution[]): Table {
  const facetKeys = new Set<string>();
  const rows: Record<string, Cell>[] = [];
  for (const e of evolutions) {
    const names = itemNames(e);
    for (const p of e.plateaus) {
      for (const f of p.features) {
        for (const [set, items] of Object.entries(f.mappings)) {
          for (const m of items) {
            const row: Record<string, Cell> = {
              service_id: e.service.service_id,
              plateau: p.plateau,
              plateau_name: p.plateau_name,
              role: roleOf(f),
              feature_id: f.feature_id,
              feature: f.name,
              set,
              item_id: m.item,
              item: names.get(`${set}:${m.item}`) ?? m.item,
            };
            for (const [k, v] of Object.entries(m.facets ?? {})) {
              facetKeys.add(k);
              row[`facet.${k}`] = facetText(v);
            }
            rows.push(row);
          }
        }
      }
    }
  }
  const facets = [...facetKeys].sort();
  for (const row of rows) for (const k of facets) row[`facet.${k}`] ??= "";
  const columns = [col("service_id"), col("plateau"), col("plateau_name"), col("role"), col("feature_id"), col("feature"), col("set"), col("item_id"), col("item"), ...facets.map((k) => col(`facet.${k}`, k))];
  return { name: "mappings", columns, rows };
}

/** Every role that has a feature, in the order first met. */
export function rolesIn(evolutions: ServiceEvolution[]): string[] {
  const roles: string[] = [];
  for (const e of evolutions) for (const p of e.plateaus) for (const f of p.features) if (!roles.includes(roleOf(f))) roles.push(roleOf(f));
  return roles;
}

export function servicesView(evolutions: ServiceEvolution[]): Table {
  const roles = rolesIn(evolutions);
  const rows: Record<string, Cell>[] = [];
  for (const e of evolutions) {
    for (const p of e.plateaus) {
      const row: Record<string, Cell> = { service_id: e.service.service_id, service: e.service.name, plateau: p.plateau, plateau_name: p.plateau_name };
      for (const r of roles) row[`features.${r}`] = p.features.filter((f) => roleOf(f) === r).length;
      row.features = p.features.length;
      row.average_level = p.features.length ? Number((p.features.reduce((s, f) => s + f.score.level, 0) / p.features.length).toFixed(2)) : "";
      rows.push(row);
    }
  }
  const columns = [col("service_id"), col("service"), col("plateau"), col("plateau_name"), ...roles.map((r) => col(`features.${r}`, `features: ${r}`)), col("features"), col("average_level")];
  return { name: "services", columns, rows };
}

export function buildViews(evolutions: ServiceEvolution[], which: ViewName[]): Table[] {
  const makers = { features: featuresView, mappings: mappingsView, services: servicesView };
  return which.map((v) => makers[v](evolutions));
}
