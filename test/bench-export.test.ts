import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { root, runScript, tempDir } from "./helpers.ts";

// bench-export measures each export with GNU time; without it the task refuses (exit 2) before making any folder.
describe.skipIf(!existsSync("/usr/bin/time"))("bench-export's working folder", () => {
  test("a folder of its own is removed at the end; --dir keeps the evolutions and the exports", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const tmp = join(dir, "tmp");
      await Bun.write(join(tmp, ".keep"), "");
      const own = await runScript("bench-export", ["--services", "2", "--formats", "csv", "--json", "--quiet"], { cwd: root, env: { TMPDIR: tmp } });
      expect(own.code).toBe(0);
      expect(JSON.parse(own.stdout.trim().split("\n").at(-1)!).results.map((r: { format: string }) => r.format)).toEqual(["csv"]);
      expect(readdirSync(tmp)).toEqual([".keep"]);

      const kept = join(dir, "kept");
      const given = await runScript("bench-export", ["--services", "2", "--formats", "csv", "--dir", kept, "--quiet"], { cwd: root, env: { TMPDIR: tmp } });
      expect(given.code).toBe(0);
      expect(readdirSync(kept)).toEqual(expect.arrayContaining(["evolutions.jsonl", "export.csv", "services.jsonl"]));
    } finally {
      cleanup();
    }
  });
});
