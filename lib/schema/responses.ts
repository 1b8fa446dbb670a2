import { z } from "zod";
import type { Catalogue, Facet } from "./data.ts";

/**
 * Whether values fit one enum: at most `limit` of them, and within OpenAI's size limit for strict
 * schemas (past 250 values, their text may not exceed 7,500 characters in all; the API refuses more).
 */
export function fitsEnum(values: string[], limit: number): boolean {
  const unique = [...new Set(values)];
  if (unique.length === 0 || unique.length > limit) return false;
  return unique.length <= 250 || unique.reduce((sum, v) => sum + v.length, 0) <= 7_500;
}

/** A non-empty enum when the values fit, otherwise a plain string checked after the answer. */
function pinned(values: string[], limit: number): z.ZodType<string> {
  return fitsEnum(values, limit) ? z.enum([...new Set(values)] as [string, ...string[]]) : z.string();
}

/** Stage 1: one description per plateau. */
export function descriptionsResponse(plateauNames: string[]) {
  return z.strictObject({
    descriptions: z.array(
      z.strictObject({
        plateau_name: z.enum(plateauNames as [string, ...string[]]),
        description: z.string().min(1),
      }),
    ),
  });
}
export type DescriptionsAnswer = z.infer<ReturnType<typeof descriptionsResponse>>;

/** Stage 2: features for every role at one plateau. */
export function featuresResponse(roleIds: string[]) {
  return z.strictObject({
    features: z.array(
      z.strictObject({
        role: z.enum(roleIds as [string, ...string[]]),
        name: z.string().min(1),
        description: z.string().min(1),
        score: z.strictObject({
          level: z.int().min(1).max(5),
          justification: z.string(),
        }),
      }),
    ),
  });
}
export type FeaturesAnswer = z.infer<ReturnType<typeof featuresResponse>>;

function facetValue(facet: Facet): z.ZodType {
  const base =
    facet.type === "enum"
      ? z.enum((facet.options ?? []).map((o) => o.id) as [string, ...string[]])
      : facet.type === "integer"
        ? z.int()
        : facet.type === "number"
          ? z.number()
          : facet.type === "boolean"
            ? z.boolean()
            : z.string();
  // Strict structured outputs need every key present: an optional facet is nullable instead.
  return facet.required ? base : base.nullable();
}

/** The facets object a mapping into `catalogue` must carry, or null when it declares none. */
export function facetsSchema(catalogue: Catalogue): z.ZodType | null {
  if (catalogue.facets.length === 0) return null;
  return z.strictObject(Object.fromEntries(catalogue.facets.map((f) => [f.id, facetValue(f)])));
}

/** Stage 3: the catalogue items for each of one plateau's features. */
export function mappingResponse(featureIds: string[], catalogue: Catalogue, enumLimit: number, rationale = false) {
  const facets = facetsSchema(catalogue);
  const item = pinned(catalogue.items.map((i) => i.id), enumLimit);
  const entry = z.strictObject({ item, ...(rationale ? { rationale: z.string().min(1) } : {}), ...(facets ? { facets } : {}) });
  return z.strictObject({
    mappings: z.array(z.strictObject({ feature_id: pinned(featureIds, Number.POSITIVE_INFINITY), items: z.array(entry) })),
  });
}
export interface MappingAnswer {
  /** `rationale` only when it was asked for (`--rationale`): kept in the cache, never in the output. */
  mappings: Array<{ feature_id: string; items: Array<{ item: string; rationale?: string; facets?: Record<string, unknown> }> }>;
}
