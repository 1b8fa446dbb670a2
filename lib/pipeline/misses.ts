import type { Config } from "../schema/config.ts";
import { roundUsd } from "../pricing.ts";
import { overLimits } from "../usage-guard.ts";
import type { Misses, MissesEstimate } from "./engine-types.ts";


/** A dry run's misses summed: what a run would send and pay, and the limits that would stop it. */
export function estimateMisses(misses: Misses, config: Pick<Config, "limits" | "budget">): MissesEstimate {
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd: number | null = 0;
  for (const m of misses) {
    inputTokens += m.inputTokens;
    outputTokens += m.outputTokens;
    costUsd = costUsd === null || m.costUsd === null ? null : roundUsd(costUsd + m.costUsd);
  }
  const estimate = { calls: misses.length, inputTokens, outputTokens, costUsd };
  return { ...estimate, over: overLimits(estimate, config.limits, config.budget) };
}

/** One line: what the misses would use and cost, and what would stop a run. */
export function describeMissesEstimate(estimate: MissesEstimate): string {
  const cost = estimate.costUsd === null ? "cost unknown (no price for a model)" : `about $${estimate.costUsd.toFixed(4)}`;
  const over = estimate.over.length ? `; ${estimate.over.join("; ")}` : "";
  return `about ${estimate.inputTokens} input and ${estimate.outputTokens} output tokens, ${cost}${over}`;
}
