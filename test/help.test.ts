import { describe, expect, test } from "bun:test";
import { root, runScript } from "./helpers.ts";
import { tasks } from "../scripts/index.ts";

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
});
