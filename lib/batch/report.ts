import type { BatchApi } from "./api.ts";
import { finishedStatuses } from "./api.ts";
import type { BatchRecord } from "./store.ts";

/** The batches of the most recent run in the store (by the newest record), or all of them. */
export function lastRunRecords(records: BatchRecord[], all: boolean): BatchRecord[] {
  if (all || !records.length) return records;
  const newest = records.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
  return records.filter((r) => r.runKey === newest.runKey);
}

/** Brings the records of unfinished batches up to date from the API; a failure leaves the stored state. */
export async function refreshRecords(api: BatchApi | undefined, records: BatchRecord[]): Promise<BatchRecord[]> {
  return Promise.all(
    records.map(async (r) => {
      if (!api || !r.batchId || finishedStatuses.has(r.status as never)) return r;
      try {
        const remote = await api.retrieve(r.batchId);
        return { ...r, status: remote.status, counts: remote.request_counts ?? r.counts };
      } catch {
        return r;
      }
    }),
  );
}

/** One line per batch: id, run, wave, status, counts, model, when. */
export function recordsText(records: BatchRecord[]): string {
  if (!records.length) return "no batches in the store";
  const rows = [["batch", "run key", "wave", "status", "requests", "completed", "failed", "read", "model", "created"]];
  for (const r of records) {
    rows.push([r.batchId ?? `(${r.fileId}, not created)`, r.runKey, String(r.wave), r.status, String(r.counts.total), String(r.counts.completed), String(r.counts.failed), r.consumed ? "yes" : "no", r.model, r.createdAt]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}
