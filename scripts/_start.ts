import { exitOnSignal, signalExitCode, type StopSignal } from "../lib/signals.ts";
import { bundledTasks, loadTaskBundle, type TaskBundle } from "../lib/task-bundle.ts";
import type { Task } from "./_task.ts";

type Runner = TaskBundle<Task<any>>;

async function fromSource(source: () => Promise<{ default: Task<any> }>): Promise<Runner> {
  const [{ runTask }, task] = await Promise.all([import("./_task.ts"), source()]);
  return { runTask, task: task.default };
}

/** The --json object of a run stopped before it began: scripts that parse it still get one. */
const interruptedAtStart = (signal: StopSignal) => `${JSON.stringify({ status: "interrupted", exitCode: signalExitCode(signal), stopReason: `${signal} received before the run began` })}\n`;

/**
 * Starts a task as a program: from its precompiled bundle when `bun install` built one and it is
 * fresh (lib/task-bundle.ts), else from source. Either way it is the same code, so flags, output,
 * exit codes and signals are the same; `--verbose` says which was used. This module and the check
 * load nothing else (but lib/signals.ts, a few lines): the task's code loads only once the choice is made.
 */
export async function startTask(name: string, source: () => Promise<{ default: Task<any> }>, rawArgs = process.argv.slice(2)): Promise<never> {
  // A Ctrl-C while run's or map's code loads exits 130 too (they install the same as they start, once).
  // runTask installs it for export, diff and check (every task with --json), preflight as it starts; the others keep the default action.
  if (name === "run" || name === "map") exitOnSignal(process.exit, { lastWords: rawArgs.includes("--json") ? interruptedAtStart : undefined });
  const choice = (bundledTasks as readonly string[]).includes(name) ? loadTaskBundle<Task<any>>(name) : undefined;
  // Both ways await here, so even a --verbose stack trace reads the same.
  const { runTask, task } = await (choice?.bundle ?? fromSource(source));
  return runTask(task, rawArgs, { note: choice?.note });
}
