import { z } from "zod";
import { roleSchema } from "./data.ts";
import { serviceSchema } from "./service.ts";

export const cmmiLabels = ["Initial", "Managed", "Defined", "Quantitatively Managed", "Optimizing"] as const;
export const labelForLevel = (level: number): string => cmmiLabels[level - 1] ?? "Initial";

export const scoreSchema = z
  .looseObject({
    level: z.number().int().min(1).max(5),
    /** The CMMI label of the level; filled in from the level when a file leaves it out. */
    label: z.string().default(""),
    justification: z.string().default(""),
  })
  .transform((score) => ({ ...score, label: score.label || labelForLevel(score.level) }));

export const featureMappingSchema = z.looseObject({
  item: z.string(),
  facets: z.record(z.string(), z.unknown()).nullable().default(null),
});

export const featureSchema = z.looseObject({
  feature_id: z.string().min(1),
  name: z.string(),
  description: z.string().default(""),
  score: scoreSchema,
  customer_type: z.string().nullish(),
  role: roleSchema.nullish(),
  mappings: z.record(z.string(), z.array(featureMappingSchema)).default({}),
});
export type Feature = z.infer<typeof featureSchema>;

/** A feature's role id: `customer_type`, or the role object the Python tool sometimes wrote instead. */
export const roleOf = (f: { customer_type?: string | null; role?: { role_id: string } | null }) => f.customer_type ?? f.role?.role_id ?? "";

export const itemMappingsSchema = z.looseObject({
  id: z.string(),
  name: z.string().default(""),
  mappings: z.array(z.looseObject({ feature_id: z.string(), description: z.string().default("") })),
});

export const plateauResultSchema = z.looseObject({
  plateau: z.number().int(),
  plateau_name: z.string(),
  service_description: z.string().default(""),
  features: z.array(featureSchema).default([]),
  roles: z.array(roleSchema.extend({ features: z.array(featureSchema) })).default([]),
  mappings: z.record(z.string(), z.array(itemMappingsSchema)).default({}),
});
export type PlateauResult = z.infer<typeof plateauResultSchema>;

export const metaSchema = z.looseObject({
  schema_version: z.string(),
  run_id: z.string(),
  seed: z.number().nullish(),
  models: z.record(z.string(), z.unknown()).default({}),
  mapping_types: z.array(z.string()).default([]),
  /** The Python tool's `map` writes null when it had no catalogue. */
  catalogue_hash: z.string().nullish(),
  created: z.string(),
});

/** One line of the evolutions JSONL, compatible with the Python tool's schema 1.0. */
export const evolutionSchema = z.looseObject({
  meta: metaSchema,
  service: serviceSchema,
  plateaus: z.array(plateauResultSchema),
});
export type ServiceEvolution = z.infer<typeof evolutionSchema>;
