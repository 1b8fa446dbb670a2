import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, spawnScript, tempDir, until } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

let dir: string;
let cleanup: () => void;
let big: string;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-export-signals-"));
  const { lines } = await syntheticEvolutions(dir);
  // Enough services that an export is still writing its temp file when the signal comes.
  const copies = Array.from({ length: 120 }, (_, i) => lines.map((l) => JSON.stringify({ ...l, service: { ...l.service, service_id: `${l.service.service_id}-${i}` } })));
  big = join(dir, "big.jsonl");
  writeFileSync(big, `${copies.flat().join("\n")}\n`);
}, 60_000);
afterAll(() => cleanup());

/** Starts an export to `name`, waits until its temp file is being written, sends `signal`, and returns how it ended. */
async function interruptedExport(name: string, signal: "SIGINT" | "SIGTERM", json: boolean) {
  const output = join(dir, name);
  writeFileSync(output, "the earlier export");
  const proc = spawnScript("export", ["--input", big, "--output", output, "--data", fixtureData, ...(json ? ["--json"] : [])], { cwd: dir });
  const temp = `${output}.${proc.pid}.tmp`;
  await until(() => existsSync(temp) || proc.exitCode !== null, `${name}'s temp file`);
  expect(proc.exitCode).toBeNull();
  proc.kill(signal);
  const [stdout] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return { proc, output, stdout };
}

describe("export: Ctrl-C and SIGTERM", () => {
  for (const [name, signal, code, json] of [["report.xlsx", "SIGINT", 130, false], ["report.html", "SIGTERM", 143, true]] as const) {
    test(`${signal} during an ${name.split(".")[1]} export${json ? " --json" : ""}: exit ${code} (not a death by signal), the earlier file kept, no temp file left`, async () => {
      const { proc, output, stdout } = await interruptedExport(name, signal, json);
      expect(proc.signalCode).toBeNull();
      expect(proc.exitCode).toBe(code);
      if (json) expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "interrupted", exitCode: code });
      else expect(stdout).toBe("");
      expect(readFileSync(output, "utf8")).toBe("the earlier export");
      expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    }, 60_000);
  }
});
