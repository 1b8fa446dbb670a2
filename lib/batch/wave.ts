import type { Storage } from "unstorage";
import type { Clock } from "../clock.ts";
import { SAError } from "../errors.ts";
import type { Log } from "../log.ts";
import type { BatchConfig } from "../schema/config.ts";
import { finishedStatuses, type BatchApi, type RemoteBatch } from "./api.ts";
import { readResultLine, requestLine, resultLineSchema, splitRequests, type BatchRequest, type Outcome } from "./request.ts";
import { readBatchRecords, saveBatchRecord, type BatchRecord } from "./store.ts";

export interface WaveContext {
  api: BatchApi;
  storage: Storage;
  log: Log;
  clock: Clock;
  config: BatchConfig;
  pollMs: number;
  runKey: string;
  runId: string;
  /** After a stop, finished batches are left unread (and open in the store) for the next run. */
  stopped?: () => boolean;
}

const iso = (clock: Clock) => new Date(clock.now()).toISOString();

/**
 * The batches this wave needs: batches of this run still open in the store that hold some of
 * its requests are re-attached (never uploaded or paid for twice); the rest are uploaded and created.
 */
async function submit(ctx: WaveContext, wave: number, requests: BatchRequest[]): Promise<BatchRecord[]> {
  const wanted = new Set(requests.map((r) => r.customId));
  const records: BatchRecord[] = [];
  for (const open of (await readBatchRecords(ctx.storage, ctx.runKey)).filter((r) => !r.consumed)) {
    const mine = open.customIds.filter((id) => wanted.has(id));
    if (!mine.length) continue;
    mine.forEach((id) => wanted.delete(id));
    ctx.log.info(`batch: re-attaching to ${open.batchId ?? open.fileId} (${mine.length} request(s), ${open.status})`);
    records.push(open);
  }
  const chunks = splitRequests(requests.filter((r) => wanted.has(r.customId)), { maxRequests: ctx.config.maxRequestsPerBatch, maxBytes: ctx.config.maxBytesPerBatch });
  for (const [i, chunk] of chunks.entries()) {
    const fileId = await ctx.api.upload(chunk.map(requestLine).join(""), `sa-${ctx.runKey}-wave${wave}-${i + 1}.jsonl`);
    const record: BatchRecord = { runKey: ctx.runKey, runId: ctx.runId, wave, model: chunk[0]!.model, fileId, batchId: null, status: "uploaded", customIds: chunk.map((r) => r.customId), counts: { total: chunk.length, completed: 0, failed: 0 }, createdAt: iso(ctx.clock), updatedAt: iso(ctx.clock), consumed: false };
    await saveBatchRecord(ctx.storage, record);
    records.push(record);
  }
  // A file uploaded by a run stopped before it recorded its batch's id may have its batch already.
  const made = records.some((r) => r.batchId === null && r.runId !== ctx.runId) ? await ctx.api.list().catch(() => []) : [];
  for (const record of records.filter((r) => r.batchId === null)) {
    const batch = made.find((b) => b.input_file_id === record.fileId) ?? (await ctx.api.create(record.fileId, ctx.config.completionWindow, { runKey: ctx.runKey, wave: String(record.wave) }));
    Object.assign(record, { batchId: batch.id, status: batch.status, updatedAt: iso(ctx.clock) });
    await saveBatchRecord(ctx.storage, record);
    ctx.log.info(`batch ${batch.id}: wave ${wave}, ${record.customIds.length} request(s) to ${record.model}`);
  }
  return records;
}

const seconds = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`);

/** Polls one batch until it is finished, logging its progress and keeping its state in the store. */
async function poll(ctx: WaveContext, record: BatchRecord): Promise<RemoteBatch> {
  const started = ctx.clock.now();
  let last = "";
  for (;;) {
    const batch = await ctx.api.retrieve(record.batchId!);
    const counts = batch.request_counts ?? record.counts;
    const line = `batch ${batch.id}: ${batch.status}, ${counts.completed}/${counts.total} done, ${counts.failed} failed, ${seconds(ctx.clock.now() - started)} elapsed`;
    if (line !== last) ctx.log.info(line);
    last = line;
    if (batch.status !== record.status || counts.completed !== record.counts.completed) {
      Object.assign(record, { status: batch.status, counts, updatedAt: iso(ctx.clock) });
      await saveBatchRecord(ctx.storage, record);
    }
    if (finishedStatuses.has(batch.status)) return batch;
    await Bun.sleep(ctx.pollMs);
    if (ctx.stopped?.()) throw new SAError("E_INTERRUPTED", `batch ${batch.id}: left to the next run`);
  }
}

/** The outcome of every request of a finished batch: output and error file lines, or why none came. */
async function results(ctx: WaveContext, record: BatchRecord, batch: RemoteBatch): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  for (const fileId of [batch.output_file_id, batch.error_file_id]) {
    if (!fileId) continue;
    for (const text of (await ctx.api.content(fileId)).split("\n")) {
      if (!text.trim()) continue;
      const parsed = resultLineSchema.safeParse(JSON.parse(text));
      if (parsed.success) outcomes.set(parsed.data.custom_id, readResultLine(parsed.data, record.model, ctx.config.priceFactor));
    }
  }
  const why = batch.status === "completed" ? "no result in the batch's files" : `batch ${batch.status}${batch.errors?.data?.[0]?.message ? ` (${batch.errors.data[0].message})` : ""}`;
  for (const id of record.customIds) if (!outcomes.has(id)) outcomes.set(id, { ok: false, reason: why });
  return outcomes;
}

/** One wave through the Batch API: submit (or re-attach), poll, read. Returns each request's outcome. */
export async function runWave(ctx: WaveContext, wave: number, requests: BatchRequest[]): Promise<Map<string, Outcome>> {
  const records = await submit(ctx, wave, requests);
  const maps = await Promise.all(
    records.map(async (record) => {
      const batch = await poll(ctx, record);
      if (ctx.stopped?.()) throw new SAError("E_INTERRUPTED", `batch ${batch.id}: left to the next run`);
      const outcomes = await results(ctx, record, batch);
      Object.assign(record, { consumed: true, updatedAt: iso(ctx.clock) });
      await saveBatchRecord(ctx.storage, record);
      return outcomes;
    }),
  );
  const all = new Map<string, Outcome>();
  for (const map of maps) for (const [id, outcome] of map) all.set(id, outcome);
  return all;
}
