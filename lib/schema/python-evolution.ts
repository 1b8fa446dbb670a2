import { z } from "zod";
import { cmmiLabels } from "./evolution.ts";

/*
 * A strict mirror of the Python tool's `ServiceEvolution` (schema 1.0): every model forbids unknown
 * keys and coerces nothing, as its `StrictModel` does. Our output must validate under it; reading
 * files stays lenient (lib/schema/evolution.ts).
 */

const nonEmpty = z.string().min(1);

export const pythonMetaSchema = z.strictObject({
  schema_version: z.string().optional(),
  run_id: nonEmpty,
  seed: z.int().nullable().optional(),
  models: z.record(z.string(), z.string()).optional(),
  web_search: z.boolean().optional(),
  mapping_types: z.array(z.string()).optional(),
  context_window: z.int().min(0).optional(),
  diagnostics: z.boolean().optional(),
  catalogue_hash: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "catalogue_hash must be 64 hex characters")
    .nullable()
    .optional(),
  created: z.iso.datetime({ offset: true }),
});

export const pythonScoreSchema = z
  .strictObject({ level: z.int().min(1).max(5), label: nonEmpty, justification: nonEmpty })
  .refine((s) => s.label === cmmiLabels[s.level - 1], { message: "label must match level", path: ["label"] });

export const pythonContributionSchema = z.strictObject({
  item: nonEmpty,
  facets: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullable().optional(),
});

export const pythonRoleSchema = z.strictObject({ role_id: nonEmpty, name: nonEmpty, description: nonEmpty });

export const pythonFeatureSchema = z.strictObject({
  feature_id: nonEmpty,
  name: nonEmpty,
  description: nonEmpty,
  score: pythonScoreSchema,
  customer_type: nonEmpty,
  role: pythonRoleSchema.nullable().optional(),
  mappings: z.record(z.string(), z.array(pythonContributionSchema)).optional(),
});

/** `JobToBeDone` strips whitespace from `name` before its length check, and keeps extra keys. */
const jobName = z.string().refine((s) => s.trim().length > 0, "a job needs a non-blank name");
/** A plain string is read as `{name}` before validation (the Python model's own coercion). */
export const pythonJobSchema = z.union([jobName, z.looseObject({ name: jobName })]);

export const pythonServiceSchema = z.strictObject({
  service_id: nonEmpty,
  name: nonEmpty,
  parent_id: nonEmpty.nullable().optional(),
  customer_type: nonEmpty.nullable().optional(),
  description: z.string(),
  jobs_to_be_done: z.array(pythonJobSchema),
  features: z.array(z.strictObject({ feature_id: nonEmpty, name: nonEmpty, description: z.string() })).optional(),
});

export const pythonMappingGroupSchema = z.strictObject({
  id: nonEmpty,
  name: nonEmpty,
  mappings: z.array(z.strictObject({ feature_id: nonEmpty, description: nonEmpty })).optional(),
});

export const pythonPlateauSchema = z.strictObject({
  plateau: z.int().min(1),
  plateau_name: nonEmpty,
  service_description: z.string(),
  features: z.array(pythonFeatureSchema).optional(),
  roles: z.array(pythonRoleSchema.extend({ features: z.array(pythonFeatureSchema).optional() })).optional(),
  mappings: z.record(z.string(), z.array(pythonMappingGroupSchema)).optional(),
});

export const pythonEvolutionSchema = z.strictObject({
  meta: pythonMetaSchema,
  service: pythonServiceSchema,
  plateaus: z.array(pythonPlateauSchema).optional(),
});
export type PythonEvolution = z.infer<typeof pythonEvolutionSchema>;
