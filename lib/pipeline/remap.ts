import type { Catalogue, Role } from "../schema/data.ts";
import type { Service } from "../schema/service.ts";
import { roleOf, type Feature, type ServiceEvolution } from "../schema/evolution.ts";
import type { PipelineContext } from "./context.ts";
import { buildEvolution, byId, compareFeatures, type PlateauFeature, type PlateauParts } from "./evolution.ts";
import { isRecord } from "../is-record.ts";
import { levelOf, type MapInput } from "./map-input.ts";
import { mapFeatures, type MappedItem } from "./mapping.ts";
import { provenance } from "./provenance.ts";
import { allSettled, answerSet, stagePriority, type AnswerSet } from "./service.ts";
import { createGaps, GAPS_KEY, type Gaps } from "./gaps.ts";

/** A feature as the output carries it: keys the Python tool's model does not know are left behind. */
function toPlateauFeature(f: Feature): PlateauFeature {
  const { feature_id, name, description, score } = f;
  return { feature_id, name, description, role: roleOf(f), score: { justification: score.justification, label: score.label, level: score.level } };
}

/** The string entries of a `models` record (the Python tool's `meta.models` is string to string). */
const stringsOnly = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(isRecord(value) ? value : {}).filter((e): e is [string, string] => typeof e[1] === "string"));

/** The input line's gaps that this map does not fill: all but the mappings of the catalogues it maps. */
const gapsNotMapped = (gaps: string | undefined, mapped: Catalogue[]): string[] =>
  (gaps ?? "").split(", ").filter((label) => label && !mapped.some((c) => label.startsWith("mapping ") && label.endsWith(` ${c.field}`)));

/** Plateaus as `{level, name, description, features}`, whichever input form. */
function plateausOf(input: MapInput, plateauNames: Map<number, string>) {
  if (input.kind === "evolution") {
    return input.evolution.plateaus.map((p) => ({ level: p.plateau, name: p.plateau_name, description: p.service_description, features: p.features, itemNames: p.mappings }));
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
    description: input.record.descriptions?.[level] ?? "",
    features,
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

type SourcePlateau = ReturnType<typeof plateausOf>[number];

/**
 * The mapping calls `remap` makes for a record: one per plateau it holds features in and
 * catalogue with items (`mapFeatures` makes none for the others).
 */
export function remapCalls(input: MapInput, scope: { plateauNames: Map<number, string>; catalogues: Catalogue[] }): number {
  const plateaus = plateausOf(input, scope.plateauNames).filter((p) => p.features.length > 0).length;
  return plateaus * scope.catalogues.filter((c) => c.items.length > 0).length;
}

/**
 * Where one record sits in the run: its position (priority), the run's id and start (for a record
 * that made no call), catalogue hash, plateau names by level.
 */
export interface RemapRun {
  position: number;
  runId: string;
  created: string;
  /** Over every set of the config, not only those mapped (`configCatalogueHash`). */
  catalogueHash: string;
  plateauNames: Map<number, string>;
}

/** Catalogues the input already maps and this run does not: carried over as they are. */
function carriedCatalogues(plateaus: SourcePlateau[], selected: Set<string>): Map<string, Catalogue> {
  const carried = new Map<string, Catalogue>();
  for (const p of plateaus) {
    for (const f of p.features) for (const field of Object.keys(f.mappings)) if (!selected.has(field) && !carried.has(field)) carried.set(field, { field, label: field, facets: [], items: [] });
    for (const [field, items] of Object.entries(p.itemNames)) {
      const c = carried.get(field);
      if (c) for (const i of items) if (!c.items.some((x) => x.id === i.id)) c.items.push({ id: i.id, name: i.name, description: "" });
    }
  }
  return carried;
}

/** One plateau mapped to every chosen catalogue at once (the calls are independent); carried catalogues kept. */
async function remapPlateau(ctx: PipelineContext, p: SourcePlateau, scope: { service: Service; carried: Map<string, Catalogue>; position: number; answers: AnswerSet; gaps: Gaps }): Promise<PlateauParts> {
  const { service } = scope;
  const features = p.features.map(toPlateauFeature).sort(compareFeatures);
  const mapped = await allSettled(
    ctx.data.catalogues.map(async (catalogue) => {
      const mapping = mapFeatures(ctx, { serviceId: service.service_id, serviceName: service.name, serviceDescription: p.description, plateau: p, features, catalogue, priority: stagePriority("mapping", scope.position) });
      const result = await scope.gaps.fill<Awaited<typeof mapping>>(`mapping ${p.name} ${catalogue.field}`, mapping, () => ({ mappings: new Map(), model: "" }));
      scope.answers.add("mapping", result);
      return [catalogue.field, result.mappings] as const;
    }),
  );
  const mappings: Record<string, Map<string, MappedItem[]>> = Object.fromEntries(mapped);
  for (const field of scope.carried.keys()) mappings[field] = new Map(p.features.map((f) => [f.feature_id, (f.mappings[field] ?? []).map((m) => ({ item: m.item, facets: m.facets ?? null }))]));
  return { level: p.level, name: p.name, description: p.description, features, mappings };
}

/**
 * Maps the features of one evolution (or feature record) to the chosen catalogues through the
 * session, and rebuilds a complete evolution. Catalogues not being mapped keep the mappings they had.
 */
export async function remap(ctx: PipelineContext, input: MapInput, run: RemapRun): Promise<ServiceEvolution> {
  const service = input.kind === "evolution" ? input.evolution.service : input.record.service;
  const plateaus = plateausOf(input, run.plateauNames);
  const answers = answerSet();
  const gaps = createGaps(ctx.log, service.service_id);
  const carried = carriedCatalogues(plateaus, new Set(ctx.data.catalogues.map((c) => c.field)));
  const parts = await allSettled(plateaus.map((p) => remapPlateau(ctx, p, { service, carried, position: run.position, answers, gaps })));
  const catalogues = [...ctx.data.catalogues, ...[...carried.values()].sort((a, b) => byId(a.field, b.field))];
  const previous = input.kind === "evolution" ? input.evolution.meta : undefined;
  const { models: oldModels, seed } = previous ?? ({} as Record<string, unknown>);
  const { [GAPS_KEY]: oldGaps, ...kept } = stringsOnly(oldModels);
  return buildEvolution({
    service,
    roles: rolesFor(input, ctx.data.roles),
    catalogues,
    plateaus: parts,
    meta: {
      ...provenance(run, answers.sources),
      seed: typeof seed === "number" ? seed : null,
      catalogueHash: run.catalogueHash,
      models: { ...kept, ...answers.toJSON(), ...gaps.meta(gapsNotMapped(oldGaps, ctx.data.catalogues)) },
    },
  });
}
