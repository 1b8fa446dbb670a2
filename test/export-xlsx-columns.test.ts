import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { fixtureData, root, runScript, tempDir } from "./helpers.ts";

// The workbook as a person opens it: can each column's header be read without widening it?

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir("sa-export-xlsx-columns-")));
afterAll(() => cleanup());

/** Room an Excel table header needs beside its text: the filter button. */
const FILTER_BUTTON = 2;

describe("XLSX column widths", () => {
  test("every header fits its column (role counts, average level, facet labels), so no two read alike when clipped", async () => {
    const input = join(root, "fixtures/python/run-output.jsonl");
    expect((await runScript("export", ["--input", input, "--output", "book.xlsx", "--data", fixtureData], { cwd: dir })).code).toBe(0);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "book.xlsx"));
    const clipped: string[] = [];
    book.eachSheet((sheet) => {
      sheet.getRow(1).eachCell((cell, col) => {
        const width = sheet.getColumn(col).width ?? 0;
        if (String(cell.value).length + FILTER_BUTTON > width) clipped.push(`${sheet.name}: ${String(cell.value)} (${width})`);
      });
    });
    expect(clipped).toEqual([]);
  });
});

describe("XLSX table names", () => {
  test("catalogue fields that differ only by - and _ or by case still get one table name each (Excel refuses a book with two alike)", async () => {
    const input = join(root, "fixtures/python/run-output.jsonl");
    const rename: Record<string, string> = { applications: "a-b", technologies: "a_b", data: "A_B" };
    const renamed = (mappings: Record<string, unknown>) => Object.fromEntries(Object.entries(mappings).map(([k, v]) => [rename[k] ?? k, v]));
    const lines = (await Bun.file(input).text()).trim().split("\n").map((text) => {
      const line = JSON.parse(text);
      line.meta.mapping_types = (line.meta.mapping_types ?? []).map((t: string) => rename[t] ?? t);
      for (const p of line.plateaus) {
        p.mappings = renamed(p.mappings ?? {});
        for (const f of p.features) f.mappings = renamed(f.mappings);
        for (const r of p.roles ?? []) for (const f of r.features ?? []) f.mappings = renamed(f.mappings);
      }
      return JSON.stringify(line);
    });
    await Bun.write(join(dir, "renamed.jsonl"), `${lines.join("\n")}\n`);
    expect((await runScript("export", ["--input", "renamed.jsonl", "--output", "renamed.xlsx"], { cwd: dir })).code).toBe(0);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "renamed.xlsx"));
    const names: string[] = [];
    book.eachSheet((sheet) => {
      for (const t of sheet.getTables() as unknown as Array<{ table?: { name: string }; name?: string }>) names.push((t.table?.name ?? t.name)!);
    });
    expect(names.filter((n) => n.toLowerCase().startsWith("t_mappings")).length).toBe(3);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
  });
});
