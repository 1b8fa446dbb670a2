import type { Clock } from "./clock.ts";
import type { Log } from "./log.ts";

export interface ProgressCounts {
  servicesDone: number;
  servicesFailed: number;
  servicesTotal?: number;
  calls: number;
  cached: number;
  retries: number;
  costUsd: number;
  byStage: Record<string, number>;
}

export interface Progress {
  update(counts: ProgressCounts): void;
  done(counts: ProgressCounts): void;
}

/**
 * Plain progress lines for CI and other non-TTY runs: one every `everyMs`, or at every further
 * 10% of the services, whichever comes first. No ANSI escapes.
 */
export function createPlainProgress(log: Log, clock: Clock, everyMs = 10_000): Progress {
  const started = clock.now();
  let lastAt = started;
  let lastDecile = 0;
  const line = (c: ProgressCounts) => {
    const seconds = Math.max(0.001, (clock.now() - started) / 1000);
    const of = c.servicesTotal ? `/${c.servicesTotal}` : "";
    return `progress: ${c.servicesDone}${of} services done${c.servicesFailed ? ` (${c.servicesFailed} failed)` : ""}, ${c.calls} calls (${c.cached} cached, ${c.retries} retries), $${c.costUsd.toFixed(4)}, ${(c.calls / seconds).toFixed(1)} calls/s`;
  };
  return {
    update(c) {
      const decile = c.servicesTotal ? Math.floor(((c.servicesDone + c.servicesFailed) / c.servicesTotal) * 10) : 0;
      if (clock.now() - lastAt >= everyMs || decile > lastDecile) {
        lastAt = clock.now();
        lastDecile = decile;
        log.info(line(c));
      }
    },
    done(c) {
      log.info(line(c).replace("progress:", "finished:"));
    },
  };
}

export const noProgress: Progress = { update() {}, done() {} };
