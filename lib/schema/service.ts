import { z } from "zod";
import { formatIssues } from "../zod-error.ts";

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

/** One input value as a service, or the one-line reason it is not one. */
export function parseService(value: unknown): { ok: true; service: Service } | { ok: false; reason: string } {
  const parsed = serviceSchema.safeParse(value);
  return parsed.success ? { ok: true, service: parsed.data } : { ok: false, reason: formatIssues(parsed.error) };
}
