import { Queue } from "bullmq";
import { openQueueConnection, queueKeys, type QueueSettings } from "./connection.ts";

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
      await connection.del(keys.journal, `${keys.journal}:read`, keys.stop);
    }
    return { ...(await queueStatus(queue)), changed };
  } finally {
    await queue.close();
    connection.disconnect();
  }
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
