import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { measure, type Measured } from "./child.ts";
import { writeServices } from "./pipeline.ts";

const root = join(import.meta.dir, "..");

/** Peak RSS of a whole run of `services` with the synthetic model and the cache off. */
export async function syntheticRun(services: number, data: string, dir: string): Promise<Measured & { services: number; ok: number }> {
  const work = join(dir, `rss-${services}`);
  mkdirSync(work, { recursive: true });
  writeServices(join(work, "services.jsonl"), services);
  writeFileSync(join(work, "service-ambitions.config.json"), JSON.stringify({ dataDir: data, model: "synthetic:bench", cacheMode: "off", concurrency: 16 }));
  const run = await measure(["bun", join(root, "scripts", "run.ts"), "--input", "services.jsonl", "--output", "out.jsonl", "--json", "--quiet"], { cwd: work });
  const ok = JSON.parse(run.stdout.trim().split("\n").at(-1) || "{}").services?.ok ?? 0;
  return { ...run, services, ok };
}
