#!/usr/bin/env bun
/**
 * Run by `bun install` (package.json `postinstall`): precompiles the openai SDK and the price
 * table (lib/precompiled.ts), then the bundled tasks' own code (lib/task-bundle-build.ts), so runs
 * start faster. It never fails an install: without a copy or a bundle, runs load the source and
 * packages as usual. `bun scripts/_precompile.ts` builds them again by hand.
 */
import { buildPrecompiled, keptPackageCopy, pruneStale } from "../lib/precompiled.ts";
import { buildTaskBundle } from "../lib/task-bundle-build.ts";
import { bundledTasks, taskBundleDir, taskBundleFamily } from "../lib/task-bundle.ts";

async function step(what: string, build: () => Promise<string>): Promise<void> {
  const started = performance.now();
  try {
    const done = await build();
    process.stderr.write(`${what} precompiled in ${Math.round(performance.now() - started)} ms: ${done}\n`);
  } catch (error) {
    process.stderr.write(`⚠ ${what} not precompiled (runs load it from source as usual): ${(error as Error).message.split("\n")[0]}\n`);
  }
}

// The SDK (lib/openai-sdk.ts) and the price table (lib/pricing.ts).
const packages = ["openai", "@pydantic/genai-prices"];
for (const name of packages) await step(name, () => buildPrecompiled(name));
// Always rebuilt: an install may have changed the packages a bundle holds.
for (const task of bundledTasks) {
  await step(`task ${task}`, async () => {
    const { dir, inputs } = await buildTaskBundle(task);
    return `${dir} (${inputs} files checked for freshness)`;
  });
}
// Copies and bundles for other versions of a package or of Bun are never used again.
try {
  const removed = pruneStale([...packages.map((name) => keptPackageCopy(name)), ...bundledTasks.map((task) => ({ dir: taskBundleDir(task), family: taskBundleFamily(task) }))]);
  if (removed.length) process.stderr.write(`removed ${removed.length} precompiled cop${removed.length === 1 ? "y" : "ies"} no run will use again: ${removed.join(", ")}\n`);
} catch (error) {
  process.stderr.write(`⚠ old precompiled copies not removed: ${(error as Error).message.split("\n")[0]}\n`);
}
