import { z } from "zod";
import { formatIssues } from "../zod-error.ts";
import { isRecord } from "../is-record.ts";

/** The Python tool strips a job's name before checking it is not empty; so do we. */
const jobName = z.string().refine((s) => s.trim().length > 0, "a job needs a non-blank name");

/** A job to be done: a plain string, or an object with at least `name` (extra keys are kept). */
export const jobSchema = z.union([jobName, z.looseObject({ name: jobName })]);

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

/** The keys the Python tool's `ServiceInput` (and its seed `ServiceFeature`) allow; it forbids any other. */
const serviceKeys = new Set(["service_id", "name", "parent_id", "customer_type", "description", "jobs_to_be_done", "features"]);
const seedFeatureKeys = new Set(["feature_id", "name", "description"]);

/** `value` with only the `allowed` keys; the names of the others go to `dropped`, prefixed. */
function keepKnown(value: Record<string, unknown>, allowed: Set<string>, prefix: string, dropped: Set<string>) {
  const kept: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (allowed.has(key)) kept[key] = v;
    else dropped.add(`${prefix}${key}`);
  }
  return kept;
}

/**
 * Brings an input service to what the Python tool's `ServiceInput` accepts, so that the evolution
 * written from it validates there: unknown keys are dropped (and named in `dropped`), and an empty
 * `parent_id` or `customer_type` is left out (the Python tool wants either a value or none).
 */
export function normaliseService(value: unknown): { value: unknown; dropped: string[] } {
  if (!isRecord(value)) return { value, dropped: [] };
  const dropped = new Set<string>();
  const kept = keepKnown(value, serviceKeys, "", dropped);
  for (const key of ["parent_id", "customer_type"]) if (kept[key] === "") delete kept[key];
  if (Array.isArray(kept.features)) kept.features = kept.features.map((f) => (isRecord(f) ? keepKnown(f, seedFeatureKeys, "features[].", dropped) : f));
  return { value: kept, dropped: [...dropped] };
}

export type ParsedService = { ok: true; service: Service; dropped: string[] } | { ok: false; reason: string };

/** One input value as a service (normalised), or the one-line reason it is not one. */
export function parseService(value: unknown): ParsedService {
  // A whole line that is no object has no field to name: say what a line must be.
  if (!isRecord(value)) return { ok: false, reason: `not a service: a line must be a JSON object with service_id, name and description, not ${kindOf(value)}` };
  // An evolutions file given as the input by mistake: say what it is, not that service_id is missing.
  if (!("service_id" in value) && isRecord(value.service) && Array.isArray(value.plateaus)) return { ok: false, reason: "not a service: this line is an evolution (what run and map write); the input is services, one {service_id, name, description, ...} per line" };
  const normal = normaliseService(value);
  const parsed = serviceSchema.safeParse(normal.value);
  return parsed.success ? { ok: true, service: parsed.data, dropped: normal.dropped } : { ok: false, reason: formatIssues(parsed.error) };
}

/**
 * A later line with a `service_id` already seen: the first line is run and this one is a bad line,
 * which is what a user fixing the file expects (in `run`, `map` and `preflight` alike).
 */
export const duplicateReason = (serviceId: string) => `service_id: duplicate "${serviceId}"`;

const kindOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`);

/** Warns once per dropped key name over a whole run. */
export function droppedKeyWarner(warn: (message: string) => void, where: string): (dropped: string[]) => void {
  const warned = new Set<string>();
  return (dropped) => {
    for (const key of dropped) {
      if (warned.has(key)) continue;
      warned.add(key);
      warn(`${where}: dropped the key "${key}", which the Python tool's schema does not allow (this warning is given once per key)`);
    }
  };
}
