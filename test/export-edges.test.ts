import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { marked } from "marked";
import { runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions, type EvolutionLine } from "./support/evolutions.ts";

// What a reader of the exports sees when the model's text or the run is out of the ordinary.

let dir: string;
let cleanup: () => void;
let lines: EvolutionLine[];

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-export-edges-"));
  ({ lines } = await syntheticEvolutions(dir));
});
afterAll(() => cleanup());

const read = (name: string) => readFileSync(join(dir, name), "utf8");
/** `lines` changed by `edit`, written as `name`. */
function variant(name: string, edit: (lines: EvolutionLine[]) => void): string {
  const copy = structuredClone(lines);
  edit(copy);
  writeFileSync(join(dir, name), copy.map((l) => `${JSON.stringify(l)}\n`).join(""));
  return name;
}
const exportOf = (input: string, output: string, ...args: string[]) => runScript("export", ["--input", input, "--output", output, ...args], { cwd: dir });

async function runSheet(path: string): Promise<Array<[string, unknown]>> {
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(join(dir, path));
  const rows: Array<[string, unknown]> = [];
  book.getWorksheet("run")!.eachRow((row, i) => void (i > 1 && rows.push([String(row.getCell(1).value), row.getCell(2).value])));
  return rows;
}

describe("a service with parts left empty (answers that stayed invalid)", () => {
  test("is named in the run details and its narrative, and its gaps are never listed as a model", async () => {
    const input = variant("gaps.jsonl", (ls) => {
      const meta = ls[1]!.meta as unknown as { models: Record<string, string> };
      meta.models.incomplete = "features Enhanced, mapping Foundational applications";
      ls[1]!.plateaus[1]!.features = [];
    });
    const id = lines[1]!.service.service_id;
    for (const ext of ["md", "json", "html", "xlsx"]) expect((await exportOf(input, `gaps.${ext}`)).code).toBe(0);
    const json = JSON.parse(read("gaps.json")) as { run: { models: Record<string, string[]>; incomplete: Record<string, string> } };
    expect(Object.keys(json.run.models).sort()).toEqual(["descriptions", "features", "mapping"]);
    expect(json.run.incomplete).toEqual({ [id]: "features Enhanced, mapping Foundational applications" });
    const details = await runSheet("gaps.xlsx");
    expect(details.find(([k]) => k === "Models")![1]).not.toContain("incomplete");
    expect(details.find(([k]) => k === "Incomplete services")![1]).toBe(1);
    expect(details.find(([k]) => k === "Left empty")![1]).toBe(`${id}: features Enhanced, mapping Foundational applications`);
    const md = read("gaps.md");
    expect(md).not.toMatch(/Models:\*\* .*incomplete/);
    expect(md).toContain("- **Incomplete services:** 1");
    const at = md.indexOf(`(${id})`);
    const section = md.slice(at, md.indexOf("#### 1.", at));
    expect(section).toContain("*Left empty* (answers stayed invalid; run again to ask again): features Enhanced, mapping Foundational applications");
    const html = read("gaps.html");
    expect(html).toContain("Left empty</strong> (answers stayed invalid; run again to ask again): features Enhanced, mapping Foundational applications");
    expect(html).not.toMatch(/<dt>Models<\/dt><dd>[^<]*incomplete/);
  });

  test("a file without gaps says none", async () => {
    expect((await exportOf("evolutions.jsonl", "whole.xlsx")).code).toBe(0);
    const details = await runSheet("whole.xlsx");
    expect(details.find(([k]) => k === "Incomplete services")![1]).toBe(0);
    expect(details.some(([k]) => k === "Left empty")).toBe(false);
  });
});

/** The text a browser shows for `html`: tags out, entities decoded, white space as one space. */
const shown = (html: string) =>
  html
    .replace(/<[^>]+>/g, " ")
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => (e[0] === "#" ? String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ({ amp: "&", lt: "<", gt: ">", quot: '"' } as Record<string, string>)[e] ?? m))
    .replace(/\s+/g, " ");

describe("Markdown: the model's text reads as written once rendered (GFM)", () => {
  // Each would start a list, a rule, a code block or a heading, strike text or decode an entity.
  const texts = {
    plateau: "- starts like a bullet, with R&amp;D and &copy;",
    plateau2: "---",
    plateau3: "    indented like code, then ~~~",
    name: "1. Numbered ~~struck~~",
    description: "2030. A year to remember",
    description2: "+ plus, and costs $5 or $10",
    description3: "===",
    justification: "~~gone~~ &lt;b&gt;",
  };

  test("in the narrative and the tables", async () => {
    const input = variant("marks.jsonl", (ls) => {
      const [p1, p2, p3] = ls[0]!.plateaus;
      p1!.service_description = texts.plateau;
      p2!.service_description = texts.plateau2;
      p3!.service_description = texts.plateau3;
      const [f1, f2, f3] = p1!.features;
      Object.assign(f1!, { name: texts.name, description: texts.description });
      f1!.score.justification = texts.justification;
      f2!.description = texts.description2;
      f3!.description = texts.description3;
    });
    expect((await exportOf(input, "marks.md")).code).toBe(0);
    const md = read("marks.md");
    // The narrative and the tables apart: each holds every text once.
    const parts = { narrative: md.slice(0, md.indexOf("\n## Features")), tables: md.slice(md.indexOf("\n## Features")) };
    for (const [part, source] of Object.entries(parts)) {
      const html = await marked.parse(source, { gfm: true });
      const text = shown(html);
      expect({ part, lost: Object.values(texts).filter((said) => !text.includes(said.trim())) }).toEqual({ part, lost: [] });
      expect({ part, markup: html.match(/<(hr|pre|del|ol|code)\b/g) }).toEqual({ part, markup: null });
    }
    expect(md.match(/^# /gm)).toHaveLength(1);
  });
});

describe("XLSX: a text longer than a cell holds", () => {
  test("is cut to Excel's 32,767 characters with a note in the cell and one warning; the other formats keep it whole", async () => {
    const long = `${"Carriage\r returns count once. ".repeat(1500)}THE END`;
    const input = variant("long.jsonl", (ls) => {
      ls[0]!.plateaus[0]!.features[0]!.description = long;
      // 40,000 UTF-16 units: a cut at an odd place would split a pair and leave a lone surrogate.
      ls[0]!.plateaus[0]!.service_description = "😀".repeat(20_000);
    });
    const result = await exportOf(input, "long.xlsx");
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/2 cells longer than the 32,767 characters Excel holds in a cell were cut/);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "long.xlsx"));
    // Excel counts the characters an _xHHHH_ escape stands for, as one each.
    const cells: string[] = [];
    book.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((cell) => void cells.push(String(cell.value)))));
    expect(cells.filter((c) => c.includes("_xD83D_")).length).toBe(0);
    for (const [i, c] of cells.entries()) cells[i] = c.replace(/_x[0-9A-F]{4}_/g, "?");
    expect(Math.max(...cells.map((c) => c.length))).toBeLessThanOrEqual(32_767);
    const cut = cells.filter((c) => c.includes("[cut: "));
    expect(cut).toHaveLength(2);
    // Each fills the cell, less a character or two where the note's count is shorter or a pair would split.
    expect(cut.map((c) => c.length > 32_760)).toEqual([true, true]);
    const kept = cut.find((c) => c.startsWith("Carriage"))!;
    const note = / \[cut: ([\d,]+) more characters; the CSV, Markdown, HTML and JSON exports hold the whole text\]$/.exec(kept.slice(-120));
    expect(Number(note?.[1]?.replace(/,/g, "")) + kept.length - note![0].length).toBe(long.length);
    expect((await exportOf(input, "long.json")).code).toBe(0);
    expect(JSON.parse(read("long.json")).features.some((f: { description: string }) => f.description === long)).toBe(true);
  });
});

describe("XLSX: the run sheet", () => {
  test("a list of runs longer than a cell holds is cut too", async () => {
    const input = variant("runs.jsonl", (ls) => {
      for (const [i, l] of ls.entries()) l.meta.run_id = `${i}-${"r".repeat(5_000)}`;
    });
    const result = await exportOf(input, "runs.xlsx");
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("1 cell longer than the 32,767 characters");
    const runs = String((await runSheet("runs.xlsx")).find(([k]) => k === "Runs")![1]);
    expect(runs.length).toBeLessThanOrEqual(32_767);
    expect(runs.slice(-40)).toContain("the whole text]");
  });
});

describe("CSV: formula guard", () => {
  test("a negative number stays a number; a text that starts like a formula is still guarded", async () => {
    const input = variant("negative.jsonl", (ls) => {
      const f = ls[0]!.plateaus[0]!.features[0]!;
      const mapping = (f.mappings.applications as Array<{ facets: Record<string, unknown> }>)[0]!;
      mapping.facets.criticality = -3;
      mapping.facets.notes = "-3 then =SUM(A1)";
    });
    expect((await exportOf(input, "negative.csv", "--view", "mappings")).code).toBe(0);
    const first = read("negative.mappings.applications.csv").split("\n").find((l) => l.includes("then =SUM"))!;
    expect(first).toContain(",-3,");
    expect(first).toContain(`"'-3 then =SUM(A1)"`);
    expect(first).not.toContain("'-3,");
  });
});

describe("the run's date", () => {
  test("a created date without an offset is UTC (the workbook's date is the same in every time zone); the earliest is found by time, not by text", async () => {
    const input = variant("dates.jsonl", (ls) => {
      ls[0]!.meta.created = "2026-01-01T05:00:00Z";
      ls[1]!.meta.created = "2026-01-01T09:00:00+09:00";
      for (const l of ls.slice(2)) l.meta.created = "2026-01-01T06:30:00.123456";
    });
    const utc = await runScript("export", ["--input", input, "--output", "utc.xlsx"], { cwd: dir, env: { TZ: "UTC" } });
    const tokyo = await runScript("export", ["--input", input, "--output", "tokyo.xlsx"], { cwd: dir, env: { TZ: "Asia/Tokyo" } });
    expect([utc.code, tokyo.code]).toEqual([0, 0]);
    expect(readFileSync(join(dir, "utc.xlsx")).equals(readFileSync(join(dir, "tokyo.xlsx")))).toBe(true);
    expect((await runSheet("utc.xlsx")).find(([k]) => k === "Created")![1]).toBe("2026-01-01T09:00:00+09:00");
    const naive = variant("naive.jsonl", (ls) => {
      for (const l of ls) l.meta.created = "2026-01-01T06:30:00.123456";
    });
    expect((await runScript("export", ["--input", naive, "--output", "naive.xlsx"], { cwd: dir, env: { TZ: "Asia/Tokyo" } })).code).toBe(0);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "naive.xlsx"));
    expect(book.created.toISOString()).toBe("2026-01-01T06:30:00.000Z");
  });
});

describe("HTML: a column's label in the narrow layout's CSS", () => {
  test("a label with a line break, a quote or </style> stays one CSS string, one rule per column", async () => {
    const { cardLabels } = await import("../lib/export/html-assets.ts");
    const css = cardLabels("table.x", ["Plain", "Two\nlines", 'A "quote" \\ back', "</style><script>x</script>", "Tab\there\r\f"]);
    const rules = css.split("\n");
    expect(rules).toHaveLength(5);
    for (const rule of rules) expect(rule).toMatch(/^table\.x td:nth-child\(\d\)::before\{content:"([^"\\\n\r\f<]|\\[0-9a-f]+ )*"\}$/);
  });
});

describe("a service on more than one line (files put together)", () => {
  test("export and check say so once, naming the lines; every line is still read", async () => {
    const third = readFileSync(join(dir, "evolutions.jsonl"), "utf8").split("\n")[2]!;
    writeFileSync(join(dir, "twice.jsonl"), `${readFileSync(join(dir, "evolutions.jsonl"), "utf8")}${third}\n${third}\n`);
    const n = lines.length;
    const id = lines[2]!.service.service_id;
    const expected = [`⚠ input twice.jsonl: service ${id} appears on lines 3, ${n + 1} and ${n + 2}; each line is read (diff refuses such a file)`];
    const exported = await exportOf("twice.jsonl", "twice.csv", "--view", "services");
    expect(exported.code).toBe(0);
    expect(exported.stderr.split("\n").filter((l) => l.includes(" appears on lines "))).toEqual(expected);
    expect(read("twice.csv").split("\n").filter((l) => l.startsWith(`${id},`))).toHaveLength(3 * lines[2]!.plateaus.length);
    const checked = await runScript("check", ["--input", "twice.jsonl"], { cwd: dir });
    expect(checked.stderr.split("\n").filter((l) => l.includes(" appears on lines "))).toEqual(expected);
  });
});

describe("--json: status and exitCode, as every task's object has them", () => {
  test("export and check, ok and failed", async () => {
    writeFileSync(join(dir, "one-bad.jsonl"), `${readFileSync(join(dir, "evolutions.jsonl"), "utf8")}{"not": "an evolution"}\n`);
    const cases: Array<[string, string[], string, number]> = [
      ["export", ["--input", "evolutions.jsonl", "--output", "s.csv", "--json"], "ok", 0],
      ["export", ["--input", "one-bad.jsonl", "--output", "s.csv", "--json"], "failed", 1],
      ["check", ["--input", "evolutions.jsonl", "--json", "--strict"], "failed", 1],
      ["check", ["--input", "evolutions.jsonl", "--json"], "ok", 0],
    ];
    for (const [task, args, status, exitCode] of cases) {
      const result = await runScript(task, args, { cwd: dir });
      expect({ task, args, code: result.code, ...JSON.parse(result.stdout) }).toMatchObject({ task, args, code: exitCode, status, exitCode });
    }
  });
});
