#!/usr/bin/env bun
import { hostname } from "node:os";
import { errorMessage, type SAError } from "../lib/errors.ts";
import { openQueueConnection, queueConnection, queueKeys, queueSettings, watchConnection, type QueueSettings } from "../lib/queue/connection.ts";
import type { Config } from "../lib/schema/config.ts";
import type { Log } from "../lib/log.ts";
import { createSharedBudget } from "../lib/queue/budget.ts";
import { createRedisJournal, currentJob, type RedisJournal } from "../lib/queue/journal.ts";
import { refuseLostJobs } from "../lib/queue/lost-guard.ts";
import { startQueueWorker, type QueueWorker } from "../lib/queue/worker.ts";
import { redactUrl } from "../lib/redact.ts";
import { createRuntime, type Runtime } from "../lib/runtime.ts";
import { onStopSignal, type StopSignal } from "../lib/signals.ts";
import { writeStdout } from "../lib/stdout.ts";
import { createTracing } from "../lib/tracing.ts";
import { positiveInt, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

const { input: _input, output: _output, "dry-run": _dryRun, strict: _strict, ...workerArgs } = sharedArgs;

const task = defineTask({
  meta: taskMeta.worker,
  args: {
    ...workerArgs,
    queue: { type: "string", description: "The queue's Redis, redis://HOST:PORT[/DB] (config queue.url)" },
    concurrency: { type: "string", description: "Jobs held, and calls in flight, at once (default 8)" },
    grace: { type: "string", description: "Seconds SIGTERM waits for held jobs before returning them to the queue (default 30)" },
  },
  async run({ args, log, config: load }) {
    const config = await load();
    const settings = queueSettings(config, args.queue);
    const graceMs = (positiveInt(args, "grace") ?? 30) * 1000;
    const connection = await openQueueConnection(settings.url);
    const keys = queueKeys(settings.name);
    // A hard budget is per run and over all workers (the job's, else this config's), and so are the
    // usage limits a job carries (the coordinator's); this process's own guard keeps its config's limits.
    const budget = createSharedBudget(connection, keys);
    const journal = createRedisJournal(connection, keys, budget);
    const own = { ...config, budget: { softUsd: config.budget.softUsd }, rateLimit: sharedRate(config, settings) };
    const rt = await createRuntime({ task: "worker", config: own, log, journal: () => journal, answerRunId: () => currentJob.getStore()?.runId, wrapGuard: (guard) => budget.wrap(refuseLostJobs(guard)), wrapQuarantine: journal.quarantine, tracing: await createTracing(process.env, {}) });
    const jobsConnection = queueConnection(settings.url);
    watchConnection(jobsConnection, settings.url, log, "jobs wait until it is back");
    const refused = Promise.withResolvers<SAError>();
    const worker = startQueueWorker({ rt, settings, connection: jobsConnection, concurrency: config.concurrency, journal, budget, budgetUsd: config.budget.hardUsd, onKeyRefused: refused.resolve });
    const jobs = countJobs(worker);
    log.info(`worker ${process.pid}: queue ${settings.name} on ${redactUrl(settings.url)}, ${config.concurrency} at once, data ${config.dataDir}, ${config.model}`);
    const summary = (fields: { status: string; exitCode: number; signal: string; outcome: string }) => `${JSON.stringify({ ...fields, worker: `${hostname()}:${process.pid}`, queue: settings.name, jobs, totals: rt.recorder.totals() })}\n`;
    // A second signal exits at once; held jobs then return through stalled-job detection.
    const exitNow = (code: number) => void exitAtOnce({ rt, journal, code, summary: args.json ? summary : undefined });
    const { status, signal, exitCode, outcome } = await untilStopped({ log, worker, graceMs, refused: refused.promise, exitNow });
    // The journal's last pushes wait for a Redis that is down: for a few seconds, not until it is back.
    const flushed = await Promise.race([journal.flush().then(() => true), Bun.sleep(flushWaitMs).then(() => false)]);
    if (!flushed) log.warn(`worker ${process.pid}: queue Redis unreachable; the calls not yet journalled are missing from the run's ledger`);
    budget.close();
    await rt.close();
    connection.disconnect();
    if (args.json) await writeStdout(summary({ status, exitCode, signal, outcome }));
    return exitCode;
  },
});

/** How long a stopping worker waits for its last journal entries to reach Redis. */
const flushWaitMs = 5000;

/**
 * Works until a signal (held jobs finish, up to the grace period; exit 0) or a key the provider
 * refuses (held jobs go back to the queue at once, no attempt spent; exit 2).
 */
async function untilStopped(options: { log: Log; worker: QueueWorker; graceMs: number; refused: Promise<SAError>; exitNow: (code: number) => void }) {
  const { log, worker, graceMs } = options;
  const stop = await Promise.race([new Promise<string>((resolve) => onStopSignal(resolve, options.exitNow)), options.refused]);
  if (typeof stop !== "string") {
    log.error(`worker ${process.pid}: ${stop.message}; it takes no more jobs (those it took go back to the queue, no attempt spent) and stops`);
    const outcome = await worker.close(0).catch(() => "released" as const);
    return { status: "refused", signal: "none", exitCode: 2, outcome };
  }
  log.info(`worker ${process.pid}: ${stop}: finishing held jobs (up to ${graceMs / 1000} s)`);
  const outcome = await worker.close(graceMs).catch((error) => (log.warn(errorMessage(error)), "released" as const));
  if (outcome === "released") log.warn(`worker ${process.pid}: grace period over; held jobs put back on the queue`);
  return { status: "stopped", signal: stop, exitCode: 0, outcome };
}

/**
 * A second signal: the requests still on the wire go to the journal as failed calls (they were
 * sent; the run's ledger counts them), waited for a second at most; then the `--json` summary, and exit.
 */
async function exitAtOnce(options: { rt: Runtime; journal: RedisJournal; code: number; summary?: (fields: { status: string; exitCode: number; signal: StopSignal; outcome: string }) => string }): Promise<never> {
  const { rt, journal, code } = options;
  rt.recorder.abandonOpen();
  await Promise.race([journal.flush(), Bun.sleep(1000)]);
  const signal: StopSignal = code === 130 ? "SIGINT" : "SIGTERM";
  if (options.summary) await Promise.race([writeStdout(options.summary({ status: "interrupted", exitCode: code, signal, outcome: "abandoned" })), Bun.sleep(1000)]);
  process.exit(code);
}

/**
 * A worker's `rpm`/`tpm` hold over every worker of the queue: without a store of its own
 * (`rateLimit`), its buckets are shared through the queue's Redis, one per queue.
 */
function sharedRate(config: Config, settings: QueueSettings): Config["rateLimit"] {
  if (config.rateLimit.store !== "memory" || (config.rpm === undefined && config.tpm === undefined)) return config.rateLimit;
  return { store: "redis", url: settings.url, key: `queue.${settings.name}` };
}

/** The jobs this worker completed, and the attempts that failed (a job retried counts each time). */
function countJobs(worker: QueueWorker): { completed: number; failed: number } {
  const jobs = { completed: 0, failed: 0 };
  worker.worker.on("completed", () => jobs.completed++);
  worker.worker.on("failed", () => jobs.failed++);
  return jobs;
}

export default task;

if (import.meta.main) await runTask(task);
