import type { Dataset } from "../data.ts";
import { roleOf, type ServiceEvolution } from "../schema/evolution.ts";

export interface FacetInfo {
  id: string;
  label: string;
  /** Option id → label, for enum facets. */
  options: Map<string, string>;
  /** An integer or number facet (the data folder says so): its column sorts and sums as numbers. */
  numeric?: boolean;
}

export interface CatalogueInfo {
  field: string;
  label: string;
  facets: FacetInfo[];
  /** Item id → name, in catalogue order when the data folder gave the catalogue. */
  items: Map<string, string>;
  /** True when the data folder gave the whole catalogue, so unused items can be told. */
  complete: boolean;
}

/** Names for ids: roles, plateaus and catalogues, from the data folder and then from the file itself. */
export interface Labels {
  roles: Map<string, string>;
  /** Plateau name → level, in level order. */
  plateaus: Map<string, number>;
  catalogues: Map<string, CatalogueInfo>;
}

export function labelsFromData(data?: Dataset): Labels {
  const labels: Labels = { roles: new Map(), plateaus: new Map(), catalogues: new Map() };
  for (const role of data?.roles ?? []) labels.roles.set(role.role_id, role.name);
  for (const plateau of data?.plateaus ?? []) labels.plateaus.set(plateau.name, plateau.level);
  for (const c of data?.catalogues ?? []) {
    const facets = c.facets.map((f) => ({ id: f.id, label: f.label ?? f.id, options: new Map((f.options ?? []).map((o) => [o.id, o.label ?? o.id])), numeric: f.type === "integer" || f.type === "number" }));
    labels.catalogues.set(c.field, { field: c.field, label: c.label, facets, items: new Map(c.items.map((i) => [i.id, i.name])), complete: true });
  }
  return labels;
}

function catalogue(labels: Labels, field: string): CatalogueInfo {
  let info = labels.catalogues.get(field);
  if (!info) labels.catalogues.set(field, (info = { field, label: field, facets: [], items: new Map(), complete: false }));
  return info;
}

/** Adds what one evolution names that the data folder did not. */
export function learnLabels(labels: Labels, e: ServiceEvolution): void {
  for (const field of e.meta.mapping_types) catalogue(labels, field);
  for (const p of e.plateaus) {
    if (!labels.plateaus.has(p.plateau_name)) labels.plateaus.set(p.plateau_name, p.plateau);
    for (const r of p.roles) if (!labels.roles.has(r.role_id)) labels.roles.set(r.role_id, r.name);
    for (const [field, items] of Object.entries(p.mappings)) {
      const info = catalogue(labels, field);
      for (const i of items) if (!info.items.has(i.id) || info.items.get(i.id) === i.id) info.items.set(i.id, i.name || i.id);
    }
    for (const f of p.features) learnFeature(labels, f);
  }
}

function learnFeature(labels: Labels, f: ServiceEvolution["plateaus"][number]["features"][number]): void {
  const role = roleOf(f);
  if (!labels.roles.has(role)) labels.roles.set(role, f.role?.name ?? role);
  for (const [field, mappings] of Object.entries(f.mappings)) {
    const info = catalogue(labels, field);
    for (const m of mappings) {
      if (!info.items.has(m.item)) info.items.set(m.item, m.item);
      for (const key of Object.keys(m.facets ?? {})) {
        if (!info.facets.some((x) => x.id === key)) info.facets.push({ id: key, label: key, options: new Map() });
      }
    }
  }
}

/** Plateau names in level order. */
export const plateauOrder = (labels: Labels) => [...labels.plateaus].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).map(([name]) => name);

export const roleName = (labels: Labels, id: string) => labels.roles.get(id) ?? id;
export const itemName = (info: CatalogueInfo | undefined, id: string) => info?.items.get(id) ?? id;

/** A facet value as a person reads it: an enum's option label, booleans as yes/no. */
export function facetValue(facet: FacetInfo | undefined, value: unknown): string | number {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  // A number stays one: a spreadsheet sorts and sums it.
  if (typeof value === "number") return value;
  if (typeof value === "object") return JSON.stringify(value);
  return facet?.options.get(String(value)) ?? String(value);
}
