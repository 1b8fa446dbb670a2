import { sha256Hex } from "../hash.ts";
import { resolve } from "node:path";
import type { Config } from "../schema/config.ts";

/**
 * Names a run's batches in the store: the same input, output and model find them again. Kept
 * apart from `mode.ts` so every run can name its batches without loading the Batch API code.
 */
export function batchRunKey(input: string, output: string, config: Pick<Config, "model" | "context">): string {
  const text = JSON.stringify({ input: input === "-" ? "-" : resolve(input), output: output === "-" ? "-" : resolve(output), model: config.model, context: config.context });
  return sha256Hex(text).slice(0, 16);
}
