import type { Clock } from "./clock.ts";
import { divertLogLines, type Log } from "./log.ts";
import type { MultiBar } from "cli-progress";

export interface StageProgress {
  done: number;
  total: number;
}

export interface ProgressCounts {
  servicesDone: number;
  servicesFailed: number;
  servicesTotal?: number;
  calls: number;
  cached: number;
  retries: number;
  costUsd: number;
  byStage: Record<string, StageProgress>;
  /** The run is stopping (a signal, a limit): what is left will not be done, so no ETA is given. */
  stopping?: boolean;
}

/** Reads the counts itself (from `read`) on its own schedule; `tick` says a service finished. */
export interface Progress {
  start(read: () => ProgressCounts): void;
  tick(): void;
  stop(): void;
}

export const noProgress: Progress = { start() {}, tick() {}, stop() {} };

const rate = (calls: number, ms: number) => calls / Math.max(0.001, ms / 1000);

/** The ETA, or that the run is stopping (calls in flight finish, nothing new starts). */
const etaText = (c: ProgressCounts, elapsedMs: number) => (c.stopping ? "stopping" : `ETA ${eta(c, elapsedMs)}`);

function eta(c: ProgressCounts, elapsedMs: number): string {
  const total = Object.values(c.byStage).reduce((n, s) => n + s.total, 0);
  const done = Object.values(c.byStage).reduce((n, s) => n + Math.min(s.done, s.total), 0);
  if (!total || !done || done >= total) return "-";
  const seconds = Math.round(((total - done) * elapsedMs) / done / 1000);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s` : `${seconds}s`;
}

/**
 * Plain lines for CI and other non-TTY runs: one every `everyMs`, and one at each further 10% of
 * the services. No ANSI escapes.
 */
function createPlainProgress(log: Log, clock: Clock, everyMs = 10_000): Progress {
  let read: (() => ProgressCounts) | undefined;
  let started = 0;
  let lastDecile = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  // The last line has no ETA: the run is over, done or stopped.
  const line = (prefix: "progress" | "finished") => {
    const c = read!();
    const elapsed = clock.now() - started;
    const of = c.servicesTotal ? `/${c.servicesTotal}` : "";
    const stages = Object.entries(c.byStage).map(([s, p]) => `${s} ${Math.min(p.done, p.total)}/${p.total}`).join(", ");
    log.info(`${prefix}: ${c.servicesDone}${of} services done${c.servicesFailed ? ` (${c.servicesFailed} failed)` : ""}; calls ${stages}; ${c.cached} cached, ${c.retries} retries, $${c.costUsd.toFixed(4)}, ${rate(c.calls, elapsed).toFixed(1)} calls/s${prefix === "progress" ? `, ${etaText(c, elapsed)}` : ""}`);
  };
  return {
    start(r) {
      read = r;
      started = clock.now();
      timer = setInterval(() => line("progress"), everyMs);
      timer.unref?.();
    },
    tick() {
      if (!read) return;
      const c = read();
      const decile = c.servicesTotal ? Math.floor(((c.servicesDone + c.servicesFailed) / c.servicesTotal) * 10) : 0;
      if (decile > lastDecile) {
        lastDecile = decile;
        line("progress");
      }
    },
    stop() {
      if (timer) clearInterval(timer);
      if (read) line("finished");
    },
  };
}

/** Fills the bars from the counts: a services bar, then one bar per stage, made as stages appear. */
function barUpdater(bars: MultiBar): (c: ProgressCounts, elapsedMs: number) => void {
  const stageBars = new Map<string, ReturnType<MultiBar["create"]>>();
  let summary: ReturnType<MultiBar["create"]> | undefined;
  return (c, elapsed) => {
    const servicesTotal = c.servicesTotal ?? c.servicesDone + c.servicesFailed;
    // Spread over the lines so each fits an 80-column terminal.
    const speed = `| ${rate(c.calls, elapsed).toFixed(1)} calls/s | ${etaText(c, elapsed)}${c.servicesFailed ? ` | ${c.servicesFailed} failed` : ""}`;
    const info = `| cached ${c.cached} | retries ${c.retries} | $${c.costUsd.toFixed(4)}`;
    summary ??= bars.create(Math.max(1, servicesTotal), 0, { stage: "services".padEnd(12), info: "" });
    summary.setTotal(Math.max(1, servicesTotal));
    summary.update(c.servicesDone + c.servicesFailed, { stage: "services".padEnd(12), info: speed });
    for (const [stage, p] of Object.entries(c.byStage)) {
      let bar = stageBars.get(stage);
      if (!bar) stageBars.set(stage, (bar = bars.create(Math.max(1, p.total), 0, { stage: stage.padEnd(12), info: "" })));
      bar.setTotal(Math.max(1, p.total));
      bar.update(Math.min(p.done, p.total), { stage: stage.padEnd(12), info: stage === "mapping" ? info : "" });
    }
  };
}

/** A live display on a TTY: one bar per stage, with calls/s, cache hits, retries, cost and ETA. */
async function createTtyProgress(clock: Clock, stream: NodeJS.WriteStream = process.stderr): Promise<Progress> {
  const { MultiBar, Presets } = await import("cli-progress");
  const bars = new MultiBar(
    {
      stream,
      format: " {stage} {bar} {value}/{total} {info}",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      forceRedraw: true,
      fps: 8,
    },
    Presets.shades_classic,
  );
  const update = barUpdater(bars);
  let read: (() => ProgressCounts) | undefined;
  let started = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  // The bars hide the cursor and turn line wrapping off. Every way out (a second Ctrl-C exits at
  // once, a crash) must turn both back on, and end the last bar's line so the shell's prompt starts
  // on its own: "exit" listeners run on all of them, synchronously.
  const showCursor = () => stream.write("\x1b[?25h\x1b[?7h\n");
  const render = () => update(read!(), clock.now() - started);
  return {
    start(r) {
      read = r;
      started = clock.now();
      process.once("exit", showCursor);
      render();
      // A line logged while the bars are drawn goes above them: written straight to the terminal it
      // would land at the end of the last bar and be drawn over. Line wrapping, off for the bars, is
      // on for the line, so a long message wraps rather than being cut.
      if (stream === process.stderr) divertLogLines((text) => {
        bars.log(`\x1b[J\x1b[?7h${text}\x1b[?7l`);
        bars.update();
      });
      timer = setInterval(render, 125);
      timer.unref?.();
    },
    tick() {},
    stop() {
      if (timer) clearInterval(timer);
      if (read) render();
      bars.stop();
      divertLogLines(undefined);
      process.off("exit", showCursor);
    },
  };
}

/**
 * TTY → live bars; CI or no TTY → plain lines; --quiet → nothing. `resultsOnTerminal`: results go
 * to stdout and stdout is a terminal too (`--output -` unpiped): lines written there would break
 * the bars' cursor moves and be drawn over, so the progress is plain lines among them.
 */
export async function createProgress(options: { log: Log; clock: Clock; quiet?: boolean; json?: boolean; resultsOnTerminal?: boolean; stream?: NodeJS.WriteStream; env?: Record<string, string | undefined> }): Promise<Progress> {
  if (options.quiet) return noProgress;
  const stream = options.stream ?? process.stderr;
  const ci = (options.env ?? process.env).CI;
  const tty = Boolean(stream.isTTY) && !(ci && ci !== "false" && ci !== "0") && !options.json && !options.resultsOnTerminal;
  return tty ? createTtyProgress(options.clock, stream) : createPlainProgress(options.log, options.clock);
}
