import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
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

/** The fixture's first line with its first feature's description and justification replaced. */
function withTexts(name: string, description: string, justification: string): string {
  const [first, ...rest] = readFileSync(evolutions, "utf8").trim().split("\n");
  const line = JSON.parse(first!);
  Object.assign(line.plateaus[0].features[0], { description });
  line.plateaus[0].features[0].score.justification = justification;
  writeFileSync(join(dir, name), [JSON.stringify(line), ...rest].map((l) => `${l}\n`).join(""));
  return name;
}

describe("line breaks in the model's text", () => {
  test("show as line breaks (<br>) in the tables and the narrative, breaking no row and starting no list; a carriage return alone is one too", async () => {
    const input = withTexts("cr.jsonl", "Old Mac line\rends here", "Planned.\n\n- then tried\r\n- then kept");
    expect((await runScript("export", ["--input", input, "--output", "cr.md"], { cwd: dir })).code).toBe(0);
    const html = await marked.parse(readFileSync(join(dir, "cr.md"), "utf8"), { gfm: true });
    const cells = [...html.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!);
    expect(cells).toContain("Old Mac line<br>ends here");
    expect(cells).toContain("Planned.<br><br>- then tried<br>- then kept");
    const narrative = html.slice(html.indexOf("<h2>Narrative"), html.indexOf("<h2>Features"));
    expect(narrative).toContain("Old Mac line<br>ends here");
    expect(narrative).toContain("Planned.<br><br>- then tried<br>- then kept");
    // One list item per feature (six in the fixture): "- then tried" opened none.
    expect(narrative.match(/<li>/g)).toHaveLength(6);
  });
});

describe("numbers in the Markdown tables", () => {
  test("are written as they are, unescaped in the file as well as rendered (2.5, not 2\\.5)", async () => {
    expect((await runScript("export", ["--input", evolutions, "--output", "numbers.md", "--view", "services"], { cwd: dir })).code).toBe(0);
    const rows = readFileSync(join(dir, "numbers.md"), "utf8").split("\n").filter((l) => l.startsWith("| CS01.01 "));
    expect(rows.map((r) => r.split(" | ").at(-1))).toEqual(["2.5 |", "1 |"]);
    expect(rows.join("\n")).not.toContain("\\.");
  });
});
