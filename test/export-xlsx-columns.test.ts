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
