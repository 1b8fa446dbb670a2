import { SAError } from "../errors.ts";
import type { EvolutionSource } from "../export/source.ts";
import { sha256Hex } from "../hash.ts";
import { printable } from "../printable.ts";
import { roleOf, type ServiceEvolution } from "../schema/evolution.ts";
import { normaliseName } from "./checks.ts";

/** What `diff` compares of a feature; the rest (ids of runs, dates) is not a difference. */
export interface FeatureView {
  id: string;
  name: string;
  role: string;
  level: number;
  description: string;
  justification: string;
  /** `catalogue:item`, sorted. */
  mappings: string[];
  /**
   * A short hash of each mapping's facets ("" when it has none), in `mappings`' order: facets can
   * be most of a file, and two whole files are held here. Those that changed are read again
   * (`fillFacetChanges`).
   */
  facets: string[];
}
export type Facets = Record<string, unknown> | null;
interface PlateauView {
  name: string;
  order: number;
  description: string;
  features: FeatureView[];
}
export interface ServiceView {
  id: string;
  name: string;
  plateaus: Map<string, PlateauView>;
}

/** Facets with their keys sorted, so the same facets in another order are the same; `{}` is none. */
export const sortedFacets = (facets: Facets | undefined): Facets =>
  facets && Object.keys(facets).length ? Object.fromEntries(Object.entries(facets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : null;

const facetsHash = (facets: Facets | undefined) => {
  const sorted = sortedFacets(facets);
  return sorted ? sha256Hex(JSON.stringify(sorted)).slice(0, 16) : "";
};

function project(e: ServiceEvolution): ServiceView {
  const plateaus = new Map<string, PlateauView>();
  for (const p of e.plateaus) {
    const features = p.features.map((f) => {
      const mapped = Object.entries(f.mappings).flatMap(([catalogue, list]) => list.map((m) => [`${catalogue}:${m.item}`, facetsHash(m.facets)] as const));
      const view = { id: f.feature_id, name: f.name, role: roleOf(f), level: f.score.level, description: f.description, justification: f.score.justification };
      // By item, then facets: an item a model named twice, with other facets, has one order.
      mapped.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
      return { ...view, mappings: mapped.map(([key]) => key), facets: mapped.map(([, hash]) => hash) };
    });
    plateaus.set(p.plateau_name, { name: p.plateau_name, order: p.plateau, description: p.service_description, features });
  }
  return { id: e.service.service_id, name: e.service.name, plateaus };
}

/** A service on a second line: the first pass has just noted both lines (`source.repeated`). */
function twice(source: EvolutionSource, id: string): SAError {
  const [first, again] = source.repeated.get(id) ?? [];
  const where = again === undefined ? "" : `:${again}`;
  const seen = first === undefined ? "appears twice" : `is on line ${first} too`;
  return new SAError("E_INPUT_UNREADABLE", `input ${source.path}${where}: service ${printable(id)} ${seen}; diff compares one line per service`);
}

/** Reads an evolutions file for `diff` (the caller disposes it): any bad line or repeated service is bad input (exit 2). */
export async function readServices(source: EvolutionSource): Promise<Map<string, ServiceView>> {
  const services = new Map<string, ServiceView>();
  for await (const e of source.read()) {
    if (services.has(e.service.service_id)) throw twice(source, e.service.service_id);
    services.set(e.service.service_id, project(e));
  }
  if (source.badLines.length) throw new SAError("E_INPUT_UNREADABLE", `input ${source.badLines[0]}${source.badLines.length > 1 ? ` (and ${source.badLines.length - 1} more bad lines)` : ""}`);
  return services;
}

export interface Change<T> {
  old: T;
  new: T;
}
export interface FeatureChange {
  feature_id: string;
  name: string;
  changes: Partial<Record<"feature_id" | "name" | "role" | "level" | "description" | "justification", Change<string | number>>>;
  /** `changed`: a mapping in both files whose facets differ. */
  mappings: { added: string[]; removed: string[]; changed: FacetChange[] };
}
export interface FacetChange extends Change<Facets> {
  mapping: string;
}
export interface PlateauDiff {
  plateau: string;
  status: "added" | "removed" | "changed";
  description?: Change<string>;
  features: { added: FeatureView[]; removed: FeatureView[]; changed: FeatureChange[] };
  mappings: { added: string[]; removed: string[]; changed: string[] };
}
export interface ServiceDiff {
  service_id: string;
  name: string;
  status: "added" | "removed" | "changed";
  /** What changed of the service itself: its name (a changed service may have no plateau changed). */
  changes?: { name: Change<string> };
  plateaus: PlateauDiff[];
}

/**
 * Pairs features by id first, then by name (same words, any case) for the same role, then by name
 * alone (a feature whose role changed), within one plateau: one name may serve two roles.
 */
export function matchFeatures(olds: FeatureView[], news: FeatureView[]): { pairs: Array<[FeatureView, FeatureView]>; added: FeatureView[]; removed: FeatureView[] } {
  const pairs: Array<[FeatureView, FeatureView]> = [];
  const left = [...olds];
  const right = [...news];
  const keys = [(f: FeatureView) => f.id, (f: FeatureView) => `${f.role}\u0000${normaliseName(f.name)}`, (f: FeatureView) => normaliseName(f.name)];
  for (const key of keys) {
    for (const o of [...left]) {
      const i = right.findIndex((n) => key(n) === key(o));
      if (i < 0) continue;
      pairs.push([o, right[i]!]);
      right.splice(i, 1);
      left.splice(left.indexOf(o), 1);
    }
  }
  return { pairs, added: right, removed: left };
}

const fields = ["feature_id", "name", "role", "level", "description", "justification"] as const;
const valueOf = (f: FeatureView, field: (typeof fields)[number]) => (field === "feature_id" ? f.id : f[field]);

/**
 * Mappings added, removed, and kept with other facets. An item a model named twice is matched
 * whole (item and facets) first, then by item alone, so the same mappings in another order are
 * no change.
 */
function compareMappings(o: FeatureView, n: FeatureView): FeatureChange["mappings"] {
  const olds = o.mappings.map((mapping, i) => ({ mapping, facets: o.facets[i]! }));
  const news = n.mappings.map((mapping, i) => ({ mapping, facets: n.facets[i]! }));
  const take = (match: (x: (typeof olds)[number]) => boolean) => {
    const i = olds.findIndex(match);
    return i < 0 ? undefined : olds.splice(i, 1)[0];
  };
  const unmatched = news.filter((m) => !take((x) => x.mapping === m.mapping && x.facets === m.facets));
  const changed = unmatched.filter((m) => take((x) => x.mapping === m.mapping));
  return {
    added: unmatched.filter((m) => !changed.includes(m)).map((m) => m.mapping),
    removed: olds.map((m) => m.mapping),
    // The facets themselves are read back by fillFacetChanges.
    changed: changed.map((m) => ({ mapping: m.mapping, old: null, new: null })),
  };
}

export function compareFeature(o: FeatureView, n: FeatureView): FeatureChange | undefined {
  const changes: FeatureChange["changes"] = {};
  for (const field of fields) if (valueOf(o, field) !== valueOf(n, field)) changes[field] = { old: valueOf(o, field), new: valueOf(n, field) };
  const mappings = compareMappings(o, n);
  if (!Object.keys(changes).length && !mappings.added.length && !mappings.removed.length && !mappings.changed.length) return undefined;
  return { feature_id: n.id, name: n.name, changes, mappings };
}
