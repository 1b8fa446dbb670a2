#!/usr/bin/env bun
import { errorMessage } from "../lib/errors.ts";
import { openQueueConnection, queueConnection, queueKeys, queueSettings, watchConnection } from "../lib/queue/connection.ts";
import { createSharedBudget } from "../lib/queue/budget.ts";
import { createRedisJournal, currentJob } from "../lib/queue/journal.ts";
import { startQueueWorker } from "../lib/queue/worker.ts";
import { createRuntime } from "../lib/runtime.ts";
import { onStopSignal } from "../lib/signals.ts";
import { createTracing } from "../lib/tracing.ts";
import { positiveInt, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

const { input: _input, output: _output, "dry-run": _dryRun, strict: _strict, json: _json, ...workerArgs } = sharedArgs;

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
    const own = { ...config, budget: { softUsd: config.budget.softUsd } };
    const rt = await createRuntime({ task: "worker", config: own, log, journal: () => journal, answerRunId: () => currentJob.getStore()?.runId, wrapGuard: budget.wrap, wrapQuarantine: journal.quarantine, tracing: await createTracing(process.env, {}) });
    const jobsConnection = queueConnection(settings.url);
    watchConnection(jobsConnection, settings.url, log, "jobs wait until it is back");
    const worker = startQueueWorker({ rt, settings, connection: jobsConnection, concurrency: config.concurrency, journal, budget, budgetUsd: config.budget.hardUsd });
    log.info(`worker ${process.pid}: queue ${settings.name} on ${settings.url.replace(/\/\/[^@/]*@/, "//***@")}, ${config.concurrency} at once, data ${config.dataDir}, ${config.model}`);
    // A second signal exits at once; held jobs then return through stalled-job detection.
    const signal = await new Promise<string>((resolve) => onStopSignal(resolve));
    log.info(`worker ${process.pid}: ${signal}: finishing held jobs (up to ${graceMs / 1000} s)`);
    const outcome = await worker.close(graceMs).catch((error) => (log.warn(errorMessage(error)), "released" as const));
    if (outcome === "released") log.warn(`worker ${process.pid}: grace period over; held jobs put back on the queue`);
    await journal.flush();
    budget.close();
    await rt.close();
    connection.disconnect();
    return 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
