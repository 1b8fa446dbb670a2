#!/usr/bin/env bun
import type { Task } from "./_task.ts";
import { taskMeta } from "./_meta.ts";

/** The task catalogue: a flat record of lazy loaders. A task's module loads only when it runs. */
export const tasks: Record<keyof typeof taskMeta, () => Promise<{ default: Task<any> }>> = {
  preflight: () => import("./preflight.ts"),
  run: () => import("./_task-run.ts"),
  worker: () => import("./worker.ts"),
  queue: () => import("./queue.ts"),
  map: () => import("./_task-map.ts"),
  export: () => import("./export.ts"),
  diff: () => import("./diff.ts"),
  check: () => import("./check.ts"),
  cache: () => import("./cache.ts"),
  usage: () => import("./usage.ts"),
  batch: () => import("./batch.ts"),
  bench: () => import("./bench.ts"),
  "bench-export": () => import("./bench-export.ts"),
};

/** `list`: names and descriptions from the static meta table, loading no task. */
export function listTasks(json: boolean): string {
  const entries = Object.values(taskMeta).map(({ name, description }) => ({ name, description }));
  if (json) return `${JSON.stringify({ tasks: entries })}\n`;
  const width = Math.max(...entries.map((e) => e.name.length));
  return `service-ambitions tasks (bun scripts/index.ts <task> --help):\n${entries.map((e) => `  ${e.name.padEnd(width)}  ${e.description}`).join("\n")}\n`;
}

/** A usage error of the catalogue itself (E_USAGE): one line, exit 2; with --json also its one object on stdout, as every task gives it. */
function usageError(message: string, argv: string[]): void {
  process.stderr.write(`✖ ${message}\n`);
  if (argv.includes("--json")) process.stdout.write(`${JSON.stringify({ status: "error", exitCode: 2, code: "E_USAGE", error: message })}\n`);
  process.exitCode = 2;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version") {
    const { versionLine } = await import("../lib/version.ts");
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (!name || name === "list" || name === "--help" || name === "-h") {
    const unknown = rest.find((arg) => arg !== "--json");
    if (unknown) return usageError(`list: unknown flag ${unknown} (it takes --json)`, argv);
    process.stdout.write(listTasks(rest.includes("--json")));
    return;
  }
  const load = tasks[name as keyof typeof tasks];
  if (!load) {
    const { pythonCommandHint } = await import("../lib/python-flags.ts");
    const hint = pythonCommandHint(name);
    return usageError(`unknown task "${name}" (${hint ? `${hint}; see MIGRATING.md` : `known: ${Object.keys(tasks).join(", ")}`})`, argv);
  }
  // A task with a precompiled bundle starts from it when it is fresh, as `bun scripts/<task>.ts` does.
  const { startTask } = await import("./_start.ts");
  await startTask(name, load, rest);
}

if (import.meta.main) await main(process.argv.slice(2));
