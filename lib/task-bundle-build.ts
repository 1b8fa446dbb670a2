import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { randomHex } from "./hash.ts";
import { buildBytecode } from "./precompiled.ts";
import { bundleFiles, projectRoot, taskBundleDir, type BundleInput, type BundleManifest } from "./task-bundle.ts";

/**
 * Builds a task's precompiled bundle (lib/task-bundle.ts): `bun build --target=bun --format=cjs
 * --bytecode` of the task and the runner. Only `bun install` calls this (postinstall).
 */

/**
 * Packages a run loads only when it needs them (or through their own precompiled copies): they
 * stay in node_modules, so a run that never needs them never reads them, and the bundle stays
 * small (inlined, they would raise every run's memory for code most runs never call).
 */
export const lazyPackages = [
  // Exports, the queue, traces, token counts, the SDK and the price table.
  "exceljs",
  "bullmq",
  "ioredis",
  "@opentelemetry/*",
  "js-tiktoken",
  "js-tiktoken/*",
  "csv-stringify",
  "csv-stringify/*",
  "openai",
  "openai/*",
  "@pydantic/genai-prices",
  // YAML configs and error positions, Redis-shared rate limits, progress bars on a terminal.
  "yaml",
  "jsonc-parser",
  "rate-limiter-flexible",
  "cli-progress",
];

/** The entry: the task and the runner, so both come from one module graph (one SAError, one log). */
const entrySource = (root: string, task: string) =>
  `export { default as task } from ${JSON.stringify(join(root, "scripts", `_task-${task}.ts`))};\nexport { runTask } from ${JSON.stringify(join(root, "scripts", "_task.ts"))};\n`;

/**
 * What the freshness check stats: each project file that went in, and for each package that went
 * in, its package.json (a package changes only through an install, which rebuilds the bundle).
 */
function manifestInputs(inputs: string[], root: string): string[] {
  const files = new Set<string>();
  for (const path of inputs) {
    const at = path.lastIndexOf("/node_modules/");
    if (at < 0) {
      files.add(path);
      continue;
    }
    const rest = path.slice(at + "/node_modules/".length).split("/");
    const name = rest[0]!.startsWith("@") ? rest.slice(0, 2) : rest.slice(0, 1);
    files.add(join(path.slice(0, at), "node_modules", ...name, "package.json"));
  }
  return [...files].filter((path) => path.startsWith(`${root}/`) || path.includes("/node_modules/")).sort();
}

const stamp = (path: string): BundleInput => {
  const stat = statSync(path);
  return [path, stat.size, stat.mtimeMs];
};

/**
 * Bundles into the folder `out` (a sibling of the bundle's own, so the source map's relative paths
 * still hold once it is renamed into place); returns the absolute paths of every file that went in.
 */
async function bundle(task: string, root: string, out: string): Promise<string[]> {
  const entry = `${out}.entry.ts`;
  writeFileSync(entry, entrySource(root, task));
  try {
    // A linked source map: a --verbose stack trace names the source files, as a run from source does.
    const result = await buildBytecode({ entrypoints: [entry], outdir: out, sourcemap: "linked", external: lazyPackages, metafile: true });
    // The metafile names inputs relative to the working directory.
    const inputs = Object.keys(result.metafile?.inputs ?? {}).map((path) => resolve(path));
    if (!inputs.includes(join(root, "scripts", "_task.ts"))) throw new Error("the build's metafile does not list the task's files");
    return inputs.filter((path) => path !== entry);
  } finally {
    rmSync(entry, { force: true });
  }
}

/**
 * Builds a task's bundle for this Bun under `root`'s node_modules: into a temporary folder, then
 * swapped into place, so a run sees the old bundle, none, or the new one, never half of one.
 * Returns its folder and how many files its freshness check stats.
 */
export async function buildTaskBundle(task: string, root = projectRoot): Promise<{ dir: string; inputs: number }> {
  const target = taskBundleDir(task, root);
  const temp = `${target}.${randomHex(4)}.tmp`;
  mkdirSync(dirname(target), { recursive: true });
  try {
    const inputs = manifestInputs(await bundle(task, root, temp), root);
    const manifest: BundleManifest = { bun: Bun.version, root, inputs: inputs.map(stamp) };
    writeFileSync(bundleFiles(temp).manifest, `${JSON.stringify(manifest)}\n`);
    const old = `${target}.${randomHex(4)}.old`;
    if (existsSync(target)) renameSync(target, old);
    renameSync(temp, target);
    rmSync(old, { recursive: true, force: true });
    return { dir: target, inputs: inputs.length };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
