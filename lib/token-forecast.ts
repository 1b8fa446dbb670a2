import type { Usage } from "../providers/types.ts";
import type { Stage } from "./call-spec.ts";

/** Answers remembered per stage and model: enough for a stable high percentile, and recent. */
const WINDOW = 128;
/** The billed ÷ counted ratio of every model together (no model id contains a newline). */
const ANY_MODEL = "\n";
/** Answers of this run needed before they outweigh the ledger's history and the config. */
const MIN_SAMPLES = 4;

export interface TokenForecastOptions {
  /** Expected output tokens per stage from config: the last resort. */
  configured: Record<Stage, number>;
  /** Average output tokens per stage from the ledger's past runs of a model (read on first use). */
  history?: (model: string) => Partial<Record<Stage, number>>;
  /** The share of answers a reservation should cover. @default 0.9 */
  percentile?: number;
}

export interface TokenForecast {
  /** Output tokens to reserve for a call: this run's high percentile, then history, then config. */
  output(stage: Stage, model: string): number;
  /** Prompt tokens as the provider will bill them, from our own count. */
  input(counted: number, model: string): number;
  /** After a live call: learn from what the provider billed. */
  observe(call: { stage: Stage; model: string; counted: number; usage: Usage }): void;
}

/** Where `value` goes in ascending `sorted` (binary search). */
function insertionPoint(sorted: number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Recent values (a ring) kept sorted as they arrive, so the high percentile is one index away. */
function recent(percentile: number) {
  const ring: number[] = [];
  const sorted: number[] = [];
  let next = 0;
  return {
    add(value: number) {
      if (ring.length < WINDOW) ring.push(value);
      else {
        sorted.splice(insertionPoint(sorted, ring[next]!), 1);
        ring[next] = value;
      }
      next = (next + 1) % WINDOW;
      sorted.splice(insertionPoint(sorted, value), 0, value);
    },
    get size() {
      return ring.length;
    },
    get high() {
      return sorted[Math.min(sorted.length - 1, Math.floor(percentile * sorted.length))] ?? 0;
    },
  };
}

/**
 * Learns, during a run, how large answers are and how the provider counts prompts, so limits
 * and budgets reserve what calls really use: a fixed guess either wastes the token quota (too
 * high) or draws 429s (too low).
 */
export function createTokenForecast(options: TokenForecastOptions): TokenForecast {
  const percentile = options.percentile ?? 0.9;
  const outputs = new Map<string, ReturnType<typeof recent>>();
  const history = new Map<string, Partial<Record<Stage, number>>>();
  // Billed ÷ counted prompt tokens per model: tokenizers and message framing differ by provider.
  const ratios = new Map<string, { billed: number; counted: number }>();
  return {
    output(stage, model) {
      const seen = outputs.get(`${stage}\n${model}`);
      if (seen && seen.size >= MIN_SAMPLES) return Math.max(1, seen.high);
      if (options.history && !history.has(model)) history.set(model, options.history(model));
      return history.get(model)?.[stage] ?? options.configured[stage];
    },
    input(counted, model) {
      // A model not yet answered is weighed by what the run's other models were billed: closer
      // than our own count, and a limit is checked before that model's first call.
      const ratio = ratios.get(model) ?? ratios.get(ANY_MODEL);
      return ratio && ratio.counted > 0 ? Math.ceil(counted * (ratio.billed / ratio.counted)) : counted;
    },
    observe({ stage, model, counted, usage }) {
      if (usage.inputTokens <= 0 && usage.outputTokens <= 0) return;
      const key = `${stage}\n${model}`;
      if (!outputs.has(key)) outputs.set(key, recent(percentile));
      outputs.get(key)!.add(usage.outputTokens);
      if (counted > 0 && usage.inputTokens > 0) {
        for (const key of [model, ANY_MODEL]) {
          const ratio = ratios.get(key) ?? { billed: 0, counted: 0 };
          ratio.billed += usage.inputTokens;
          ratio.counted += counted;
          ratios.set(key, ratio);
        }
      }
    },
  };
}
