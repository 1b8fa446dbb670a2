import { describe, expect, test } from "bun:test";
import { pythonCommandHint, pythonFlagHint } from "../lib/python-flags.ts";
import { fixtureData, fixtureServices, root, runScript, tempDir } from "./helpers.ts";

describe("a flag of the Python tool's command line", () => {
  test("is refused with its counterpart here named in the same line (exit 2)", async () => {
    const result = await runScript("run", ["--input-file", "services.jsonl", "--output-file", "out.jsonl"], { cwd: root });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toEqual(["✖ unknown flag --input-file: the Python tool's --input-file is --input here (see MIGRATING.md)"]);
    const map = await runScript("map", ["--resume"], { cwd: root });
    expect(map.code).toBe(2);
    expect(map.stderr).toContain("unknown flag --resume: not needed here: running the same command again skips what --output already holds; --fresh starts over (see MIGRATING.md)");
  });

  test("each flag MIGRATING.md lists has its hint; --flag=value and -no- forms are found; anything else gets none", () => {
    expect(pythonFlagHint("--output-file=out.jsonl")).toBe("the Python tool's --output-file is --output here");
    expect(pythonFlagHint("--seed")).toContain("config seed (SA_SEED)");
    expect(pythonFlagHint("--no-use-local-cache")).toContain("--cache-mode off");
    expect(pythonFlagHint("--mapping-data-dir")).toContain("--data");
    expect(pythonFlagHint("--inptu")).toBeUndefined();
  });
});

describe("the Python tool's -vv ... -vvvv and -qq", () => {
  test("are --verbose and --quiet, as a run of single-letter flags, not an unknown flag", async () => {
    const args = ["--model", "synthetic:demo", "--data", "fixtures/data", "--input", "fixtures/services.jsonl"];
    const verbose = await runScript("preflight", [...args, "-vvvv"], { cwd: root });
    expect(verbose.stderr).not.toContain("unknown flag");
    expect(verbose.code).toBe(0);
    const quiet = await runScript("preflight", [...args, "-qq"], { cwd: root });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    // A run of letters that are not all flags is still refused.
    expect((await runScript("preflight", [...args, "-vx"], { cwd: root })).stderr).toContain("unknown flag -vx");
    // Nor are flags that take a value (-i, -o) run together.
    expect((await runScript("preflight", [...args, "-io", "x"], { cwd: root })).stderr).toContain("unknown flag -io");
  });
});

describe("a command of the Python tool's", () => {
  test("reverse and validate name the task that takes their place (exit 2)", async () => {
    const proc = Bun.spawnSync(["bun", "scripts/index.ts", "reverse", "--input-file", "x"], { cwd: root, stderr: "pipe" });
    expect(proc.exitCode).toBe(2);
    expect(proc.stderr.toString()).toBe("✖ unknown task \"reverse\" (the Python tool's reverse is cache import --evolutions FILE (it seeds the cache from an evolutions file; map reads evolutions directly) here; see MIGRATING.md)\n");
    expect(pythonCommandHint("validate")).toContain("preflight --input FILE");
    expect(pythonCommandHint("nope")).toBeUndefined();
  });
});

describe("one-letter switches run together", () => {
  // A run of switches is a switch for the log too, not only for the parser: -qq silenced the
  // progress but still logged the run's start and its summary, and -vv printed no debug line.
  const args = ["--model", "synthetic:demo", "--data", fixtureData, "--input", fixtureServices, "--output", "-", "--cache-mode", "off"];
  const run = async (flag: string) => {
    const { dir, cleanup } = tempDir();
    try {
      return await runScript("run", [...args, flag], { cwd: dir });
    } finally {
      cleanup();
    }
  };

  test("-qq logs nothing on stderr, as -q does", async () => {
    for (const flag of ["-q", "-qq"]) {
      const result = await run(flag);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout.trim().split("\n")).toHaveLength(8);
    }
  });

  test("-vv logs the debug lines, as -v does", async () => {
    for (const flag of ["-v", "-vv", "-vvvv"]) {
      const result = await run(flag);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("task code:");
    }
  });
});
