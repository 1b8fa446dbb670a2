import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { measure, type Measured } from "./child.ts";
import { writeServices } from "./pipeline.ts";

const root = join(import.meta.dir, "..");

export interface CachedResult {
  services: number;
  entries: number;
  fill: Measured;
  rerun: Measured & { cachedCalls: number; liveCalls: number };
  unstorage: Measured;
  /** In one thread, start-up left out: reading and parsing every entry, and writing every output line (bench/cached-floor.ts). */
  floor: { readParseMs: number; writeMs: number };
}

/**
 * Fills an fs cache with a run of the synthetic model, then times a fully cached rerun against
 * reading the same entries with unstorage alone. Both are whole processes, timed the same way.
 */
export async function cachedRerun(services: number, data: string, dir: string): Promise<CachedResult> {
  const work = join(dir, "cached");
  mkdirSync(work, { recursive: true });
  writeServices(join(work, "services.jsonl"), services);
  writeFileSync(join(work, "service-ambitions.config.json"), JSON.stringify({ dataDir: data, model: "synthetic:bench", concurrency: 16, cache: { driver: "fs", base: ".sa/cache" } }));
  const run = (output: string) => measure(["bun", join(root, "scripts", "run.ts"), "--input", "services.jsonl", "--output", output, "--json", "--quiet"], { cwd: work });
  const fill = await run("fill.jsonl");
  const rerun = await run("rerun.jsonl");
  const totals = JSON.parse(rerun.stdout.trim().split("\n").at(-1) || "{}").totals ?? { cachedCalls: 0, liveCalls: 0 };
  const unstorage = await measure(["bun", join(root, "bench", "unstorage-read.ts"), ".sa/cache"], { cwd: work });
  const entries = JSON.parse(unstorage.stdout.trim() || "{}").entries ?? 0;
  const floorRun = await measure(["bun", join(root, "bench", "cached-floor.ts"), ".sa/cache", "rerun.jsonl"], { cwd: work });
  const { readParseMs = Number.NaN, writeMs = Number.NaN } = JSON.parse(floorRun.stdout.trim() || "{}");
  return { services, entries, fill, rerun: { ...rerun, cachedCalls: totals.cachedCalls, liveCalls: totals.liveCalls }, unstorage, floor: { readParseMs, writeMs } };
}
