import type { Storage } from "unstorage";
import { z } from "zod";
import { keyPart } from "../cache.ts";

/** What the store keeps of one batch, so a stopped run re-attaches instead of paying again. */
export const batchRecordSchema = z.object({
  runKey: z.string(),
  runId: z.string(),
  wave: z.number().int(),
  model: z.string(),
  fileId: z.string(),
  /** Unset between the upload and the batch's creation. */
  batchId: z.string().nullable(),
  status: z.string(),
  customIds: z.array(z.string()),
  counts: z.object({ total: z.number(), completed: z.number(), failed: z.number() }),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Its results were read and handed to their calls. */
  consumed: z.boolean(),
});
export type BatchRecord = z.infer<typeof batchRecordSchema>;

const prefix = "batches";
const keyOf = (r: Pick<BatchRecord, "runKey" | "fileId">) => `${prefix}:${keyPart(r.runKey)}:${keyPart(r.fileId)}`;

export async function saveBatchRecord(storage: Storage, record: BatchRecord): Promise<void> {
  await storage.setItem(keyOf(record), record);
}

/** Every batch record in the store (one run's with `runKey`), oldest first; unreadable entries are skipped. */
export async function readBatchRecords(storage: Storage, runKey?: string): Promise<BatchRecord[]> {
  const keys = await storage.getKeys(runKey ? `${prefix}:${keyPart(runKey)}` : prefix);
  const records: BatchRecord[] = [];
  for (const key of keys) {
    const parsed = batchRecordSchema.safeParse(await storage.getItem(key).catch(() => undefined));
    if (parsed.success) records.push(parsed.data);
  }
  return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.fileId.localeCompare(b.fileId));
}
