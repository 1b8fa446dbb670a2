import type { Catalogue, Role } from "../schema/data.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import type { Service } from "../schema/service.ts";
import { assignCode } from "./feature-id.ts";
import type { MappedItem } from "./mapping.ts";
import { canonical, markCanonical } from "../jsonl.ts";

export const SCHEMA_VERSION = "1.0";

export interface PlateauFeature {
  feature_id: string;
  name: string;
  description: string;
  role: string;
  score: { level: number; label: string; justification: string };
}

export interface PlateauParts {
  level: number;
  name: string;
  description: string;
  features: PlateauFeature[];
  /** catalogue field → feature id → mapped items */
  mappings: Record<string, Map<string, MappedItem[]>>;
}

export interface EvolutionMeta {
  runId: string;
  seed: number | null;
  models: Record<string, string>;
  created: string;
  catalogueHash: string;
}

/** Hash of the catalogues a run mapped against, the same value the Python tool writes. */
export { catalogueHash } from "../catalogue-hash.ts";
import { byCodePoint } from "../catalogue-hash.ts";

/**
 * A role as the output carries it. The Python tool's `Role` needs a non-empty description, so a
 * role that has none is described by its name.
 *
 * Every object of an evolution is built with its keys in sorted order, the order canonical JSON
 * writes them in: the writer's walk then copies nothing (lib/jsonl.ts `canonicalJson`).
 */
const roleView = (r: Role) => ({ description: r.description || r.name, name: r.name, role_id: r.role_id });

/** Code-point order: the same everywhere, whatever the locale. */
export const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The one order of a plateau's features: by role, name, then id. The mapping prompt and its
 * schema list features in this order too, so `map` on an evolution asks exactly what `run` asked
 * (and hits its cache).
 */
export const compareFeatures = (a: { role: string; name: string; feature_id: string }, b: typeof a) =>
  byId(a.role, b.role) || byId(a.name, b.name) || byId(a.feature_id, b.feature_id);

type EvolutionInput = { service: Service; meta: EvolutionMeta; plateaus: PlateauParts[]; roles: Role[]; catalogues: Catalogue[] };
/**
 * What assembling one evolution shares across its plateaus: the input, roles by id, the codes
 * taken, and the catalogues in the order of their fields (records keyed by field are made in key order).
 */
type Assembly = { input: EvolutionInput; roleViews: Map<string, ReturnType<typeof roleView>>; taken: Set<string>; catalogues: Catalogue[] };
type ItemUsers = { id: string; name: string; mappings: { feature_id: string; description: string }[] };

/** One entry per item (the last one given), sorted by item. */
function uniqueByItem(items: MappedItem[]): MappedItem[] {
  if (items.length < 2) return items;
  // A stable sort keeps equal items in the order given: the last of each run wins.
  const sorted = [...items].sort((a, b) => byId(a.item, b.item));
  const unique: MappedItem[] = [];
  for (const m of sorted) {
    if (unique.length > 0 && unique[unique.length - 1]!.item === m.item) unique[unique.length - 1] = m;
    else unique.push(m);
  }
  return unique;
}

/** One feature of a plateau as the output writes it; a code that clashes with an earlier plateau's is salted. */
function featureView({ catalogues, roleViews, taken }: Assembly, p: PlateauParts, f: PlateauParts["features"][number]) {
  let id = f.feature_id;
  if (taken.has(id)) id = assignCode(p.name, f.role, f.name, taken);
  else taken.add(id);
  const mappings: Record<string, MappedItem[]> = {};
  for (const catalogue of catalogues) {
    // Items come from answers or from an earlier file: each in canonical order (as it is, when it is).
    mappings[catalogue.field] = uniqueByItem(p.mappings[catalogue.field]?.get(f.feature_id) ?? []).map((m) => canonical(m));
  }
  // One view per role, shared by its features (the same bytes once written).
  const role = roleViews.get(f.role);
  const score = { justification: f.score.justification, label: f.score.label, level: f.score.level };
  return { customer_type: f.role, description: f.description, feature_id: id, mappings, name: f.name, ...(role ? { role } : {}), score };
}

/** Each catalogue's item names by id, once per catalogue. */
const itemNames = new WeakMap<Catalogue, Map<string, string>>();
function namesOf(catalogue: Catalogue): Map<string, string> {
  let names = itemNames.get(catalogue);
  if (!names) itemNames.set(catalogue, (names = new Map(catalogue.items.map((i) => [i.id, i.name]))));
  return names;
}

/** Per catalogue, each item and the features of the plateau that use it. */
function itemUsers(catalogues: Catalogue[], features: ReturnType<typeof featureView>[]): Record<string, ItemUsers[]> {
  const mappings: Record<string, ItemUsers[]> = {};
  // A feature appears the same way under every item it uses: one object each, shared.
  const asUser = features.map((f) => ({ description: f.description, feature_id: f.feature_id }));
  for (const catalogue of catalogues) {
    const users = new Map<string, { feature_id: string; description: string }[]>();
    features.forEach((f, i) => {
      for (const m of f.mappings[catalogue.field] ?? []) {
        const list = users.get(m.item);
        if (list) list.push(asUser[i]!);
        else users.set(m.item, [asUser[i]!]);
      }
    });
    const names = namesOf(catalogue);
    mappings[catalogue.field] = [...users.entries()]
      .sort(([a], [b]) => byId(a, b))
      .map(([id, list]) => ({ id, mappings: list.sort((a, b) => byId(a.feature_id, b.feature_id)), name: names.get(id) ?? id }));
  }
  return mappings;
}

/** One plateau of the output: its features (sorted), the same by role, and the catalogue items' users. */
function plateauView(assembly: Assembly, p: PlateauParts) {
  const { input } = assembly;
  const features = p.features.map((f) => featureView(assembly, p, f));
  // compareFeatures' order, with the role under its output name.
  features.sort((a, b) => byId(a.customer_type, b.customer_type) || byId(a.name, b.name) || byId(a.feature_id, b.feature_id));
  const roles = input.roles.map((r) => {
    const { description, name, role_id } = roleView(r);
    return { description, features: features.filter((f) => f.customer_type === r.role_id), name, role_id };
  });
  return { features, mappings: itemUsers(assembly.catalogues, features), plateau: p.level, plateau_name: p.name, roles, service_description: p.description };
}

/**
 * Assembles one ServiceEvolution (schema 1.0), with only the keys the Python tool's model allows. Every list is sorted and deduplicated, so the
 * same answers always give the same bytes once written as canonical JSON. Every object is made in
 * canonical key order (what comes from outside, the service, models and facets, put in it), and
 * the evolution is marked so, so it is written without a walk: change it only with `withFingerprint`.
 */
export function buildEvolution(input: EvolutionInput): ServiceEvolution {
  // Codes are unique within a plateau; a clash with an earlier plateau is salted, plateaus in level order.
  const catalogues = [...input.catalogues].sort((a, b) => (a.field < b.field ? -1 : a.field > b.field ? 1 : 0));
  const assembly: Assembly = { input, roleViews: new Map(input.roles.map((r) => [r.role_id, roleView(r)])), taken: new Set(), catalogues };
  const plateaus = [...input.plateaus].sort((a, b) => a.level - b.level).map((p) => plateauView(assembly, p));
  return markCanonical({
    meta: {
      catalogue_hash: input.meta.catalogueHash,
      context_window: 0,
      created: input.meta.created,
      diagnostics: false,
      mapping_types: [...new Set(input.catalogues.map((c) => c.field))].sort(byCodePoint),
      models: canonical(input.meta.models),
      run_id: input.meta.runId,
      schema_version: SCHEMA_VERSION,
      seed: input.meta.seed,
      web_search: false,
    },
    plateaus,
    service: canonical(input.service),
  } as unknown as ServiceEvolution);
}

/** The evolution's models with the fingerprint of its inputs added, still in canonical order. */
export function withFingerprint(evolution: ServiceEvolution, fingerprint: string): void {
  evolution.meta.models = canonical({ ...evolution.meta.models, fingerprint });
}
