import { z } from "zod";
import type { DescriptionsAnswer, FeaturesAnswer, MappingAnswer } from "./schema/responses.ts";

/*
 * The Python tool's answer shapes, as its cache files hold them, turned into ours. Each converter
 * also takes an answer already in our shape, so a cache written by either tool imports the same way.
 */

const descriptionsSchema = z.looseObject({
  descriptions: z.array(z.looseObject({ plateau: z.number().optional(), plateau_name: z.string(), description: z.string() })),
});

/** `{descriptions: [{plateau, plateau_name, description}]}` → `{descriptions: [{plateau_name, description}]}`. */
export function toDescriptionsAnswer(raw: unknown): DescriptionsAnswer | string {
  const parsed = descriptionsSchema.safeParse(raw);
  if (!parsed.success) return "not a descriptions answer ({descriptions: [{plateau_name, description}]})";
  return { descriptions: parsed.data.descriptions.map((d) => ({ plateau_name: d.plateau_name, description: d.description })) };
}

const pythonFeatureSchema = z.looseObject({
  name: z.string(),
  description: z.string(),
  score: z.looseObject({ level: z.number(), justification: z.string().default("") }),
});
const featuresSchema = z.union([
  z.looseObject({ features: z.record(z.string(), z.array(pythonFeatureSchema)) }),
  z.looseObject({ features: z.array(pythonFeatureSchema.extend({ role: z.string() })) }),
]);

/** `{features: {<role_id>: [{name, description, score: {level, label, justification}}]}}` → a list with `role`. */
export function toFeaturesAnswer(raw: unknown): FeaturesAnswer | string {
  const parsed = featuresSchema.safeParse(raw);
  if (!parsed.success) return "not a features answer ({features: {<role_id>: [{name, description, score}]}})";
  const byRole = parsed.data.features;
  const list = Array.isArray(byRole) ? byRole : Object.entries(byRole).flatMap(([role, features]) => features.map((f) => ({ ...f, role })));
  return {
    features: list.map((f) => ({ role: f.role, name: f.name, description: f.description, score: { level: f.score.level, justification: f.score.justification } })),
  };
}

const contributionSchema = z.looseObject({ item: z.string(), facets: z.record(z.string(), z.unknown()).nullish() });
type Contribution = z.infer<typeof contributionSchema>;
const mappingFeatureSchema = z.looseObject({ feature_id: z.string() });
const ourMappingSchema = z.looseObject({ mappings: z.array(z.looseObject({ feature_id: z.string(), items: z.array(contributionSchema) })) });

/** A Python feature's contributions for `field`: under `mappings.<field>`, or the flat `<field>` key. */
function contributionsOf(feature: Record<string, unknown>, field: string): Contribution[] | undefined {
  const nested = feature.mappings;
  const list = nested && typeof nested === "object" && !Array.isArray(nested) ? (nested as Record<string, unknown>)[field] : Array.isArray(nested) ? nested : feature[field];
  const parsed = z.array(contributionSchema).safeParse(list ?? []);
  return parsed.success ? parsed.data : undefined;
}

/** Our item: the id, and the facets when there are any (a Python answer writes `facets: null`). */
const toItem = (c: Contribution) => (c.facets ? { item: c.item, facets: c.facets } : { item: c.item });

/** `{features: [{feature_id, mappings: {<field>: [{item, facets}]}}]}` → `{mappings: [{feature_id, items}]}`. */
export function toMappingAnswer(raw: unknown, field: string): MappingAnswer | string {
  const ours = ourMappingSchema.safeParse(raw);
  if (ours.success) return { mappings: ours.data.mappings.map((m) => ({ feature_id: m.feature_id, items: m.items.map(toItem) })) };
  const features = z.looseObject({ features: z.array(mappingFeatureSchema) }).safeParse(raw);
  if (!features.success) return `not a mapping answer ({features: [{feature_id, mappings: {${field}: [...]}}]})`;
  const mappings: MappingAnswer["mappings"] = [];
  for (const feature of features.data.features) {
    const items = contributionsOf(feature, field);
    if (!items) return `feature ${feature.feature_id}: its ${field} contributions are not a list of {item, facets}`;
    mappings.push({ feature_id: feature.feature_id, items: items.map(toItem) });
  }
  return { mappings };
}
