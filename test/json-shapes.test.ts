import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, fixtureServices, root, runScript, tempDir } from "./helpers.ts";
import { startRedis } from "./redis-server.ts";

// Each task's --json object holds the keys the README gives it: the README is what scripts are written against.
const readme = readFileSync(join(root, "README.md"), "utf8").replace(/\s+/g, " ");

/** The top-level keys of the object the README shows first after `anchor` (`...` when it says there are more). */
function documentedKeys(anchor: string): string[] {
  const at = readme.indexOf(anchor);
  expect({ anchor, found: at >= 0 }).toEqual({ anchor, found: true });
  let text = readme.slice(readme.indexOf("{", at) + 1);
  let depth = 1;
  let top = "";
  for (const char of text) {
    if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") depth--;
    if (depth === 0) break;
    if (depth === 1 && char !== "}" && char !== "]") top += char;
  }
  text = top;
  return text.split(",").map((part) => part.split(":")[0]!.trim().replace(/\?$/, "")).filter(Boolean);
}

const keysOf = (stdout: string) => Object.keys(JSON.parse(stdout.trim().split("\n").at(-1)!) as object);

const { dir, cleanup } = tempDir();
const evolutions = join(dir, "out.jsonl");
const json = async (task: string, args: string[]) => keysOf((await runScript(task, [...args, "--json"], { cwd: dir })).stdout);

beforeAll(async () => {
  const args = ["--model", "synthetic:demo", "--data", fixtureData, "--input", fixtureServices, "--max-services", "2"];
  expect((await runScript("run", [...args, "--output", evolutions], { cwd: dir })).code).toBe(0);
});
afterAll(cleanup);

test.each([
  ["`preflight` `", "preflight", ["--model", "synthetic:demo", "--data", fixtureData, "--input", fixtureServices]],
  ["`usage` `", "usage", []],
  ["`cache stats` `", "cache", ["stats"]],
  ["`cache prune` and `clear` `", "cache", ["prune", "--older-than", "30d"]],
  ["`cache import` `", "cache", ["import", "--evolutions", "out.jsonl"]],
  ["`batch list` `", "batch", ["list"]],
  ["`list --json` `", "index", ["list"]],
  ["its `--json` object is `", "export", ["--input", "out.jsonl", "--output", "out.csv"]],
  ["or their plateau; `--json` (`", "check", ["--input", "out.jsonl"]],
  ["dates are not differences. `--json` prints `", "diff", ["out.jsonl", "out.jsonl"]],
] as const)("after %p the README gives the keys of %s's --json object", async (anchor, task, args) => {
  const documented = documentedKeys(anchor);
  expect(documented.length).toBeGreaterThan(0);
  expect((await json(task, [...args])).sort()).toEqual(documented.sort());
});

test("run's and map's objects hold at least the keys the README names", async () => {
  const named = documentedKeys("`--json` prints one summary object as the last line on stdout: `").filter((key) => key !== "...");
  expect(named).toEqual(["runId", "status", "services", "totals", "ledger"]);
  for (const [task, input] of [["run", fixtureServices], ["map", "out.jsonl"]] as const) {
    const keys = await json(task, ["--model", "synthetic:demo", "--data", fixtureData, "--input", input, "--output", `${task}.jsonl`]);
    expect(named.filter((key) => !keys.includes(key))).toEqual([]);
  }
});

test("queue's object holds the keys the README gives it, for every action", async () => {
  const redis = await startRedis();
  try {
    for (const action of ["status", "retry-failed", "drain", "clean"]) {
      expect({ action, keys: (await json("queue", [action, "--queue", redis.url])).sort() }).toEqual({ action, keys: documentedKeys("`queue` `").sort() });
    }
  } finally {
    await redis.stop();
  }
});
