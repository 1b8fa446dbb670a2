import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { openQueueConnection, queueKeys, type QueueKeys, type QueueSettings } from "./connection.ts";

export interface QueueStatus {
  queue: string;
  counts: Record<string, number>;
  /** Jobs in the failed set (the dead letter): their service and why. */
  failed: Array<{ jobId: string; serviceId: string; attempts: number; reason: string }>;
}

export type QueueAction = "status" | "retry-failed" | "drain" | "clean";

/** Opens the queue, does one operator action, and closes it. */
export async function queueAdmin(settings: QueueSettings, action: QueueAction): Promise<QueueStatus & { changed: number }> {
  const connection = await openQueueConnection(settings.url);
  const queue = new Queue(settings.name, { connection });
  queue.on("error", () => {}); // the connection was checked above; a later loss fails the action itself
  try {
    let changed = 0;
    if (action === "retry-failed") {
      changed = await queue.getJobCountByTypes("failed");
      await queue.retryJobs({ state: "failed", count: 1000 });
    } else if (action === "drain") {
      changed = await queue.getJobCountByTypes("waiting", "prioritized", "delayed");
      await queue.drain(true);
    } else if (action === "clean") {
      changed = (await queue.clean(0, 0, "completed")).length + (await queue.clean(0, 0, "failed")).length;
      const keys = queueKeys(settings.name);
      await connection.del(keys.journal, `${keys.journal}:read`, `${keys.journal}:counted`, `${keys.journal}:epoch`, keys.stop);
      await removeIdleCounters(queue, connection, keys);
    }
    return { ...(await queueStatus(queue)), changed };
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/**
 * Each run's spend and usage counters (what the workers' budget and limits read), except those of
 * runs that still have jobs waiting or running: a run in progress keeps what it has spent.
 */
async function removeIdleCounters(queue: Queue, connection: Redis, keys: QueueKeys): Promise<void> {
  const busy = new Set((await queue.getJobs(["waiting", "prioritized", "delayed", "active"])).map((job) => job?.data?.meta?.runId));
  const counters = [...(await keysLike(connection, keys.spend("*"))), ...(await keysLike(connection, keys.usage("*")))];
  const idle = counters.filter((key) => !busy.has(key.slice(key.lastIndexOf(":") + 1)));
  if (idle.length) await connection.del(...idle);
}

/** Keys matching a pattern, by SCAN: KEYS would hold up a Redis shared with a large cache. */
async function keysLike(connection: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of connection.scanStream({ match: pattern, count: 1000 })) found.push(...(batch as string[]));
  return found;
}

async function queueStatus(queue: Queue): Promise<QueueStatus> {
  const counts = await queue.getJobCounts("waiting", "prioritized", "active", "delayed", "completed", "failed");
  const failed = (await queue.getFailed(0, 99)).map((job) => ({
    jobId: String(job.id),
    serviceId: String(job.data?.serviceId ?? "?"),
    attempts: job.attemptsMade,
    reason: job.failedReason ?? "",
  }));
  return { queue: queue.name, counts, failed };
}
