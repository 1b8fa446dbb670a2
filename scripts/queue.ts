#!/usr/bin/env bun
import { SAError } from "../lib/errors.ts";
import { queueAdmin, type QueueAction } from "../lib/queue/admin.ts";
import { queueSettings } from "../lib/queue/connection.ts";
import { commonArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";

const actions: QueueAction[] = ["status", "retry-failed", "drain", "clean"];
const done: Record<QueueAction, string> = { status: "", "retry-failed": "re-queued", drain: "removed (waiting and delayed)", clean: "removed (completed and failed)" };

const task = defineTask({
  meta: taskMeta.queue,
  args: {
    action: { type: "positional", required: false, description: "status (default), retry-failed, drain or clean" },
    queue: { type: "string", description: "The queue's Redis, redis://HOST:PORT[/DB] (config queue.url)" },
    ...commonArgs,
  },
  async run({ args, config }) {
    const action = (args.action ?? "status") as QueueAction;
    if (!actions.includes(action)) throw new SAError("E_USAGE", `queue: unknown action "${action}" (known: ${actions.join(", ")})`);
    const result = await queueAdmin(queueSettings(await config(), args.queue), action);
    if (args.json) {
      void writeStdout(`${JSON.stringify(result)}\n`);
      return 0;
    }
    const c = result.counts;
    const lines = [`queue ${result.queue}: ${(c.waiting ?? 0) + (c.prioritized ?? 0)} waiting, ${c.active} active, ${c.delayed} delayed, ${c.completed} completed, ${c.failed} failed`];
    if (action !== "status") lines.unshift(`${result.changed} job(s) ${done[action]}`);
    for (const f of result.failed) lines.push(`  failed ${f.serviceId} (job ${f.jobId}, ${f.attempts} attempt(s)): ${f.reason}`);
    void writeStdout(`${lines.join("\n")}\n`);
    return 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
