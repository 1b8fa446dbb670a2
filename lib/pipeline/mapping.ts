import { z } from "zod";
import type { AnswerSource } from "../call-spec.ts";
import { mappingPrompt, type MappingFeature } from "../prompts/build.ts";
import type { Catalogue } from "../schema/data.ts";
import { facetsSchema, fitsEnum, mappingResponse, type MappingAnswer } from "../schema/responses.ts";
import { formatIssues } from "../zod-error.ts";
import { fastCheckOf, type FastCheck } from "../zod-fast-check.ts";
import type { PipelineContext } from "./context.ts";

export interface MappedItem {
  item: string;
  facets: Record<string, unknown> | null;
}

/** Parses leniently, so one bad item or facet is dropped (and quarantined), not the whole answer. */
const lenientMapping = z.object({
  mappings: z.array(
    z.object({
      feature_id: z.string(),
      items: z.array(z.object({ item: z.string(), rationale: z.string().optional(), facets: z.record(z.string(), z.unknown()).nullish() })),
    }),
  ),
});

/** One response schema per catalogue and run: the feature ids are pinned per call, outside the schema. */
const perCatalogue = new WeakMap<Catalogue, Map<string, z.ZodType<MappingAnswer>>>();
function schemaOf(catalogue: Catalogue, enumLimit: number, rationale: boolean) {
  let bySettings = perCatalogue.get(catalogue);
  if (!bySettings) perCatalogue.set(catalogue, (bySettings = new Map()));
  const settings = `${enumLimit}:${rationale}`;
  let schema = bySettings.get(settings);
  if (!schema) bySettings.set(settings, (schema = mappingResponse([], catalogue, enumLimit, rationale) as unknown as z.ZodType<MappingAnswer>));
  return schema;
}

/** A catalogue's item ids when they are too many to pin as an enum (`enumLimit`): an offline provider's choices. */
const choicesOf = new WeakMap<Catalogue, { item: string[] }>();
function unpinnedItems(catalogue: Catalogue, enumLimit: number): { item: string[] } | undefined {
  if (fitsEnum(catalogue.items.map((i) => i.id), enumLimit)) return undefined;
  let choices = choicesOf.get(catalogue);
  if (!choices) choicesOf.set(catalogue, (choices = { item: catalogue.items.map((i) => i.id) }));
  return choices;
}

/** What checking an answer needs of a catalogue, built once: its item ids and the facets validator. */
interface CatalogueChecks {
  items: Set<string>;
  facets: z.ZodType | null;
  /** Each facet's validator compiled (lib/zod-fast-check.ts), in the order zod writes them; none when one is not compiled. */
  fastFields?: Array<{ key: string; check: FastCheck; optional: boolean }>;
  /** The same keys sorted, the order the output writes them in. */
  sortedFacetKeys: string[];
  absentOptional: Record<string, null>;
}
const checks = new WeakMap<Catalogue, CatalogueChecks>();
function checksOf(catalogue: Catalogue): CatalogueChecks {
  let found = checks.get(catalogue);
  if (!found) {
    const facets = facetsSchema(catalogue);
    const shape = facets ? ((facets as z.ZodObject).shape as Record<string, z.ZodType>) : {};
    const optional = new Set(catalogue.facets.filter((f) => !f.required).map((f) => f.id));
    const fields = Object.keys(shape).map((key) => ({ key, check: fastCheckOf(shape[key]!)!, optional: optional.has(key) }));
    found = {
      items: new Set(catalogue.items.map((i) => i.id)),
      facets,
      fastFields: fields.every((f) => f.check) ? fields : undefined,
      sortedFacetKeys: Object.keys(shape).sort(),
      absentOptional: Object.fromEntries(catalogue.facets.filter((f) => !f.required).map((f) => [f.id, null])),
    };
    checks.set(catalogue, found);
  }
  return found;
}

/** Kept facets in sorted key order, as the output writes them (as they are, when a key is not the catalogue's). */
function inOutputOrder(check: CatalogueChecks, facets: Record<string, unknown>): Record<string, unknown> {
  const sorted: Record<string, unknown> = {};
  let count = 0;
  for (const key of check.sortedFacetKeys) {
    if (!(key in facets)) continue;
    sorted[key] = facets[key];
    count++;
  }
  for (const _ in facets) count--;
  return count === 0 ? sorted : facets;
}

const withoutNulls = (facets: Record<string, unknown>) => Object.fromEntries(Object.entries(facets).filter(([, v]) => v !== null && v !== undefined));

/**
 * The facets zod would keep (an optional one left out counts as null, nulls are left out), when
 * every value passes its compiled check and no key is unknown; undefined for anything else.
 */
function fastKept(fields: NonNullable<CatalogueChecks["fastFields"]>, facets: Record<string, unknown>): Record<string, unknown> | undefined {
  const kept: Record<string, unknown> = {};
  let unmatched = 0;
  for (const _ in facets) unmatched++;
  for (const { key, check, optional } of fields) {
    if (!(key in facets)) {
      if (optional) continue;
      return undefined;
    }
    unmatched--;
    const value = facets[key];
    if (!check(value)) return undefined;
    if (value !== null) kept[key] = value;
  }
  return unmatched === 0 ? kept : undefined;
}

/**
 * An item's facets as kept (the null ones left out, in the order zod writes them), or why they are
 * invalid. Facets the compiled checks pass are kept without a zod parse, with the same result.
 */
function keptFacets(check: CatalogueChecks, facets: Record<string, unknown> | null | undefined): { ok: true; facets: Record<string, unknown> } | { ok: false; reason: string } {
  const fast = check.fastFields && fastKept(check.fastFields, facets ?? {});
  if (fast) return { ok: true, facets: fast };
  const merged: Record<string, unknown> = { ...check.absentOptional, ...facets };
  const parsed = check.facets!.safeParse(merged);
  return parsed.success ? { ok: true, facets: withoutNulls(parsed.data as Record<string, unknown>) } : { ok: false, reason: formatIssues(parsed.error) };
}

/**
 * Keeps known features and items with valid facets; says what was dropped and why. An optional
 * facet left out counts as null. With `imported` (answers imported from the Python tool), an item
 * without any facets is kept as it is (it may hold none), and an item not in the catalogue is
 * dropped without a problem (the Python tool dropped it and kept the answer).
 */
export function checkMapping(answer: MappingAnswer, featureIds: string[], catalogue: Catalogue, options: { imported?: boolean } = {}) {
  const features = new Set(featureIds);
  const check = checksOf(catalogue);
  const { items, facets } = check;
  const problems: string[] = [];
  const mappings: MappingAnswer["mappings"] = [];
  for (const entry of answer.mappings) {
    if (!features.has(entry.feature_id)) {
      problems.push(`unknown feature_id "${entry.feature_id}"`);
      continue;
    }
    const kept: MappingAnswer["mappings"][number]["items"] = [];
    const seen = new Set<string>();
    for (const mapped of entry.items) {
      if (!items.has(mapped.item)) {
        if (!options.imported) problems.push(`${entry.feature_id}: unknown ${catalogue.field} item "${mapped.item}"`);
        continue;
      }
      if (seen.has(mapped.item)) continue;
      const item: MappingAnswer["mappings"][number]["items"][number] = { item: mapped.item };
      if (mapped.rationale !== undefined) item.rationale = mapped.rationale;
      if (facets && (mapped.facets || !options.imported)) {
        const parsed = keptFacets(check, mapped.facets);
        if (!parsed.ok) {
          problems.push(`${entry.feature_id} → ${mapped.item}: facets.${parsed.reason}`);
          continue;
        }
        item.facets = parsed.facets;
      }
      kept.push(item);
      seen.add(mapped.item);
    }
    mappings.push({ feature_id: entry.feature_id, items: kept });
  }
  return { value: { mappings }, problems };
}

/**
 * A plateau's feature ids and the pins made of them, once per features list: its catalogues'
 * calls share them (the pins' text in the cache key is then written once, lib/response-format.ts).
 * The ids are read when first asked for: a list is not changed after it is mapped.
 */
const pinsByFeatures = new WeakMap<MappingFeature[], { featureIds: string[]; pins: { feature_id: string[] } }>();
function pinsOf(features: MappingFeature[]) {
  let found = pinsByFeatures.get(features);
  if (!found) {
    const featureIds = features.map((f) => f.feature_id);
    pinsByFeatures.set(features, (found = { featureIds, pins: { feature_id: featureIds } }));
  }
  return found;
}

export interface MapFeaturesInput {
  serviceId: string;
  serviceName: string;
  /** The service's description at this plateau: `run` and `map` must send the same one, so `map` hits `run`'s cache. */
  serviceDescription: string;
  plateau: { level: number; name: string };
  features: MappingFeature[];
  catalogue: Catalogue;
  priority: number;
}

/**
 * Stage 3: one call per plateau and catalogue maps that plateau's features to catalogue items.
 * A rationale (`--rationale`) stays in the cached answer; the mappings returned never carry it.
 */
export async function mapFeatures(ctx: PipelineContext, input: MapFeaturesInput): Promise<{ mappings: Map<string, MappedItem[]>; model: string; source?: AnswerSource }> {
  const { featureIds, pins } = pinsOf(input.features);
  // Nothing to map, or nothing to map to (an empty catalogue allowed by `allowEmpty`): no call.
  if (featureIds.length === 0 || input.catalogue.items.length === 0) return { mappings: new Map(), model: "" };
  const result = await ctx.session.call<MappingAnswer>({
    task: ctx.task,
    stage: "mapping",
    serviceId: input.serviceId,
    priority: input.priority,
    messages: mappingPrompt(ctx.domain, {
      catalogue: input.catalogue,
      serviceName: input.serviceName,
      serviceDescription: input.serviceDescription,
      plateau: { level: input.plateau.level, name: input.plateau.name },
      features: input.features,
      rationale: ctx.rationale,
    }),
    schema: schemaOf(input.catalogue, ctx.enumLimit, ctx.rationale),
    pins,
    choices: unpinnedItems(input.catalogue, ctx.enumLimit),
    parseSchema: lenientMapping as z.ZodType<MappingAnswer>,
    schemaName: `${input.catalogue.field.replace(/[^\w-]/g, "_")}_mapping`,
    check: (answer) => checkMapping(answer, featureIds, input.catalogue),
    importedCheck: (answer) => checkMapping(answer, featureIds, input.catalogue, { imported: true }),
    imported: { plateau: input.plateau, field: input.catalogue.field },
  });
  const check = checksOf(input.catalogue);
  const mappings = new Map<string, MappedItem[]>();
  for (const entry of result.value.mappings) {
    const list = mappings.get(entry.feature_id) ?? [];
    for (const m of entry.items) if (!list.some((x) => x.item === m.item)) list.push({ facets: m.facets ? inOutputOrder(check, m.facets) : null, item: m.item });
    mappings.set(entry.feature_id, list);
  }
  return { mappings, model: result.model, source: result.source };
}
