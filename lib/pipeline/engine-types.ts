import type { Totals } from "../ledger.ts";
import type { Clock } from "../clock.ts";
import type { Dataset } from "../data.ts";
import type { SAError } from "../errors.ts";
import type { Journal } from "../journal.ts";
import type { Limiter } from "../limits.ts";
import type { Log } from "../log.ts";
import type { EvolutionWriter } from "../output.ts";
import type { Progress } from "../progress.ts";
import type { Quarantine } from "../quarantine.ts";
import type { Recorder } from "../recorder.ts";
import type { Config } from "../schema/config.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import type { StopSignal } from "../signals.ts";
import type { Tracing } from "../tracing.ts";
import type { CallPlan } from "./call-plan.ts";
import type { PipelineContext } from "./context.ts";

export interface RunOptions {
  input: string;
  output: string;
  /** Ignore what the output already holds. */
  fresh?: boolean;
  strict?: boolean;
  /** Catch SIGINT/SIGTERM for a graceful stop. @default false (scripts turn it on) */
  handleSignals?: boolean;
  /** How long calls in flight may take to finish after a stop. @default 30000 */
  graceMs?: number;
  progress?: Progress;
  /** Known ahead for progress percentages (a file's line count). */
  expectedServices?: number;
  /** Read at most this many services from the input (the rest are left alone). */
  maxServices?: number;
  /** Services in flight at once. @default twice the concurrency (a queue coordinator enqueues them all) */
  window?: number;
  /** Called with the summary as it stands when a second signal ends the run at once (for `--json`); the exit waits for it. */
  onExitNow?: (summary: RunSummary) => void | Promise<void>;
}

export type RunStatus = "ok" | "failed" | "interrupted" | "limit";

/**
 * A dry run's calls not in the cache, each named by its stage, service, plateau and catalogue field
 * (those that apply), with what it would use and cost (null: no price known).
 */
export type Misses = Array<{ stage: string; serviceId: string; plateau?: string; field?: string; model: string; inputTokens: number; outputTokens: number; costUsd: number | null }>;

export interface MissesEstimate {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** USD, or null when some model has no known price. */
  costUsd: number | null;
  /** The usage limits and budget the estimate is over: a run would stop on them (exit 3). */
  over: string[];
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  exitCode: number;
  stopReason: string | null;
  /**
   * `redone`: in the output already, but made from other inputs (see `RecordHandler.fingerprint`).
   * `incomplete`: written (and counted in `ok`) with parts left empty by answers that stayed invalid (lib/pipeline/gaps.ts).
   */
  services: { total: number; ok: number; failed: number; skipped: number; redone: number; incomplete: number };
  badLines: number;
  quarantined: number;
  failures: Array<{ serviceId: string; stage: string; reason: string }>;
  misses: Misses;
  /** Dry run: the calls not in the cache, per stage. */
  missesByStage: Record<string, number>;
  /** Dry run: what the calls not in the cache would use and cost, and the limits that would stop a run. */
  missesEstimate?: MissesEstimate;
  totals: Totals;
  ledger: string;
  output: string;
}

/** How a task reads its input lines and turns each into an evolution. */
export interface RecordHandler<T> {
  task: string;
  /** Checks one input value: the item and its service id, or why the line is bad. */
  parse(value: unknown): { ok: true; item: T; serviceId: string } | { ok: false; reason: string } | { ok: false; skip: true };
  /** All calls go through the pipeline context's session; `position` orders work between services. */
  process(item: T, position: number): Promise<ServiceEvolution>;
  /** Skip services already complete in the output (run), or always start the output afresh (map). */
  resume: boolean;
  /** The input is a services file: a line that is not UTF-8 text is a bad line (lib/jsonl.ts `readRecords`). */
  strictUtf8?: boolean;
  /**
   * The fingerprint of one input value's inputs, stamped on its line (`meta.models.fingerprint`):
   * resume skips a service only when its line carries the same one.
   */
  fingerprint?(value: unknown): string;
  /** What a line the Python tool wrote (no fingerprint) must match to count as done (lib/python-line.ts). */
  pythonKey?(value: unknown): string;
  /** Calls one service makes at each stage, for progress totals (an estimate for records not read yet). */
  callsPerService: Record<string, number>;
  /** The calls one record will make at each stage, when records differ. @default callsPerService */
  callsOf?(item: T): Record<string, number>;
}

/**
 * What the engine and a task's handler are given of the run (lib/runtime.ts builds it): the stage
 * steps' context with the session, the stop signal, and the run's bookkeeping. Never the providers,
 * the cache or the limits themselves: every call goes through the session.
 */
export interface RunContext {
  runId: string;
  startedAt: string;
  /** Read for what the ledger and fingerprints name (models, seed, ledger path, concurrency). */
  config: Config;
  log: Log;
  clock: Clock;
  tracing: Tracing;
  data: Dataset;
  /**
   * The stop: dispatch stops, calls waiting for the limits fail with the reason, and `stopped`
   * (aborted with it) ends whatever else waits (an input still open, a queue's jobs).
   */
  limiter: Pick<Limiter, "stop" | "stopped">;
  recorder: Recorder;
  journal: Journal;
  quarantine: Quarantine;
  /** Calls a dry run could not serve from the cache. */
  misses: Misses;
  pipeline: PipelineContext;
}

/** Why a run stops before its input ends. */
export interface Stop {
  status: "limit" | "interrupted" | "fatal";
  reason: string;
  signal?: StopSignal;
  error?: SAError;
}

/** What a run has done so far; the one mutable state of the engine, held by `EngineRun`. */
export interface RunState {
  counts: { ok: number; failed: number; skipped: number; redone: number; incomplete: number; bad: number };
  failures: RunSummary["failures"];
  /** Service ids in input order (the output's order); a Set keeps insertion order and finds duplicates. */
  order: Set<string>;
  /** Services handed to the dispatcher so far (their positions). */
  dispatched: number;
  /** The calls the dispatched services will make (progress totals). */
  calls: CallPlan;
  stop?: Stop;
  /** A line the Python tool wrote was kept as done (said once). */
  keptPython?: boolean;
}

/** One run of the engine: what it was given and its state, passed to each part explicitly. */
export interface EngineRun<T> {
  rt: RunContext;
  options: RunOptions;
  handler: RecordHandler<T>;
  writer: EvolutionWriter;
  progress: Progress;
  state: RunState;
}
