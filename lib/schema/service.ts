import { z } from "zod";

/** A job to be done: a plain string, or an object with at least `name` (extra keys are kept). */
export const jobSchema = z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })]);

export const seedFeatureSchema = z.looseObject({
  feature_id: z.string().min(1),
  name: z.string().min(1),
  description: z.string(),
});

/** One line of the services JSONL, as the Python tool wrote it. */
export const serviceSchema = z.looseObject({
  service_id: z.string().min(1),
  name: z.string().min(1),
  description: z.string(),
  parent_id: z.string().nullish(),
  customer_type: z.string().nullish(),
  jobs_to_be_done: z.array(jobSchema).default([]),
  features: z.array(seedFeatureSchema).default([]),
});

export type Service = z.infer<typeof serviceSchema>;
