import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

describe("synthetic: a catalogue too large for an enum", () => {
  test("its answers name catalogue items: no re-ask, nothing quarantined, every feature mapped", async () => {
    const { dir, cleanup } = tempDir("sa-synthetic-large-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      // The fixture catalogues hold 16 items: past an enumLimit of 4, their ids are plain strings.
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, enumLimit: 4 }));
      const result = await runScript("run", ["--model", "synthetic:demo", "--input", "services.jsonl", "--output", "out.jsonl", "--json", "--strict"], { cwd: dir, env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { quarantined: number; totals: { liveCalls: number } };
      expect(summary).toMatchObject({ quarantined: 0, totals: { liveCalls: 21 } });
      expect(result.code).toBe(0);
      const ids = new Set((JSON.parse(readFileSync(join(fixtureData, "applications.json"), "utf8")) as { items: Array<{ id: string }> }).items.map((i) => i.id));
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8")) as { plateaus: Array<{ features: Array<{ mappings: Record<string, Array<{ item: string }>> }> }> };
      const items = line.plateaus.flatMap((p) => p.features.flatMap((f) => f.mappings.applications ?? []));
      expect(items.length).toBeGreaterThan(0);
      for (const { item } of items) expect(ids.has(item)).toBe(true);
    } finally {
      cleanup();
    }
  }, 60_000);
});
