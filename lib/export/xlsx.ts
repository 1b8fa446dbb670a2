import type ExcelJS from "exceljs";
import type { Writable } from "node:stream";
import { formatCount, runDetails } from "./run-details.ts";
import type { Sink } from "./sink.ts";
import type { EvolutionSource } from "./source.ts";
import { instantOf, type Summary } from "./summary.ts";
import { cellText, type Column, type ColumnKind, type TableSpec } from "./views.ts";
import { addTable, columnLetter, createWorkbook, zipCaughtUp, type StreamWorkbook } from "./xlsx-writer.ts";
import { xstring } from "./xstring.ts";

const widths: Record<ColumnKind, number> = { id: 12, number: 10, level: 9, text: 24, list: 36, wrap: 60 };
const wrapped = new Set<ColumnKind>(["wrap", "list"]);

/** Excel wants a sheet name under 32 characters without []:*?/\ and unique in the book. */
function sheetName(title: string, used: Set<string>): string {
  const base = title.replace(/[[\]:*?/\\]/g, " ").slice(0, 31).trim();
  let name = base;
  for (let i = 2; used.has(name.toLowerCase()); i++) name = `${base.slice(0, 28)} ${i}`;
  used.add(name.toLowerCase());
  return name;
}

/**
 * A table's name: letters, digits and `_`, unique in the book whatever the case (`a-b` and `a_b`,
 * or `Apps` and `apps`, would share one, and Excel then repairs the file). Kept in the set of
 * sheet names under `table:`, which no sheet name holds (a `:` is never in one).
 */
function tableName(name: string, used: Set<string>): string {
  const base = `T_${name.replace(/\W/g, "_")}`;
  let table = base;
  for (let i = 2; used.has(`table:${table.toLowerCase()}`); i++) table = `${base}_${i}`;
  used.add(`table:${table.toLowerCase()}`);
  return table;
}

/** Table column names must be unique too; they are ST_Xstring escaped like every cell. */
function uniqueHeaders(columns: Column[]): string[] {
  const seen = new Set<string>();
  return columns.map((c) => {
    let header = c.header;
    for (let i = 2; seen.has(header.toLowerCase()); i++) header = `${c.header} (${i})`;
    seen.add(header.toLowerCase());
    return xstring(header);
  });
}

/**
 * The kind's width, or the header's when longer ("Features: Council staff" in a number column):
 * a clipped header hides which role or facet a column holds. Room for the filter button too.
 */
const columnWidth = (c: Column) => Math.max(widths[c.kind], Math.min(c.header.length + 3, widths.wrap));

function openSheet(book: StreamWorkbook, name: string, columns: Column[]): ExcelJS.Worksheet {
  const sheet = book.addWorksheet(name, {
    views: [{ state: "frozen", ySplit: 1 }],
    pageSetup: { orientation: "landscape", fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: "1:1", paperSize: 9 },
  });
  sheet.columns = columns.map((c) => ({
    key: c.key,
    width: columnWidth(c),
    style: { alignment: { vertical: "top", wrapText: wrapped.has(c.kind) } },
  }));
  return sheet;
}

function writeHeader(sheet: ExcelJS.Worksheet, headers: string[]): void {
  const row = sheet.addRow(headers);
  row.font = { bold: true };
  row.commit();
}

/** Level columns shade from pale (1) to deep blue (5). */
function levelScale(sheet: ExcelJS.Worksheet, columns: Column[], rows: number): void {
  if (!rows) return;
  for (const [i, c] of columns.entries()) {
    if (c.kind !== "level") continue;
    const letter = columnLetter(i + 1);
    sheet.addConditionalFormatting({
      ref: `${letter}2:${letter}${rows + 1}`,
      rules: [{ type: "colorScale", priority: 1, cfvo: [{ type: "num", value: 1 }, { type: "num", value: 5 }], color: [{ argb: "FFEAF2FB" }, { argb: "FF4A90D9" }] }],
    });
  }
}

/** Excel holds at most this many characters in a cell; a file with more is one it must repair. */
export const CELL_LIMIT = 32_767;

/** Texts cut to fit a cell, counted for the export's one warning. */
interface CutCount {
  cells: number;
}

/** `text` cut to fit a cell with a note of what was cut (a surrogate pair is never split). */
function fitCell(text: string, cut: CutCount): string {
  if (text.length <= CELL_LIMIT) return text;
  cut.cells++;
  const note = (rest: number) => ` [cut: ${formatCount(rest)} more characters; the CSV, Markdown, HTML and JSON exports hold the whole text]`;
  let keep = CELL_LIMIT - note(text.length).length;
  if (/[\uD800-\uDBFF]/.test(text[keep - 1] ?? "")) keep--;
  return `${text.slice(0, keep)}${note(text.length - keep)}`;
}

/** A row's values; empty cells stay empty (no "" written), text keeps every character (`xstring`) a cell can hold. */
const values = (columns: Column[], row: Record<string, unknown>, cut: CutCount) =>
  columns.map((c) => {
    const v = row[c.key];
    return v === null || v === undefined || v === "" ? null : typeof v === "number" ? v : xstring(fitCell(cellText(v as string), cut));
  });

async function writeSheet(input: { book: StreamWorkbook; source: EvolutionSource; table: TableSpec; used: Set<string>; output: Writable; cut: CutCount }): Promise<number> {
  const { book, table } = input;
  const sheet = openSheet(book, sheetName(table.name.replace(/^mappings\./, "mappings "), input.used), table.columns);
  const headers = uniqueHeaders(table.columns);
  let count = 0;
  addTable(book, sheet, { name: tableName(table.name, input.used), headers, rows: () => count });
  writeHeader(sheet, headers);
  for await (const e of input.source.read()) {
    for (const row of table.rows(e)) {
      sheet.addRow(values(table.columns, row, input.cut)).commit();
      count++;
    }
    await zipCaughtUp(sheet, input.output);
  }
  levelScale(sheet, table.columns, count);
  sheet.commit();
  return count;
}

function writeRunSheet(book: StreamWorkbook, summary: Summary, used: Set<string>, cut: CutCount): void {
  const columns: Column[] = [{ key: "detail", header: "Detail", kind: "text" }, { key: "value", header: "Value", kind: "wrap" }];
  const sheet = openSheet(book, sheetName("run", used), columns);
  const details = runDetails(summary);
  addTable(book, sheet, { name: tableName("run", used), headers: ["Detail", "Value"], rows: () => details.length });
  writeHeader(sheet, ["Detail", "Value"]);
  // The runs of a file resumed many times can outgrow a cell too.
  for (const [k, v] of details) sheet.addRow([xstring(k), typeof v === "number" ? v : xstring(fitCell(v, cut))]).commit();
  sheet.commit();
}

/** A `run` sheet, then one sheet per table, each written row by row in its own pass over the input. */
export async function writeXlsx(input: { source: EvolutionSource; summary: Summary; tables: TableSpec[]; sink: Sink; notes?: string[]; title?: string }): Promise<Record<string, number>> {
  const book = createWorkbook(input.sink.stream);
  book.creator = "service-ambitions";
  // The document's title (File > Info, the window's title in some viewers); exceljs writes it into docProps/core.xml.
  if (input.title) (book as unknown as { title: string }).title = xstring(input.title);
  const created = instantOf(input.summary.run.created);
  book.created = book.modified = new Date(Number.isFinite(created) ? created : Date.UTC(2000, 0, 1));
  const used = new Set<string>();
  const cut: CutCount = { cells: 0 };
  writeRunSheet(book, input.summary, used, cut);
  const counts: Record<string, number> = {};
  for (const table of input.tables) counts[table.name] = await writeSheet({ book, source: input.source, table, used, output: input.sink.stream, cut });
  await book.commit();
  if (cut.cells) input.notes?.push(`${formatCount(cut.cells)} ${cut.cells === 1 ? "cell" : "cells"} longer than the ${formatCount(CELL_LIMIT)} characters Excel holds in a cell were cut, each with a note saying so; the CSV, Markdown, HTML and JSON exports hold the whole text`);
  return counts;
}
