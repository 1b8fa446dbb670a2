import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { SAError, errorMessage, isSAError, isUsageStop } from "../errors.ts";
import { isKeyRefused } from "../call/route-health.ts";
import { inputFingerprint, promptsDigest } from "../fingerprint.ts";
import { catalogueHash } from "../pipeline/evolution.ts";
import { projectService } from "../pipeline/service.ts";
import type { Runtime } from "../runtime.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import { parseService } from "../schema/service.ts";
import type { QueueSettings } from "./connection.ts";
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
  /** The provider refused this worker's key: it takes no more jobs, and those it took go back (see `keyRefusal`). */
  onKeyRefused?: (error: SAError) => void;
}

/**
 * A key the provider refuses (HTTP 401 or 403 on a stage's last model) fails every job this worker would
 * take, and fast, so a worker misconfigured among good ones would fail the whole queue: its jobs
 * go back instead, no attempt spent, for a worker whose key works.
 */
const keyRefusal = (error: unknown): SAError | undefined => (isSAError(error, "E_USAGE") && isKeyRefused(error) ? error : undefined);

/** What this worker's answers are made from: its catalogues and prompts, the same for every job. */
interface WorkerInputs {
  catalogueHash: string;
  prompts: string;
}

const inputsOf = (rt: Runtime): WorkerInputs => ({ catalogueHash: catalogueHash(rt.data.catalogues), prompts: promptsDigest(rt.pipeline.domain) });

/** Why this worker must not project a job made from other data, prompts or config; undefined when it may. */
function refusal(rt: Runtime, job: QueueJob, own: WorkerInputs): string | undefined {
  const hash = own.catalogueHash;
  if (job.meta.catalogueHash !== hash) {
    return `job ${job.serviceId}: catalogue hash ${job.meta.catalogueHash.slice(0, 12)} differs from this worker's ${hash.slice(0, 12)} (data folder ${rt.config.dataDir}); start the worker with the coordinator's data folder`;
  }
  const mine = inputFingerprint({ service: job.service, catalogueHash: hash, prompts: own.prompts, config: rt.config });
  if (mine !== job.fingerprint) return `job ${job.serviceId}: fingerprint ${job.fingerprint} differs from this worker's ${mine} (prompts or answer-shaping config differ: model, models, temperature, seed, ...); start the worker with the coordinator's config`;
  return undefined;
}

/** One job: check it was made from this worker's data, project the service, and journal its calls before completing. */
async function processJob(options: QueueWorkerOptions, own: WorkerInputs, job: Job, lost: AbortSignal): Promise<ServiceEvolution> {
  const parsed = queueJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError(`job ${job.id}: not a service job (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message})`);
  const data = parsed.data;
  const reason = refusal(options.rt, data, own);
  if (reason) throw new UnrecoverableError(reason);
  const service = parseService(data.service);
  if (!service.ok) throw new UnrecoverableError(`job ${data.serviceId}: ${service.reason}`);
  const runId = data.meta.runId;
  const entry = await options.budget?.enter(runId);
  try {
    if (entry?.reason) throw new UnrecoverableError(`run ${runId} stopped: ${entry.reason}`);
    const context = { runId, jobId: String(job.id), budgetUsd: data.budgetUsd ?? options.budgetUsd, limits: data.limits, lost };
    return await currentJob.run(context, () => projectService(options.rt.pipeline, service.service, data.position, data.meta));
  } catch (error) {
    // A spent budget or a reached limit is not worth another attempt: the job fails at once and the coordinator stops (exit 3).
    if (isUsageStop(error)) throw new UnrecoverableError(`run ${runId} stopped: ${error.message}`);
    throw error;
  } finally {
    entry?.leave();
    await options.journal?.flush();
  }
}

export interface QueueWorker {
  readonly worker: Worker;
  /** Finishes the jobs it holds; after `graceMs`, puts them back on the queue and lets go. */
  close(graceMs: number): Promise<"finished" | "released">;
}

/** A job this worker is projecting. */
interface HeldJob {
  job: Job;
  token: string | undefined;
  /** Aborted once the job is no longer this worker's (see `watchLostJobs`). */
  lost: AbortController;
  /** Resolves when this worker's projection of it ends. */
  ended: PromiseWithResolvers<void>;
}

/**
 * A job whose lock in Redis is gone (Redis restarted without its data and the coordinator
 * enqueued it again, or it stalled back to the queue) is projected elsewhere, or by this worker
 * again: going on with it would pay each of its calls twice, and its result could not be saved.
 * It is told once, by BullMQ's failed lock renewal, by a check as soon as Redis is back, or when
 * the same job comes to this worker again; its calls not yet sent are then refused (lib/queue/lost-guard.ts).
 */
function watchLostJobs(worker: Worker, held: Map<string, HeldJob>, options: { connection: Redis; lockDuration: number; log: Runtime["log"]; releasing: () => boolean }) {
  const lose = (entry: HeldJob | undefined, why: string) => {
    // A worker past its grace period puts its jobs back itself (their locks go with them): not a loss.
    if (!entry || entry.lost.signal.aborted || options.releasing()) return;
    options.log.warn(`job ${entry.job.data?.serviceId ?? entry.job.id}: ${why}; this worker makes no more calls for it (the answers it has are cached for the copy that runs now)`);
    entry.lost.abort(new SAError("E_INTERRUPTED", `job ${entry.job.id}: ${why}`));
  };
  const gone = "its lock in Redis is gone (Redis restarted without its data, or the job stalled back to the queue)";
  worker.on("lockRenewalFailed", (ids) => ids.forEach((id) => lose(held.get(id), gone)));
  options.connection.on("ready", () => {
    for (const entry of held.values()) {
      if (entry.token) void entry.job.extendLock(entry.token, options.lockDuration).then((kept) => kept === 0 && lose(entry, gone), () => {});
    }
  });
  return { again: (entry: HeldJob | undefined) => lose(entry, "it came to this worker again (its lock in Redis was lost)") };
}

/** A BullMQ worker projecting one service per job with the runtime's session, cache, limits and ledger. */
export function startQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const { rt, settings } = options;
  const held = new Map<string, HeldJob>();
  const own = inputsOf(rt); // hashed once, not per job
  let releasing = false;
  let paused = false;
  let lostJobs: ReturnType<typeof watchLostJobs>;
  const worker: Worker = new Worker(
    settings.name,
    async (job, token) => {
      const id = String(job.id);
      lostJobs.again(held.get(id));
      const entry: HeldJob = { job, token, lost: new AbortController(), ended: Promise.withResolvers<void>() };
      held.set(id, entry);
      try {
        const evolution = await processJob(options, own, job, entry.lost.signal);
        // Its result could not be saved: the job is another's now.
        if (entry.lost.signal.aborted) throw entry.lost.signal.reason;
        return evolution;
      } catch (error) {
        if (entry.lost.signal.aborted) return await letGo(held, entry);
        const refused = keyRefusal(error);
        if (refused && !paused) {
          paused = true;
          void worker.pause(true).catch(() => {});
          options.onKeyRefused?.(refused);
        }
        // Past the grace period, or refused: the job goes back to the queue as it is, no attempt spent.
        if (!releasing && !refused) throw error;
        await job.moveToWait(token);
        throw new WaitingError();
      } finally {
        if (held.get(id) === entry) held.delete(id);
        entry.ended.resolve();
      }
    },
    { connection: options.connection, concurrency: options.concurrency, lockDuration: settings.lockDuration, stalledInterval: settings.lockDuration, maxStalledCount: 2 },
  );
  lostJobs = watchLostJobs(worker, held, { connection: options.connection, lockDuration: settings.lockDuration, log: rt.log, releasing: () => releasing });
  worker.on("failed", (job, error) => job && rt.log.warn(`job ${job.data?.serviceId ?? job.id} failed (attempt ${job.attemptsMade}/${job.opts.attempts ?? 1}): ${errorMessage(error)}`));
  worker.on("completed", (job) => rt.log.debug(`job ${job.data?.serviceId ?? job.id} completed`));
  let closing = false;
  // Once closing, lock renewals of jobs put back on the queue fail by design: not worth a warning each.
  // While the connection is down, its own watcher says so once (see watchConnection), not each retry.
  // A lock that could not be renewed is a lost job, said once by watchLostJobs, not at every renewal.
  worker.on("error", (error) => closing || options.connection.status !== "ready" || renewal.test(error.message) || rt.log.warn(`queue ${settings.name}: ${errorMessage(error)}`));
  const release = () => {
    releasing = true;
    rt.limiter.stop(new SAError("E_INTERRUPTED", "the worker is stopping: its jobs go back to the queue"));
  };
  return { worker, close: (graceMs) => ((closing = true), closeWorker(worker, held, { graceMs, release })) };
}

const renewal = /^could not renew lock for job /;

/**
 * The end of a lost job's projection here: nothing to save (the job is another's now). BullMQ
 * tracks a job's lock by its id alone, so while this worker projects the job again, this one
 * waits for that to end before it lets go: else BullMQ would stop renewing the new one's lock.
 */
async function letGo(held: Map<string, HeldJob>, entry: HeldJob): Promise<never> {
  const again = held.get(String(entry.job.id));
  if (again && again !== entry) await again.ended.promise;
  throw new WaitingError();
}

/** How long released jobs' calls in flight may take to be answered (and cached) before the worker lets go anyway. */
const RELEASE_MS = 15_000;

const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(r, ms, value).unref());

/**
 * Lets held jobs finish for `graceMs`. Then no call starts any more: the calls in flight are
 * answered and cached, and each job goes back to waiting (so the worker that takes it over pays
 * for none of them again). Jobs still held after RELEASE_MS are moved back as they are (else their
 * lock lapses and the stalled check does it).
 */
async function closeWorker(worker: Worker, held: Map<string, HeldJob>, options: { graceMs: number; release: () => void }): Promise<"finished" | "released"> {
  const closed = worker.close().then(() => "finished" as const);
  const outcome = await Promise.race([closed, after(options.graceMs, "released" as const)]);
  if (outcome === "finished") return outcome;
  options.release();
  // Holding no job (its Redis gone, BullMQ's close waits on it): nothing to put back, nothing to wait for.
  const idle = held.size === 0;
  if ((await Promise.race([closed, after(idle ? 0 : RELEASE_MS, "late" as const)])) === "finished") return "released";
  if (idle) {
    await Promise.race([worker.close(true).catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
    return "finished";
  }
  // A Redis that is down holds these until it is back: the jobs then return through the stalled-job check.
  await Promise.race([Promise.all([...held.values()].map(({ job, token }) => job.moveToWait(token).catch(() => {}))), after(2000, undefined)]);
  // A forced close can still wait on the processor's promise, which may never settle: the process exits anyway.
  await Promise.race([worker.close(true).catch(() => {}), new Promise((r) => setTimeout(r, 2000).unref())]);
  return outcome;
}
