import { UnrecoverableError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { errorMessage, isSAError } from "../errors.ts";
import { inputFingerprint, promptsDigest } from "../fingerprint.ts";
import { catalogueHash } from "../pipeline/evolution.ts";
import { projectService } from "../pipeline/service.ts";
import type { Runtime } from "../runtime.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import { parseService } from "../schema/service.ts";
import { jobIdFor, type QueueSettings } from "./connection.ts";
import { queueJobSchema, type QueueJob } from "./job.ts";
import type { SharedBudget } from "./budget.ts";
import { currentJob, type RedisJournal } from "./journal.ts";

export interface QueueWorkerOptions {
  rt: Runtime;
  settings: QueueSettings;
  connection: Redis;
  /** Jobs held at once. */
  concurrency: number;
  /** The worker's calls go here; absent for a coordinator's in-process workers, which record into its own run. */
  journal?: RedisJournal;
  /** The runs' hard budgets over all workers; absent in a coordinator's own process (its guard holds the budget). */
  budget?: SharedBudget;
  /** For jobs that carry no budget of their own. */
  budgetUsd?: number;
}

/** Why this worker must not project a job made from other data, prompts or config; undefined when it may. */
export function refusal(rt: Runtime, job: QueueJob): string | undefined {
  const hash = catalogueHash(rt.data.catalogues);
  if (job.meta.catalogueHash !== hash) {
    return `job ${job.serviceId}: catalogue hash ${job.meta.catalogueHash.slice(0, 12)} differs from this worker's ${hash.slice(0, 12)} (data folder ${rt.config.dataDir}); start the worker with the coordinator's data folder`;
  }
  const mine = inputFingerprint({ service: job.service, catalogueHash: hash, prompts: promptsDigest(rt.pipeline.domain), config: rt.config });
  if (mine !== job.fingerprint) return `job ${job.serviceId}: fingerprint ${job.fingerprint} differs from this worker's ${mine} (prompts or answer-shaping config differ: model, models, temperature, seed, ...); start the worker with the coordinator's config`;
  return undefined;
}

/** One job: check it was made from this worker's data, project the service, and journal its calls before completing. */
async function processJob(options: QueueWorkerOptions, job: Job): Promise<ServiceEvolution> {
  const parsed = queueJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id}: not a service job (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`);
  const data = parsed.data;
  const reason = refusal(options.rt, data);
  if (reason) throw new UnrecoverableError(reason);
  const service = parseService(data.service);
  if (!service.ok) throw new UnrecoverableError(`job ${data.serviceId}: ${service.reason}`);
  const runId = data.meta.runId;
  const entry = await options.budget?.enter(runId);
  try {
    if (entry?.reason) throw new UnrecoverableError(`run ${runId} stopped: ${entry.reason}`);
    const context = { runId, jobId: String(job.id), budgetUsd: data.budgetUsd ?? options.budgetUsd };
    return await currentJob.run(context, () => projectService(options.rt.pipeline, service.service, data.position, data.meta));
  } catch (error) {
    // A spent budget is not worth another attempt: the job fails at once and the coordinator stops (exit 3).
    if (isSAError(error, "E_BUDGET")) throw new UnrecoverableError(`run ${runId} stopped: ${error.message}`);
    throw error;
  } finally {
    entry?.leave();
    await options.journal?.flush();
  }
}

/** A BullMQ worker projecting one service per job with the runtime's session, cache, limits and ledger. */
export function startQueueWorker(options: QueueWorkerOptions): Worker {
  const { rt, settings } = options;
  const worker = new Worker(settings.name, (job) => processJob(options, job), {
    connection: options.connection,
    concurrency: options.concurrency,
    lockDuration: settings.lockDuration,
    stalledInterval: settings.lockDuration,
    maxStalledCount: 2,
    autorun: true,
  });
  worker.on("failed", (job, error) => job && rt.log.warn(`job ${job.data?.serviceId ?? job.id} failed (attempt ${job.attemptsMade}/${job.opts.attempts ?? 1}): ${errorMessage(error)}`));
  worker.on("completed", (job) => rt.log.debug(`job ${job.data?.serviceId ?? job.id} completed`));
  worker.on("error", (error) => rt.log.warn(`queue ${settings.name}: ${errorMessage(error)}`));
  return worker;
}

/** Finishes the jobs it holds; after `graceMs`, lets go of them (their locks lapse and stalled-job detection requeues them). */
export async function stopQueueWorker(worker: Worker, graceMs: number): Promise<"finished" | "released"> {
  const closed = worker.close().then(() => "finished" as const);
  const timer = new Promise<"released">((r) => setTimeout(r, graceMs, "released").unref());
  const outcome = await Promise.race([closed, timer]);
  if (outcome === "released") await worker.close(true).catch(() => {});
  return outcome;
}

export { jobIdFor };
