import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "bun:test";
import { fixtureData, fixtureServices, runScript } from "../helpers.ts";

export interface EvolutionLine {
  meta: { run_id: string; created: string };
  service: { service_id: string; name: string };
  plateaus: Array<{
    plateau: number;
    plateau_name: string;
    service_description: string;
    features: Array<{ feature_id: string; name: string; description: string; score: { level: number; justification: string }; mappings: Record<string, unknown[]> }>;
  }>;
}

/** The fixture services run through the synthetic model, written in `dir`. */
export async function syntheticEvolutions(dir: string, model = "synthetic:demo", name = "evolutions.jsonl"): Promise<{ path: string; lines: EvolutionLine[] }> {
  const path = join(dir, name);
  const result = await runScript("run", ["--model", model, "--input", fixtureServices, "--output", path, "--data", fixtureData, "--quiet", "--cache-mode", "off"], { cwd: dir });
  expect(result.code).toBe(0);
  return { path, lines: readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as EvolutionLine) };
}
