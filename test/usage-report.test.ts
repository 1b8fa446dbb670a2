import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, fixtureServices, runScript, tempDir } from "./helpers.ts";

// What `usage` says of a ledger written by real runs of the synthetic model.

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir("sa-usage-report-")));
afterAll(() => cleanup());

const run = (output: string) => runScript("run", ["--model", "synthetic:demo", "--input", fixtureServices, "--output", output, "--data", fixtureData, "--quiet"], { cwd: dir });

describe("usage over runs that overlapped", () => {
  test("the ledger lists runs as they finished; --all names the earliest start to the latest, whatever their order", async () => {
    expect((await run("a.jsonl")).code).toBe(0);
    expect((await run("b.jsonl")).code).toBe(0);
    const path = join(dir, ".sa/usage.json");
    const ledger = JSON.parse(readFileSync(path, "utf8"));
    const starts = ledger.runs.map((r: { startedAt: string }) => r.startedAt).sort();
    // A long run that started first and finished last is listed after a short one it overlapped.
    ledger.runs.reverse();
    writeFileSync(path, JSON.stringify(ledger, null, 2));
    const shown = await runScript("usage", ["--all"], { cwd: dir });
    expect(shown.code).toBe(0);
    expect(shown.stdout.split("\n")[0]).toBe(`2 runs, ${starts[0]} to ${starts[1]}`);
  });
});
