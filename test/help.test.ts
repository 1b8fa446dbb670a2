import { describe, expect, test } from "bun:test";
import { root, runScript } from "./helpers.ts";
import { tasks } from "../scripts/index.ts";
import { configFileNames, pythonConfigFile } from "../lib/config.ts";

describe("--help", () => {
  test("every task's help fits 80 columns, has examples, and has no colour codes in a pipe", async () => {
    for (const name of Object.keys(tasks)) {
      const result = await runScript(name, ["--help"], { cwd: root });
      expect({ name, code: result.code }).toEqual({ name, code: 0 });
      const long = result.stdout.split("\n").filter((l) => l.length > 80);
      expect({ name, long }).toEqual({ name, long: [] });
      expect({ name, escapes: result.stdout.includes("\u001b[") }).toEqual({ name, escapes: false });
      expect(result.stdout).toContain(`Usage: bun scripts/${name}.ts`);
      expect(result.stdout).toContain("Examples:\n  bun scripts/");
      // A flag on by default says once how to turn it off.
      const offForms: string[] = result.stdout.split("Examples:")[0]!.match(/--no-[a-z-]+/g) ?? [];
      expect({ name, offForms }).toEqual({ name, offForms: [...new Set(offForms)] });
    }
  });

  test("run, map, export, diff and check say what each exit code means, the README's 3, 130/143 and 141 included", async () => {
    const stopped = "130  stopped by Ctrl-C (143: by SIGTERM)";
    const pipeline = ["0    every service written", "1    bad input lines or failed services; with --strict, anything quarantined", "2    bad usage or config, or an input that cannot be read", "3    stopped by a usage limit or the budget", stopped, "141  the reader of --output - went away"];
    const want: Record<string, string[]> = {
      run: pipeline,
      map: pipeline,
      export: ["0    exported", "1    exported, but some input lines were bad", "2    bad usage or config, or an input that cannot be read", stopped],
      diff: ["0    the two files are the same", "1    they differ", "2    bad usage, or a file that cannot be read or has a bad line", stopped],
      check: ["0    no check set to error failed", "1    a check set to error failed, a line was bad, or (--strict) any warning", "2    bad usage or config, or an input that cannot be read", stopped],
    };
    for (const [name, lines] of Object.entries(want)) {
      const help = (await runScript(name, ["--help"], { cwd: root })).stdout;
      const section = help.split("Exit codes:\n")[1]?.split("\n\n")[0] ?? "";
      expect({ name, section: section.split("\n").map((l) => l.trim()) }).toEqual({ name, section: lines });
    }
  });

  test("--config names every file a task looks for without it, in the order it looks", async () => {
    // The help once left out .yml and the Python tool's config/app.yaml, both read when present.
    const help = (await runScript("run", ["--help"], { cwd: root })).stdout.replace(/\s+/g, " ");
    const kinds = configFileNames.map((name) => name.replace("service-ambitions.config.", ""));
    expect(help).toContain(`service-ambitions.config.{${kinds.join(",")}} in the working directory, else the Python tool's ${pythonConfigFile}`);
  });
});
