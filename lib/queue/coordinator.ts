import { Job, Queue, QueueEvents } from "bullmq";
import { unlessAborted } from "../unless-aborted.ts";
import { SAError, errorMessage } from "../errors.ts";
import { runServices, type RunOptions, type RunSummary, type ServiceWork } from "../pipeline/run.ts";
import type { CallRecord } from "../ledger.ts";
import type { Runtime } from "../runtime.ts";
import { evolutionSchema, type ServiceEvolution } from "../schema/evolution.ts";
import { jobIdFor, openQueueConnection, queueConnection, queueKeys, watchConnection, type QueueSettings } from "./connection.ts";
import type { QueueJob } from "./job.ts";
import { createAwaitedJobs, type AwaitedJobs } from "./awaited.ts";
import { createJournalReader } from "./journal.ts";
import { startQueueWorker, type QueueWorker } from "./worker.ts";

export interface CoordinateOptions {
  settings: QueueSettings;
  /** Workers in this process too (0: only other processes work the queue). */
  localWorkers?: number;
}

/** How often the queue's counts are shown (and the journal and removed jobs looked at). */
const progressMs = 5000;

/**
 * How often the journal is read besides each job's end. Entries read are safe: the coordinator
 * counts them. Unread ones live in Redis and with the worker that pushed them, which pushes them
 * again if Redis loses them; a worker killed meanwhile cannot, so the sooner they are read the less
 * a killed worker and a Redis restarted without its data can take from the ledger together.
 */
const journalEveryMs = 1000;

/** Runs `work` every `ms`, skipping a turn while the last one is still out (a Redis that is down holds each read). */
function everyUnlessBusy(work: () => Promise<unknown>, ms: number): ReturnType<typeof setInterval> {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void work()
      .catch(() => {})
      .finally(() => (busy = false));
  }, ms);
  timer.unref?.();
  return timer;
}

/**
 * How long a stopped coordinator waits on Redis (the journal's last reads, closing the queue): a
 * Redis that is down would hold a Ctrl-C for ever, since its commands wait for it to come back.
 */
const stopWaitMs = 2000;

/** `work`, or nothing once `ms` have passed. */
const atMost = (work: Promise<unknown>, ms: number) => Promise.race([work, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

/** Redis failed reasons that mean the run's shared budget is spent or a usage limit reached (see the worker's stop check). */
const stoppedRun = /^run \S+ stopped: /;

/**
 * `run --queue`: the run engine reads, resumes and writes as usual, but each service becomes a
 * job (id = its fingerprint, so enqueuing twice is idempotent) that a worker projects. Jobs
 * outlive the coordinator: a rerun re-attaches, collecting completed jobs and waiting on the rest.
 */
export async function coordinateRun(rt: Runtime, options: RunOptions, coordinate: CoordinateOptions): Promise<RunSummary> {
  const { settings } = coordinate;
  const connection = await openQueueConnection(settings.url);
  const keys = queueKeys(settings.name);
  const queue = new Queue(settings.name, { connection });
  const awaited = createAwaitedJobs(queue, rt.log);
  watchConnection(connection, settings.url, rt.log, "waiting for it to come back (jobs stay queued)", () => void awaited.requeueLost());
  const eventsConnection = queueConnection(settings.url);
  const events = new QueueEvents(settings.name, { connection: eventsConnection });
  // Each awaited job listens on both (BullMQ's waitUntilFinished): thousands of them are no leak.
  events.setMaxListeners(0);
  queue.setMaxListeners(0);
  // A lost connection is reported once by its watcher; BullMQ's own error events would print a stack per retry.
  queue.on("error", () => {});
  events.on("error", () => {});
  const workers: QueueWorker[] = [];
  const local = releaseOnStop(workers, rt.limiter.stopped);
  // The jobs this run enqueued or re-attached to: the journal entries it counts are theirs, and its own run's.
  const jobIds = new Set<string>();
  const owns = (entry: { runId: string | null; jobId: string | null }) => entry.runId === rt.runId || (entry.jobId !== null && jobIds.has(entry.jobId));
  const journal = await createJournalReader(connection, keys.journal, { owns, record: recordWarningOnce(rt), quarantine: (entry) => rt.quarantine.add(entry) });
  // Once the run is stopped, a read waits on Redis for a moment only (what it misses is left for the next run).
  const pullJournal = () => (rt.limiter.stopped.aborted ? atMost(journal.pull(), stopWaitMs) : journal.pull());
  const ticker = setInterval(() => void showProgress(rt, queue, settings.name).then(awaited.failRemoved).catch(() => {}), progressMs);
  ticker.unref?.();
  // Not once the run is stopped: an entry claimed after its final record would be counted by no run.
  const reader = everyUnlessBusy(async () => void (rt.limiter.stopped.aborted || (await journal.pull())), journalEveryMs);
  try {
    await events.waitUntilReady();
    for (let i = 0; i < (coordinate.localWorkers ?? 0); i++) workers.push(startQueueWorker({ rt, settings, connection: queueConnection(settings.url), concurrency: rt.config.concurrency }));
    const limits = Object.keys(rt.config.limits).length ? rt.config.limits : undefined;
    const dispatch = (work: ServiceWork) =>
      awaitJob({ queue, events, settings, work, jobIds, stop: rt.limiter.stopped, awaited, budgetUsd: rt.config.budget.hardUsd, limits })
        .catch(async (error) => {
          // The run's wait for calls in flight covers the local workers' too: they are answered and recorded in its ledger record.
          await local.released();
          throw error;
        })
        .finally(() => pullJournal().catch(() => {}));
    // On Ctrl-C or a limit, stop waiting on jobs: they stay queued for workers and for a rerun.
    return await runServices(rt, { ...options, window: options.window ?? 100_000 }, dispatch);
  } finally {
    clearInterval(ticker);
    clearInterval(reader);
    await local.close();
    // No last read of the journal here: the run's record is written by now, and a call claimed
    // now would be counted by no run (on a stop, workers go on). Each job's entries were read as
    // it ended, before the record; those journalled since are left for the next run to count.
    await atMost(Promise.all([events.close(), queue.close()]), stopWaitMs);
    connection.disconnect();
    eventsConnection.disconnect();
  }
}

/**
 * On a stop, the in-process workers put their jobs back at once, once their calls in flight are
 * answered and cached; the returned function waits for that (at once without a stop or workers).
 * Before, the run's record was written while those calls were on the wire: paid, yet counted failed.
 */
function releaseOnStop(workers: QueueWorker[], stopped: AbortSignal): { released(): Promise<unknown>; close(): Promise<unknown> } {
  let closing: Promise<unknown> | undefined;
  const close = () => (closing ??= Promise.all(workers.map((w) => w.close(0))));
  stopped.addEventListener("abort", () => void close(), { once: true });
  return { released: () => (stopped.aborted && workers.length ? close() : Promise.resolve()), close };
}

/**
 * Records a worker's call in the run, and says once when the run's spend over every worker
 * crosses the soft budget: each worker's own guard sees only its own calls.
 */
function recordWarningOnce(rt: Runtime): (call: CallRecord) => void {
  const soft = rt.config.budget.softUsd;
  let warned = false;
  return (call) => {
    rt.recorder.record(call);
    if (soft === undefined || warned || call.cache !== "live") return;
    const spent = rt.recorder.totals().costUsd;
    if (spent <= soft) return;
    warned = true;
    rt.log.warn(`budget: soft limit $${soft} crossed (spent $${spent.toFixed(4)} over all workers)`);
  };
}

async function showProgress(rt: Runtime, queue: Queue, name: string): Promise<void> {
  const c = await queue.getJobCounts("waiting", "prioritized", "active", "delayed", "completed", "failed");
  rt.log.info(`queue ${name}: ${(c.waiting ?? 0) + (c.prioritized ?? 0)} waiting, ${c.active} active, ${c.delayed} delayed, ${c.completed} completed, ${c.failed} failed`);
}

/**
 * A job another run enqueued and did not see through is taken over by this one: one still waiting
 * gets this run's id, budget and limits; one that failed (its attempts spent, or stopped by that
 * run's budget or a limit) gets them too and is tried again, as a plain rerun tries its failed
 * services again: rerunning finishes what the earlier run left.
 */
async function adopt(queue: Queue, id: string, data: QueueJob): Promise<void> {
  const job = await Job.fromId<QueueJob>(queue, id);
  if (!job || job.data?.meta?.runId === data.meta.runId) return;
  const state = await job.getState();
  if (state !== "failed" && !["waiting", "prioritized", "delayed"].includes(state)) return;
  await job.updateData(data);
  if (state === "failed") await job.retry("failed", { resetAttemptsMade: true });
}

/** Enqueues one service (or re-attaches to its job) and waits for its evolution. */
async function awaitJob(options: { queue: Queue; events: QueueEvents; settings: QueueSettings; work: ServiceWork; jobIds: Set<string>; stop: AbortSignal; awaited: AwaitedJobs; budgetUsd?: number; limits?: QueueJob["limits"] }): Promise<ServiceEvolution> {
  const { queue, events, settings, work } = options;
  const data: QueueJob = { v: 1, serviceId: work.service.service_id, fingerprint: work.fingerprint, position: work.position, service: work.value, budgetUsd: options.budgetUsd, limits: options.limits, meta: work.meta };
  const add = () =>
    queue.add("service", data, {
      jobId: jobIdFor(work.fingerprint),
      attempts: settings.attempts,
      backoff: { type: "exponential", delay: 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
  options.jobIds.add(jobIdFor(work.fingerprint));
  // A Redis that is down holds these until it is back: a stop does not wait for them.
  const job = await unlessAborted(add(), options.stop);
  if (!job || options.stop.aborted) throw options.stop.reason;
  await unlessAborted(adopt(queue, String(job.id), data), options.stop);
  const tracked = options.awaited.track(String(job.id), add);
  let result: unknown;
  try {
    // The run's stop is raced without a reaction left on it per job (lib/unless-aborted.ts).
    result = await unlessAborted(Promise.race([job.waitUntilFinished(events), tracked.gone]), options.stop);
    if (options.stop.aborted) throw options.stop.reason;
  } catch (error) {
    if (error instanceof SAError) throw error;
    const reason = errorMessage(error);
    if (stoppedRun.test(reason)) throw new SAError(/^run \S+ stopped: budget/.test(reason) ? "E_BUDGET" : "E_LIMIT", reason);
    throw new SAError("E_CALL_FAILED", `job ${job.id} failed after its attempts (left in the failed set: a rerun tries it again, and bun scripts/queue.ts retry-failed re-queues it for the workers): ${reason}`, { details: { stage: "queue" } });
  } finally {
    tracked.done();
  }
  const evolution = evolutionSchema.safeParse(result);
  if (!evolution.success) throw new SAError("E_VALIDATION", `job ${job.id}: its result is not an evolution (${evolution.error.issues[0]?.message})`, { details: { stage: "queue" } });
  return evolution.data;
}
