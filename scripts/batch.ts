#!/usr/bin/env bun
import { createBatchApi, type BatchApi } from "../lib/batch/api.ts";
import { lastRunRecords, recordsText, refreshRecords } from "../lib/batch/report.ts";
import { readBatchRecords } from "../lib/batch/store.ts";
import { createCacheStorage, storeFailure } from "../lib/cache.ts";
import { describeStore } from "../lib/cache-stats.ts";
import { SAError } from "../lib/errors.ts";
import type { Config } from "../lib/schema/config.ts";
import { commonArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";

const actions = ["list", "status", "cancel"] as const;

const apiOf = (config: Config, required: boolean): BatchApi | undefined => {
  if (!required && !process.env.OPENAI_API_KEY) return undefined;
  return createBatchApi({ env: process.env, retry: config.retry, requestTimeout: config.requestTimeout });
};

const task = defineTask({
  meta: taskMeta.batch,
  args: {
    action: { type: "positional", description: actions.join(" | "), required: true },
    id: { type: "positional", description: "status, cancel: the batch id", required: false },
    all: { type: "boolean", description: "list: every batch in the store (default: the last run's)" },
    ...commonArgs,
  },
  async run({ args, config: load }) {
    const action = args.action as (typeof actions)[number];
    if (!actions.includes(action)) throw new SAError("E_USAGE", `batch: unknown action "${args.action}" (known: ${actions.join(", ")})`);
    if (action !== "list" && !args.id) throw new SAError("E_USAGE", `batch ${action}: give the batch id (see \`batch list\`)`);
    // `batch list ID` listed every batch of the last run without a word about the id.
    if (action === "list" && args.id) throw new SAError("E_USAGE", `batch list takes no id ("${args.id}"): batch status ID shows one batch`);
    const config = await load();
    const out = (data: unknown, text: string) => void writeStdout(args.json ? `${JSON.stringify(data)}\n` : `${text}\n`);
    if (action === "list") {
      const storage = await createCacheStorage(config.cache);
      try {
        const stored = await readBatchRecords(storage).catch((error: unknown) => {
          // A store that cannot be reached (Redis down) is one line naming it, as `cache stats` says it.
          throw new SAError("E_CACHE", `batch list: ${describeStore(config.cache)} failed (${storeFailure(storage, error)})`, { cause: error });
        });
        const records = await refreshRecords(apiOf(config, false), lastRunRecords(stored, Boolean(args.all)));
        out({ batches: records.map(({ customIds, ...r }) => r) }, recordsText(records));
      } finally {
        await storage.dispose();
      }
      return 0;
    }
    const api = apiOf(config, true)!;
    const batch = action === "status" ? await api.retrieve(args.id!) : await api.cancel(args.id!);
    const counts = batch.request_counts;
    out(batch, `batch ${batch.id}: ${batch.status}${counts ? `, ${counts.completed}/${counts.total} done, ${counts.failed} failed` : ""}`);
    return 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
