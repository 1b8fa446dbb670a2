import { z } from "zod";
import type { Catalogue, Role } from "../schema/data.ts";
import { evolutionSchema, featureSchema, roleOf, type Feature, type ServiceEvolution } from "../schema/evolution.ts";
import { serviceSchema } from "../schema/service.ts";
import { formatIssues } from "../zod-error.ts";
import type { PipelineContext } from "./context.ts";
import { buildEvolution, byId, catalogueHash, compareFeatures, type PlateauFeature, type PlateauParts } from "./evolution.ts";
import { mapFeatures, type MappedItem } from "./mapping.ts";
import { allSettled, stagePriority } from "./service.ts";

/** `{service, features[]}`: features with the plateau they belong to (level and/or name). */
export const featureRecordSchema = z.looseObject({
  service: serviceSchema,
  features: z.array(featureSchema.extend({ plateau: z.number().int().positive().optional(), plateau_name: z.string().optional() })),
});

export type MapInput = { kind: "evolution"; evolution: ServiceEvolution } | { kind: "features"; record: z.infer<typeof featureRecordSchema> };

/** A feature record's plateau level: its own, or the level of its known plateau name. */
const levelOf = (f: { plateau?: number; plateau_name?: string }, plateauNames: Map<number, string>) =>
  f.plateau ?? [...plateauNames].find(([, name]) => name === f.plateau_name)?.[0];

/** An evolution (ours or the Python tool's) or a feature record; anything else is a bad line. */
export function parseMapInput(value: unknown, plateauNames: Map<number, string>): { ok: true; item: MapInput; serviceId: string } | { ok: false; reason: string } {
  const isEvolution = !!value && typeof value === "object" && "plateaus" in value;
  if (isEvolution) {
    const parsed = evolutionSchema.safeParse(value);
    return parsed.success ? { ok: true, item: { kind: "evolution", evolution: parsed.data }, serviceId: parsed.data.service.service_id } : { ok: false, reason: formatIssues(parsed.error) };
  }
  const parsed = featureRecordSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error) };
  for (const [i, f] of parsed.data.features.entries()) {
    if (levelOf(f, plateauNames) === undefined) return { ok: false, reason: `features.${i}.plateau: a plateau level or a known plateau_name is needed` };
  }
  return { ok: true, item: { kind: "features", record: parsed.data }, serviceId: parsed.data.service.service_id };
}

function toPlateauFeature(f: Feature): PlateauFeature {
  const { feature_id, name, description, score, customer_type: _c, role: _r, mappings: _m, plateau: _p, plateau_name: _pn, ...extra } = f as Feature & { plateau?: unknown; plateau_name?: unknown };
  return { feature_id, name, description, role: roleOf(f), score, extra };
}

/** Plateaus as `{level, name, description, features}`, whichever input form. */
function plateausOf(input: MapInput, plateauNames: Map<number, string>) {
  if (input.kind === "evolution") {
    return input.evolution.plateaus.map((p) => ({ level: p.plateau, name: p.plateau_name, description: p.service_description, features: p.features, extra: p, itemNames: p.mappings }));
  }
  const byLevel = new Map<number, Feature[]>();
  for (const f of input.record.features) {
    // parseMapInput already refused features whose level cannot be told.
    const level = levelOf(f, plateauNames)!;
    byLevel.set(level, [...(byLevel.get(level) ?? []), f]);
  }
  return [...byLevel.entries()].sort(([a], [b]) => a - b).map(([level, features]) => ({
    level,
    name: String(features[0]?.plateau_name ?? plateauNames.get(level) ?? `Plateau ${level}`),
    description: "",
    features,
    extra: {},
    itemNames: {} as Record<string, Array<{ id: string; name: string }>>,
  }));
}

/** Roles for the output: the data folder's, else those the features carry, else bare ids. */
function rolesFor(input: MapInput, dataRoles: Role[]): Role[] {
  if (dataRoles.length) return dataRoles;
  const found = new Map<string, Role>();
  const features = input.kind === "evolution" ? input.evolution.plateaus.flatMap((p) => p.features) : input.record.features;
  for (const f of features) {
    const id = roleOf(f);
    if (id && !found.has(id)) found.set(id, f.role ? { role_id: id, name: f.role.name, description: f.role.description } : { role_id: id, name: id, description: "" });
  }
  return [...found.values()].sort((a, b) => byId(a.role_id, b.role_id));
}

/**
 * Maps the features of one evolution (or feature record) to the chosen catalogues through the
 * session, and rebuilds a complete evolution. Sets not being mapped keep the mappings they had.
 */
export async function remap(ctx: PipelineContext, input: MapInput, position: number, runId: string, created: string, plateauNames: Map<number, string>): Promise<ServiceEvolution> {
  const service = input.kind === "evolution" ? input.evolution.service : input.record.service;
  const selected = new Set(ctx.data.catalogues.map((c) => c.field));
  const plateaus = plateausOf(input, plateauNames);
  const models = new Set<string>();

  // Sets the input already maps and this run does not: carried over as they are.
  const carried = new Map<string, Catalogue>();
  for (const p of plateaus) {
    for (const f of p.features) for (const field of Object.keys(f.mappings)) if (!selected.has(field) && !carried.has(field)) carried.set(field, { field, label: field, facets: [], items: [] });
    for (const [field, items] of Object.entries(p.itemNames)) {
      const c = carried.get(field);
      if (c) for (const i of items) if (!c.items.some((x) => x.id === i.id)) c.items.push({ id: i.id, name: i.name, description: "" });
    }
  }

  // Every plateau and set at once: the calls are independent.
  const parts = await allSettled(plateaus.map(async (p): Promise<PlateauParts> => {
    const features = p.features.map(toPlateauFeature).sort(compareFeatures);
    const mapped = await allSettled(
      ctx.data.catalogues.map(async (catalogue) => {
        const result = await mapFeatures(ctx, { serviceId: service.service_id, serviceName: service.name, serviceDescription: p.description, plateau: p, features, catalogue, priority: stagePriority("mapping", position) });
        if (result.model) models.add(result.model);
        return [catalogue.field, result.mappings] as const;
      }),
    );
    const mappings: Record<string, Map<string, MappedItem[]>> = Object.fromEntries(mapped);
    for (const field of carried.keys()) mappings[field] = new Map(p.features.map((f) => [f.feature_id, (f.mappings[field] ?? []).map((m) => ({ item: m.item, facets: m.facets ?? null }))]));
    const { plateau: _l, plateau_name: _n, service_description: _d, features: _f, roles: _r, mappings: _m, ...extra } = p.extra as Record<string, unknown>;
    return { level: p.level, name: p.name, description: p.description, features, mappings, extra };
  }));

  const catalogues = [...ctx.data.catalogues, ...[...carried.values()].sort((a, b) => byId(a.field, b.field))];
  const previous = input.kind === "evolution" ? input.evolution.meta : undefined;
  const { schema_version: _v, run_id: _id, models: oldModels, mapping_types: _t, catalogue_hash: _h, created: _c, seed, ...metaExtra } = previous ?? ({} as Record<string, unknown>);
  return buildEvolution({
    service,
    roles: rolesFor(input, ctx.data.roles),
    catalogues,
    plateaus: parts,
    meta: {
      runId,
      created,
      seed: typeof seed === "number" ? seed : null,
      catalogueHash: catalogueHash(ctx.data.catalogues),
      models: { ...(oldModels as Record<string, string> | undefined), ...(models.size ? { mapping: [...models].sort().join(",") } : {}) },
      extra: metaExtra,
    },
  });
}
