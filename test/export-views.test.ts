import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fixtureData, root, runScript, tempDir } from "./helpers.ts";

// Which views an export writes, and what it says when a view does not fit the output.

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir("sa-export-views-")));
afterAll(() => cleanup());

const evolutions = join(root, "fixtures/python/run-output.jsonl");

describe("CSV to stdout takes one table", () => {
  test("--view mappings (one table per catalogue) is refused naming that view and its tables, not --view all", async () => {
    const result = await runScript("export", ["--input", evolutions, "--output", "-", "--format", "csv", "--view", "mappings", "--data", fixtureData], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("--view mappings with CSV writes one file per table (mappings.applications, mappings.technologies, mappings.data): give --output a file name");
  });
});
