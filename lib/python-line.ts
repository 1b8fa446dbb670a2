import { sha256Hex } from "./hash.ts";
import { canonicalJson } from "./jsonl.ts";
import { isRecord } from "./is-record.ts";

/**
 * An output line the Python tool wrote carries no fingerprint of ours (lib/fingerprint.ts). What it
 * does carry is checked instead: the service record, the catalogue hash, the catalogues and the
 * model of each stage. A run keeps such a line as done when these match its own, as the Python
 * tool's `--resume` kept the services it had done.
 */

export const PYTHON_LINE = "python:";

export interface PythonLineParts {
  service: unknown;
  catalogueHash: string | null | undefined;
  mappingTypes: string[];
  /** The model of each stage (`descriptions`, `features`, `mapping`); other keys are left out. */
  models: Record<string, unknown>;
}

/** A job as the Python tool writes it: an object, its name stripped. */
const jobView = (job: unknown) => (typeof job === "string" ? { name: job.trim() } : isRecord(job) && typeof job.name === "string" ? { ...job, name: job.name.trim() } : job);

/** The service as the Python tool writes it in a line: nulls for what is not given, seed features cleared (it drops them). */
function serviceView(service: unknown): unknown {
  if (!isRecord(service)) return service;
  const { features: _seed, ...rest } = service;
  const jobs = Array.isArray(rest.jobs_to_be_done) ? rest.jobs_to_be_done.map(jobView) : rest.jobs_to_be_done;
  return { ...rest, parent_id: rest.parent_id || null, customer_type: rest.customer_type || null, jobs_to_be_done: jobs };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a line without our fingerprint was written by the Python tool's `run`: it names a
 * `search` model in `meta.models` and its run id is a UUID. A line of ours never has either.
 */
export const writtenByPython = (meta: { run_id: string; models: Record<string, unknown> }): boolean =>
  typeof meta.models.search === "string" || uuid.test(meta.run_id);

/** A bare model name is an OpenAI one, as the Python tool reads it. */
const modelId = (m: unknown) => (typeof m === "string" && !m.includes(":") ? `openai:${m}` : m);

/** The key a Python line and a run's service are compared by (`python:<hex>`). */
export function pythonLineKey(parts: PythonLineParts): string {
  const models = Object.fromEntries(["descriptions", "features", "mapping"].map((stage) => [stage, modelId(parts.models[stage]) ?? null]));
  const material = { catalogueHash: parts.catalogueHash ?? null, mappingTypes: [...parts.mappingTypes].sort(), models, service: serviceView(parts.service) };
  return `${PYTHON_LINE}${sha256Hex(canonicalJson(material)).slice(0, 32)}`;
}
