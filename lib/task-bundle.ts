import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Precompiled task bundles: a task's own code with the packages it always needs (zod, citty,
 * consola, unstorage...) in one file with its JavaScriptCore bytecode, which starts in a fraction
 * of the time it takes to read and compile ~110 modules. `bun install` builds them (postinstall,
 * lib/task-bundle-build.ts); a run never writes one. A run uses its task's bundle only while it
 * is fresh: built by this Bun, for this checkout, from files that are all still as they were.
 * Anything else (an edit, a `git pull`, a moved checkout, no bundle, `SA_NO_PRECOMPILED=1`)
 * and the task loads from source, as it would without a bundle: it is the same code.
 *
 * This module is on the way to every bundled run, before anything else: it loads nothing but
 * node:fs and node:path (no zod: the manifest is our own file, and one that does not read as
 * expected only means "not fresh").
 */

/** `SA_NO_PRECOMPILED=1`: every precompiled copy and bundle is left aside, and code loads from source. */
export const precompiledOff = (env: Record<string, string | undefined> = process.env): boolean => Boolean(env.SA_NO_PRECOMPILED) && env.SA_NO_PRECOMPILED !== "0";

/** The tasks `bun install` bundles. */
export const bundledTasks = ["run"] as const;

/** The project's root folder (this file is in lib/). */
export const projectRoot = join(import.meta.dir, "..");

/** The start of the names of a task's bundle folders, one per Bun version. */
export const taskBundleFamily = (task: string): string => `task-${task}-bun-`;

/** Where a task's bundle for this Bun lives, under `root`'s node_modules. */
export const taskBundleDir = (task: string, root = projectRoot): string =>
  join(root, "node_modules", ".cache", "service-ambitions", `${taskBundleFamily(task)}${Bun.version}`);

/** The bundle's code, and its record of what went into it. */
export const bundleFiles = (dir: string) => ({ code: join(dir, "index.js"), manifest: join(dir, "inputs.json") });

/** One file that went into a bundle, as it was when the bundle was built. */
export type BundleInput = [path: string, size: number, mtimeMs: number];

/** What `inputs.json` records. */
export interface BundleManifest {
  bun: string;
  root: string;
  inputs: BundleInput[];
}

function readManifest(path: string): BundleManifest | string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "no bundle (bun install builds it)";
  }
  let m: Partial<BundleManifest> | null;
  try {
    m = JSON.parse(text);
  } catch {
    m = null;
  }
  const inputOk = (i: unknown) => Array.isArray(i) && typeof i[0] === "string" && typeof i[1] === "number" && typeof i[2] === "number";
  const ok = m && typeof m.bun === "string" && typeof m.root === "string" && Array.isArray(m.inputs) && m.inputs.every(inputOk);
  return ok ? (m as BundleManifest) : `${path} does not read as a bundle's inputs`;
}

/** Why the bundle in `dir` is not fresh for `root`, or undefined when it is. */
function staleReason(dir: string, root = projectRoot): string | undefined {
  const manifest = readManifest(bundleFiles(dir).manifest);
  if (typeof manifest === "string") return manifest;
  if (manifest.bun !== Bun.version) return `built by Bun ${manifest.bun}`;
  if (manifest.root !== root) return `built for ${manifest.root}`;
  for (const [path, size, mtimeMs] of manifest.inputs) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat || stat.size !== size || stat.mtimeMs !== mtimeMs) return `${path.startsWith(root) ? path.slice(root.length + 1) : path} changed since it was built`;
  }
  return undefined;
}

/** What a task bundle exports: the task and the runner, from one module graph. */
export interface TaskBundle<Task = unknown> {
  task: Task;
  runTask(task: Task, rawArgs: string[], options?: { note?: string }): Promise<never>;
}

export type BundleChoice<Task> = { bundle: TaskBundle<Task>; note: string } | { bundle?: undefined; note: string };

/**
 * The task's bundle when it is fresh and loads, with a line saying so; else why not. Never
 * throws: a bundle that does not load is no bundle.
 */
export function loadTaskBundle<Task>(task: string, env: Record<string, string | undefined> = process.env, root = projectRoot): BundleChoice<Task> {
  if (precompiledOff(env)) return { note: `task code: source (SA_NO_PRECOMPILED=${env.SA_NO_PRECOMPILED})` };
  const started = performance.now();
  const dir = taskBundleDir(task, root);
  const reason = staleReason(dir, root);
  const checked = `checked in ${(performance.now() - started).toFixed(1)} ms`;
  if (reason) return { note: `task code: source (precompiled bundle not used: ${reason}; ${checked})` };
  try {
    const bundle = require(bundleFiles(dir).code) as TaskBundle<Task>;
    if (bundle && bundle.task && typeof bundle.runTask === "function") return { bundle, note: `task code: precompiled bundle ${dir} (fresh, ${checked})` };
    return { note: `task code: source (precompiled bundle not used: it exports no task)` };
  } catch (error) {
    return { note: `task code: source (precompiled bundle not used: it does not load: ${(error as Error)?.message?.split("\n")[0]})` };
  }
}
