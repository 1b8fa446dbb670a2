import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { writeFileAtomicSync } from "./atomic-write.ts";
import { fsReason } from "./fs-reason.ts";
import { SAError } from "./errors.ts";
import { redact } from "./redact.ts";
import { lockOwner, tryLock, unlock, withLock } from "./file-lock.ts";
import { priceDataVersion, roundUsd } from "./pricing.ts";
import { jsonIssueError, parseJsonText } from "./json-position.ts";
import { fastCheckOf } from "./zod-fast-check.ts";

const LEDGER_VERSION = 1;

export const totalsSchema = z.object({
  requests: z.number().int(),
  liveCalls: z.number().int(),
  cachedCalls: z.number().int(),
  inputTokens: z.number().int(),
  cachedInputTokens: z.number().int(),
  outputTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  retries: z.number().int(),
  costUsd: z.number(),
  savedCostUsd: z.number(),
  /** Live calls whose model has no price: their cost is unknown, not 0. */
  unpricedCalls: z.number().int().default(0),
  /** Calls that failed before any answer (no key, connection refused, retries exhausted): no tokens, no cost. */
  failedCalls: z.number().int().default(0),
  /** Calls that passed over a model that was down for the next one: no request was made to it. */
  skippedCalls: z.number().int().default(0),
  /** Live calls answered through a Batch API, and what they would have cost more live. */
  batchCalls: z.number().int().default(0),
  savedByBatchUsd: z.number().default(0),
});
export type Totals = z.infer<typeof totalsSchema>;

/** `crashed`: the process that ran it ended without finishing (kill -9, a crash), found when next read. */
const runStatuses = ["running", "ok", "failed", "interrupted", "limit", "crashed"] as const;
export const runRecordSchema = z.looseObject({
  runId: z.string(),
  task: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  status: z.enum(runStatuses),
  stopReason: z.string().nullable(),
  totals: totalsSchema,
  byStage: z.record(z.string(), totalsSchema),
  byModel: z.record(z.string(), totalsSchema),
  services: z.object({ total: z.number(), ok: z.number(), failed: z.number(), skipped: z.number(), redone: z.number().optional(), incomplete: z.number().optional() }).optional(),
  /** The price table its costs came from, and the config's prices (USD per million tokens) for its models that have one. */
  priceDataVersion: z.string().optional(),
  priceOverrides: z.record(z.string(), z.looseObject({ input: z.number(), output: z.number() })).optional(),
  /** The process running it, so a run left `running` by a dead process can be told apart. */
  pid: z.number().int().optional(),
  host: z.string().optional(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

export const ledgerSchema = z.object({
  version: z.literal(LEDGER_VERSION),
  priceDataVersion: z.string(),
  runs: z.array(runRecordSchema),
});
export type Ledger = z.infer<typeof ledgerSchema>;

export const emptyTotals = (): Totals => ({
  requests: 0, liveCalls: 0, cachedCalls: 0, inputTokens: 0, cachedInputTokens: 0,
  outputTokens: 0, reasoningTokens: 0, retries: 0, costUsd: 0, savedCostUsd: 0, unpricedCalls: 0, failedCalls: 0, skippedCalls: 0,
  batchCalls: 0, savedByBatchUsd: 0,
});

/** One call as the ledger sees it. */
export interface CallRecord {
  task: string;
  stage: string;
  serviceId: string;
  provider: string;
  /** The model asked for, `provider:model`. */
  model: string;
  /** The model that answered, as the provider named it. */
  answeredBy: string;
  /** `failed`: no answer came back (no key, connection refused, retries exhausted); `skipped`: not asked, its model down. */
  cache: "hit" | "live" | "failed" | "skipped";
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  latencyMs: number;
  retries: number;
  /** Spent on a live call; null when the model has no price. */
  costUsd: number | null;
  /** What a cache hit would have cost live. */
  savedCostUsd: number | null;
  /** `batch`: answered through a Batch API, priced at the batch rate. @default live */
  mode?: "batch";
  /** What a batch call would have cost more live. */
  savedByBatchUsd?: number | null;
}

export function addCall(t: Totals, c: CallRecord): void {
  const live = c.cache === "live";
  t.requests += c.cache === "hit" || c.cache === "skipped" ? 0 : 1 + c.retries;
  t.retries += c.retries;
  if (c.cache === "skipped") {
    t.skippedCalls++;
    return;
  }
  if (c.cache === "failed") {
    t.failedCalls++;
    return;
  }
  t.liveCalls += live ? 1 : 0;
  t.cachedCalls += live ? 0 : 1;
  if (live) {
    t.inputTokens += c.inputTokens;
    t.cachedInputTokens += c.cachedInputTokens;
    t.outputTokens += c.outputTokens;
    t.reasoningTokens += c.reasoningTokens;
    if (c.costUsd === null) t.unpricedCalls++;
    else t.costUsd = roundUsd(t.costUsd + c.costUsd);
    if (c.mode === "batch") {
      t.batchCalls++;
      t.savedByBatchUsd = roundUsd(t.savedByBatchUsd + (c.savedByBatchUsd ?? 0));
    }
  } else t.savedCostUsd = roundUsd(t.savedCostUsd + (c.savedCostUsd ?? 0));
}

export function addTotals(into: Totals, t: Totals): Totals {
  for (const key of Object.keys(into) as (keyof Totals)[]) into[key] = key.endsWith("Usd") ? roundUsd(into[key] + t[key]) : into[key] + t[key];
  return into;
}

/** Reads and checks a ledger; a missing file is an empty ledger. */
export function readLedger(path: string): Ledger {
  if (!existsSync(path)) return { version: LEDGER_VERSION, priceDataVersion, runs: [] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    // A folder, no permission: the system's message names no file.
    throw new SAError("E_DATA", `ledger ${path}: cannot be read (${fsReason(cause)})`, { cause });
  }
  const data = parseJsonText(text, `ledger ${path}`);
  // A ledger as we write it is taken as it is: zod's copy of every run costs tens of milliseconds
  // per write once a ledger holds a few thousand runs (and it is written every few seconds).
  if (fastCheckOf(ledgerSchema)?.(data)) return data as Ledger;
  const parsed = ledgerSchema.safeParse(data);
  if (!parsed.success) throw jsonIssueError(text, `ledger ${path}`, parsed.error);
  return parsed.data;
}

/**
 * Holds `<path>.lock` while `fn` runs, so concurrent runs take turns. A lock older than
 * `staleMs` was left by a crashed process and is broken.
 */
export function withLedgerLock<T>(path: string, fn: () => T, staleMs = 30_000): Promise<T> {
  const lock = `${path}.lock`;
  const held = () => new SAError("E_DATA", `ledger ${path}: lock ${lock} is held; remove it if no run is active`);
  return withLock(lock, fn, { staleMs, attempts: 2000, held });
}

/**
 * Reads the ledger, lets `change` edit it, and writes it back atomically, all under the lock:
 * concurrent writers lose nothing. `change` returns false when it changed nothing (no write).
 */
export async function updateLedger(path: string, change: (ledger: Ledger) => boolean | void): Promise<void> {
  await withLedgerLock(path, () => {
    const ledger = readLedger(path);
    if (change(ledger) === false) return;
    ledger.priceDataVersion = priceDataVersion;
    writeFileAtomicSync(path, `${JSON.stringify(ledger, null, 2)}\n`);
  });
}

/** Inserts or replaces one run. */
function putRun(ledger: Ledger, record: RunRecord): void {
  // The reason quotes an error, which may quote a provider: no secret goes into the file.
  const run = record.stopReason ? { ...record, stopReason: redact(record.stopReason) } : record;
  const index = ledger.runs.findIndex((r) => r.runId === run.runId);
  if (index >= 0) ledger.runs[index] = run;
  else ledger.runs.push(run);
}

/** Saves a run's record, under the ledger's lock. */
export async function saveRun(path: string, run: RunRecord): Promise<void> {
  await updateLedger(path, (ledger) => putRun(ledger, run));
}

/**
 * `saveRun` for a process that must exit now (a second Ctrl-C): one try at the lock, no waiting.
 * Returns false when another process holds it; the run's journal then completes the ledger later.
 */
export function saveRunNow(path: string, run: RunRecord): boolean {
  const lock = `${path}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  if (!tryLock(lock, `${JSON.stringify(lockOwner())}\n`)) return false;
  try {
    const ledger = readLedger(path);
    putRun(ledger, run);
    ledger.priceDataVersion = priceDataVersion;
    writeFileAtomicSync(path, `${JSON.stringify(ledger, null, 2)}\n`);
    return true;
  } finally {
    unlock(lock);
  }
}

/** Per-call detail, only with --ledger-calls: `<dir of ledger>/calls/<runId>.jsonl`. */
export function callsPath(ledgerPath: string, runId: string): string {
  return join(dirname(ledgerPath), "calls", `${runId}.jsonl`);
}

export function appendCall(path: string, call: CallRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify(call)}\n`);
}
