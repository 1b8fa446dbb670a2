import type { Queue } from "bullmq";
import { SAError } from "../errors.ts";
import type { Log } from "../log.ts";

interface AwaitedJob {
  /** Its enqueue, done again when Redis lost the job. */
  add: () => Promise<unknown>;
  removed: (error: Error) => void;
  /** Not in Redis at the last check. */
  missing: boolean;
}

/**
 * The jobs a coordinator waits on. A Redis that restarted without its data has them enqueued
 * again; one that stayed up and no longer holds a job (`queue drain`) fails the job's service, so
 * the coordinator never waits on a job nobody will run (a rerun enqueues it again).
 */
export function createAwaitedJobs(queue: Queue, log: Log) {
  const jobs = new Map<string, AwaitedJob>();
  return {
    /** Tracks a job until `done`; `gone` rejects once the job is found removed. */
    track(id: string, add: () => Promise<unknown>) {
      let removed: (error: Error) => void = () => {};
      const gone = new Promise<never>((_, reject) => (removed = reject));
      gone.catch(() => {});
      jobs.set(id, { add, removed, missing: false });
      return { gone, done: () => void jobs.delete(id) };
    },
    /** Once Redis is back: enqueues again each awaited job it no longer holds (it restarted without its data). */
    async requeueLost(): Promise<void> {
      let lost = 0;
      for (const [id, job] of jobs) {
        if ((await queue.getJobState(id).catch(() => "")) !== "unknown") continue;
        await job.add().catch(() => {});
        lost++;
      }
      if (lost) log.warn(`queue: ${lost} awaited job(s) were no longer in Redis (restarted without its data?); enqueued again`);
    },
    /** While nothing is waiting, delayed or active: a job missing at two checks in a row was removed, and its service fails. */
    async failRemoved(): Promise<void> {
      if (jobs.size === 0) return;
      const counts = await queue.getJobCounts("waiting", "prioritized", "active", "delayed");
      if (Object.values(counts).some((n) => n > 0)) return;
      for (const [id, job] of jobs) {
        const missing = (await queue.getJobState(id)) === "unknown";
        if (missing && job.missing) job.removed(new SAError("E_CALL_FAILED", `job ${id} was removed from the queue before it ran (queue drain?); run again to enqueue it again`, { details: { stage: "queue" } }));
        job.missing = missing;
      }
    },
  };
}
export type AwaitedJobs = ReturnType<typeof createAwaitedJobs>;
