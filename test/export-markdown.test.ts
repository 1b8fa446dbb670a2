import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { marked } from "marked";
import { root, runScript, tempDir } from "./helpers.ts";

// The Markdown export as a reader sees it once GitHub (GFM) renders it.

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir("sa-export-md-")));
afterAll(() => cleanup());

const evolutions = join(root, "fixtures/python/evolutions.jsonl");

describe("Markdown tables render as tables", () => {
  test("each table view is one <table> with a header and one body row per row exported", async () => {
    const result = await runScript("export", ["--input", evolutions, "--output", "out.md", "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    const rows = (JSON.parse(result.stdout) as { rows: Record<string, number> }).rows;
    const html = await marked.parse(readFileSync(join(dir, "out.md"), "utf8"), { gfm: true });
    const tables = [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map((m) => m[1]!);
    const tableViews = Object.keys(rows).filter((view) => view !== "narrative");
    expect(tables).toHaveLength(tableViews.length);
    const bodyRows = tables.map((t) => (t.match(/<tbody>([\s\S]*?)<\/tbody>/)?.[1]?.match(/<tr>/g) ?? []).length);
    expect(bodyRows).toEqual(tableViews.map((view) => rows[view]!));
    // The delimiter row is markup, never text a reader sees.
    expect(html).not.toContain("\\---");
    expect(html).not.toMatch(/\| -{3} \|/);
  });
});
