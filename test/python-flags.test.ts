import { describe, expect, test } from "bun:test";
import { pythonFlagHint } from "../lib/python-flags.ts";
import { root, runScript } from "./helpers.ts";

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
