import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { tasks } from "../scripts/index.ts";
import { extraArgument, missingValue } from "../scripts/_task.ts";
import { fixtureData, fixtureServices, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

describe("flags that take a value", () => {
  test("every value flag of every task, given none, is found (at the end, empty, or followed by a flag)", async () => {
    let checked = 0;
    for (const [name, load] of Object.entries(tasks)) {
      const { args } = (await load()).default;
      for (const [flag, def] of Object.entries(args as Record<string, { type?: string }>)) {
        if (def.type !== "string") continue;
        checked++;
        const f = `--${flag}`;
        for (const raw of [[f], [f, ""], [f, "  "], [`${f}=`], [f, "--json"], ["--quiet", f, "-q"]]) {
          expect({ task: name, raw, found: missingValue(raw, args) }).toEqual({ task: name, raw, found: f });
        }
        expect(missingValue([f, "value", "--json"], args)).toBeUndefined();
        expect(missingValue([`${f}=value`], args)).toBeUndefined();
        expect(missingValue([f, "-"], args)).toBeUndefined();
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  const cases: Array<{ script: string; args: string[] }> = [
    { script: "run", args: ["--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--budget"] },
    { script: "run", args: ["--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--budget", ""] },
    { script: "run", args: ["--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--max-requests", "--json"] },
    { script: "map", args: ["--data", fixtureData, "-i"] },
    { script: "preflight", args: ["--data", fixtureData, "--input", fixtureServices, "--budget", ""] },
    { script: "export", args: ["--input", "x.jsonl", "--output"] },
    { script: "cache", args: ["prune", "--older-than"] },
    { script: "usage", args: ["--since="] },
  ];
  for (const c of cases) {
    test(`${c.script} ${c.args.filter((a) => a !== fixtureData).map((a) => (a === "" ? '""' : a)).join(" ")} exits 2 and calls nothing`, async () => {
      const server = startTestServer();
      const { dir, cleanup } = tempDir();
      try {
        writeJsonl(join(dir, "in.jsonl"), makeServices(2));
        const result = await runScript(c.script, c.args, { cwd: dir, baseURL: server.url });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain("needs a value");
        expect(server.requests).toHaveLength(0);
      } finally {
        cleanup();
        await server.stop();
      }
    });
  }
});

describe("a missing positional argument", () => {
  for (const c of [{ script: "diff", args: ["old.jsonl", "--json"], missing: "NEW" }, { script: "cache", args: ["--json"], missing: "ACTION" }]) {
    test(`${c.script} ${c.args.join(" ")} is a usage error naming ${c.missing}, not an unexpected one`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const result = await runScript(c.script, c.args, { cwd: dir });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(c.missing);
        expect(result.stderr).not.toContain("unexpected error");
        expect(result.stderr).not.toContain("--verbose for the stack trace");
        expect(JSON.parse(result.stdout)).toMatchObject({ status: "error", exitCode: 2, code: "E_USAGE" });
      } finally {
        cleanup();
      }
    });
  }
});

describe("an argument no positional takes", () => {
  test("is found for every task, after its own positionals, never in a flag's value", async () => {
    for (const [name, load] of Object.entries(tasks)) {
      const { args } = (await load()).default;
      const room = Object.values(args as Record<string, { type?: string }>).filter((d) => d.type === "positional").length;
      const own = Array.from({ length: room }, (_, i) => `p${i}`);
      expect({ task: name, found: extraArgument([...own, "--json"], args) }).toEqual({ task: name, found: undefined });
      expect({ task: name, found: extraArgument([...own, "stray", "--json"], args) }).toEqual({ task: name, found: "stray" });
      const valued = Object.entries(args as Record<string, { type?: string }>).find(([, d]) => d.type === "string")?.[0];
      if (!valued) continue;
      const f = `--${valued}`;
      expect({ task: name, found: extraArgument([f, "v.json", ...own, "--", "-"], args) }).toEqual({ task: name, found: "-" });
      expect({ task: name, found: extraArgument([`${f}=v.json`, f, "-", ...own], args) }).toEqual({ task: name, found: undefined });
    }
  });

  for (const c of [
    { script: "check", args: ["--input", "a.jsonl", "b.jsonl"], extra: "b.jsonl" },
    { script: "export", args: ["--input", "a.jsonl", "--output", "x.csv", "--view", "all", "features"], extra: "features" },
    { script: "diff", args: ["a.jsonl", "b.jsonl", "c.jsonl"], extra: "c.jsonl" },
  ]) {
    test(`${c.script} ${c.args.join(" ")} exits 2 naming "${c.extra}", and does nothing`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const line = '{"meta":{"schema_version":"1.0","run_id":"r","created":"2026-01-01T00:00:00Z","seed":0,"models":{},"mapping_types":[],"catalogue_hash":""},"service":{"service_id":"S","name":"S","description":"d","jobs_to_be_done":[]},"plateaus":[]}\n';
        for (const f of ["a.jsonl", "b.jsonl", "c.jsonl"]) await Bun.write(join(dir, f), line);
        const result = await runScript(c.script, c.args, { cwd: dir });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`unexpected argument "${c.extra}"`);
        expect(result.stdout).toBe("");
        expect(await Bun.file(join(dir, "x.csv")).exists()).toBe(false);
      } finally {
        cleanup();
      }
    });
  }
});

describe("a flag's bad value is named as the flag", () => {
  const cases: Array<{ flag: string; value: string; says: string }> = [
    { flag: "--cache-mode", value: "sometimes", says: '--cache-mode: expected off | read | refresh | write, got "sometimes"' },
    { flag: "--model", value: "gpt-4o", says: '--model: expected provider:model' },
    { flag: "--mapping-model", value: "nano", says: '--mapping-model: expected provider:model' },
    { flag: "--concurrency", value: "0x10", says: '--concurrency: expected a positive whole number, got "0x10"' },
    { flag: "--budget", value: "0b1", says: '--budget: expected a positive number, got "0b1"' },
  ];
  for (const c of cases) {
    test(`run ${c.flag} ${c.value}: exit 2, one line naming ${c.flag} (not the config key it sets), the --json object, no output`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const result = await runScript("run", ["--data", fixtureData, "-i", fixtureServices, "-o", "out.jsonl", ...(c.flag === "--model" ? [] : ["--model", "synthetic:demo"]), c.flag, c.value, "--json"], { cwd: dir });
        expect(result.code).toBe(2);
        const errors = result.stderr.split("\n").filter((l) => l.startsWith("✖"));
        expect(errors).toHaveLength(1);
        expect(errors[0]).toContain(c.says);
        expect(errors[0]).not.toContain("config:");
        expect(JSON.parse(result.stdout.trim())).toMatchObject({ status: "error", exitCode: 2, code: "E_USAGE" });
        expect(await Bun.file(join(dir, "out.jsonl")).exists()).toBe(false);
      } finally {
        cleanup();
      }
    });
  }
});

describe("a number flag past what a whole number holds", () => {
  test.each(["--tpm", "--rpm", "--concurrency", "--max-requests", "--max-tokens"])("%s 1e99 is refused as the flag, not later as a config key it sets", async (flag) => {
    const { configOverrides } = await import("../scripts/_args.ts");
    expect(() => configOverrides({ [flag.slice(2)]: "1e99" })).toThrow(`${flag}: expected a positive whole number, got "1e99"`);
  });
});
