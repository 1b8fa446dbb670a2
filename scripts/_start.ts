import { bundledTasks, loadTaskBundle } from "../lib/task-bundle.ts";
import type { Task } from "./_task.ts";

/**
 * Starts a task as a program: from its precompiled bundle when `bun install` built one and it is
 * fresh (lib/task-bundle.ts), else from source. Either way it is the same code, so flags, output,
 * exit codes and signals are the same; `--verbose` says which was used. This module and the check
 * load nothing else: the task's code loads only once the choice is made.
 */
export async function startTask(name: string, source: () => Promise<{ default: Task<any> }>, rawArgs = process.argv.slice(2)): Promise<never> {
  const choice = (bundledTasks as readonly string[]).includes(name) ? loadTaskBundle<Task<any>>(name) : undefined;
  if (choice?.bundle) return choice.bundle.runTask(choice.bundle.task, rawArgs, { note: choice.note });
  const [{ runTask }, task] = await Promise.all([import("./_task.ts"), source()]);
  return runTask(task.default, rawArgs, { note: choice?.note });
}
