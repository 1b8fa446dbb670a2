import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
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

describe("the HTML report holds the services view too", () => {
  test("each plateau of a service says its features and their average level, as the services table does", async () => {
    const input = join(root, "fixtures/python/evolutions.jsonl");
    expect((await runScript("export", ["--input", input, "--output", "report.html"], { cwd: dir })).code).toBe(0);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    const headings = [...html.matchAll(/<h4>([\s\S]*?)<\/h4>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ""));
    expect(headings).toEqual([
      "1. Foundational 2 features, average level 2.50",
      "2. Enhanced 1 feature, average level 1.00",
      "1. Foundational 2 features, average level 2.50",
      "2. Enhanced 1 feature, average level 1.00",
    ]);
  });
});
