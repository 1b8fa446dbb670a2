#!/usr/bin/env bun
import { errorMessage, SAError } from "../lib/errors.ts";
import { queueConnection, queueKeys, queueSettings } from "../lib/queue/connection.ts";
import { createRedisJournal } from "../lib/queue/journal.ts";
import { startQueueWorker, stopQueueWorker } from "../lib/queue/worker.ts";
import { createRuntime } from "../lib/runtime.ts";
import { onStopSignal } from "../lib/signals.ts";
import { createTracing } from "../lib/tracing.ts";
import { positiveInt, sharedArgs } from "./_args.ts";
import { defineTask, runTask } from "./_task.ts";

const { input: _input, output: _output, "dry-run": _dryRun, strict: _strict, json: _json, ...workerArgs } = sharedArgs;

const task = defineTask({
  meta: { name: "worker", description: "Work a BullMQ queue in Redis: project one service per job for run --queue coordinators" },
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
    const connection = queueConnection(settings.url);
    const keys = queueKeys(settings.name);
    let rt: Awaited<ReturnType<typeof createRuntime>> | undefined;
    const hard = config.budget.hardUsd;
    // A hard budget reached by any worker stops that run's jobs on every worker (they check the stop hash before each job).
    const onSpend = (runId: string, spent: number) => {
      if (hard === undefined || spent < hard) return;
      const reason = `budget $${hard} reached (spent $${spent.toFixed(4)} over all workers)`;
      void connection.hsetnx(keys.stop, runId, reason);
      rt?.limiter.stop(new SAError("E_BUDGET", reason));
    };
    const journal = createRedisJournal(connection, keys, onSpend);
    rt = await createRuntime({ task: "worker", config, log, journal: () => journal, tracing: await createTracing(process.env, {}) });
    const worker = startQueueWorker({ rt, settings, connection: queueConnection(settings.url), concurrency: config.concurrency, journal });
    log.info(`worker ${process.pid}: queue ${settings.name} on ${settings.url.replace(/\/\/[^@/]*@/, "//***@")}, ${config.concurrency} at once, data ${config.dataDir}, ${config.model}`);
    // A second signal exits at once; held jobs then return through stalled-job detection.
    const signal = await new Promise<string>((resolve) => onStopSignal(resolve));
    log.info(`worker ${process.pid}: ${signal}: finishing held jobs (up to ${graceMs / 1000} s)`);
    const outcome = await stopQueueWorker(worker, graceMs).catch((error) => (log.warn(errorMessage(error)), "released" as const));
    if (outcome === "released") log.warn(`worker ${process.pid}: grace period over; held jobs return to the queue when their locks lapse`);
    await journal.flush();
    await rt.close();
    connection.disconnect();
    return 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
