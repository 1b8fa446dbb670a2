#!/usr/bin/env bun
import { SAError } from "../lib/errors.ts";
import { versionLine } from "../lib/version.ts";
import type { Task } from "./_task.ts";
import { runTask } from "./_task.ts";

/** The task catalogue: a flat record of lazy loaders. */
export const tasks: Record<string, () => Promise<{ default: Task<any> }>> = {
  preflight: () => import("./preflight.ts"),
  run: () => import("./run.ts"),
  worker: () => import("./worker.ts"),
  queue: () => import("./queue.ts"),
  map: () => import("./map.ts"),
  export: () => import("./export.ts"),
  diff: () => import("./diff.ts"),
  check: () => import("./check.ts"),
  cache: () => import("./cache.ts"),
  usage: () => import("./usage.ts"),
  batch: () => import("./batch.ts"),
  bench: () => import("./bench.ts"),
  "bench-export": () => import("./bench-export.ts"),
};

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === "--version") {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (!name || name === "list" || name === "--help" || name === "-h") {
    const entries = await Promise.all(Object.entries(tasks).map(async ([key, load]) => ({ name: key, description: (await load()).default.meta.description })));
    if (rest.includes("--json")) process.stdout.write(`${JSON.stringify({ tasks: entries })}\n`);
    else {
      const width = Math.max(...entries.map((e) => e.name.length));
      process.stdout.write(`service-ambitions tasks (bun scripts/index.ts <task> --help):\n${entries.map((e) => `  ${e.name.padEnd(width)}  ${e.description}`).join("\n")}\n`);
    }
    return;
  }
  const load = tasks[name];
  if (!load) {
    process.stderr.write(`✖ ${new SAError("E_USAGE", `unknown task "${name}" (known: ${Object.keys(tasks).join(", ")})`).message}\n`);
    process.exit(2);
  }
  await runTask((await load()).default, rest);
}

if (import.meta.main) await main(process.argv.slice(2));
