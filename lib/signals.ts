/** SIGPIPE stands for stdout's reader going away (EPIPE): the run stops as on SIGTERM, exit 141. */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGPIPE";
export const signalExitCode = (signal: StopSignal) => ({ SIGINT: 130, SIGTERM: 143, SIGPIPE: 141 })[signal];

/**
 * The first Ctrl-C (or SIGTERM) asks for a graceful stop; a second one calls `exit` (at once,
 * unless it first finishes a line being written). Returns a function that removes the handlers.
 */
export function onStopSignal(handler: (signal: StopSignal) => void, exit: (code: number) => void = process.exit): () => void {
  (globalThis as Record<symbol, unknown>)[runHandled] = true;
  let received = false;
  const listener = (signal: "SIGINT" | "SIGTERM") => {
    if (received) return exit(signalExitCode(signal));
    received = true;
    handler(signal);
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return () => {
    process.off("SIGINT", listener);
    process.off("SIGTERM", listener);
  };
}

// Marks the listener of `exitOnSignal`: the same for every copy of this module (a task's bundle has its own).
const fallback = Symbol.for("service-ambitions.exitOnSignal");
// Set once a run handles signals itself: from then on the run says how it ended (its summary), not `lastWords`.
const runHandled = Symbol.for("service-ambitions.runHandledSignals");

/**
 * For run and map: while nothing else handles SIGINT or SIGTERM (start-up, the last steps), one
 * exits with 130 or 143, the exit codes the README promises, rather than killing the process, so
 * 'exit' hooks still run (the output's lock). A handler of `onStopSignal` takes precedence while
 * it is installed. Installed once, however often called. A listener only runs when the event
 * loop turns: the exports stream, so it runs within milliseconds of the signal (a few hundred
 * while their modules load); a task that computes for long without yielding should not use it.
 */
export function exitOnSignal(exit: (code: number) => never = process.exit, options: { /** A line for stdout when the signal comes before the run began (a `--json` object). */ lastWords?: (signal: StopSignal) => string | undefined } = {}): void {
  if (process.listeners("SIGINT").some((l) => fallback in l)) return;
  let exiting = false;
  const listener = Object.assign((signal: "SIGINT" | "SIGTERM") => {
    if (process.listeners(signal).some((l) => !(fallback in l))) return;
    // The line stdout's reader is taking (the last evolution, the --json summary) goes out whole
    // first, as on a run's second signal; another signal meanwhile does not wait for the reader.
    if (exiting) return exit(signalExitCode(signal));
    exiting = true;
    const words = (globalThis as Record<symbol, unknown>)[runHandled] ? undefined : options.lastWords?.(signal);
    // (Loaded then: a run's start loads nothing here but this file and the bundle check.)
    void import("./stdout.ts")
      .then(({ flushStdout, writeStdout }) => {
        if (words) void writeStdout(words);
        return flushStdout();
      })
      .then(() => exit(signalExitCode(signal)));
  }, { [fallback]: true });
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
}
