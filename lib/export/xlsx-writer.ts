import ExcelJS from "exceljs";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { SAError } from "../errors.ts";

/**
 * exceljs's streaming writer, with two things it lacks, reached through its internals (pinned
 * by test/export.test.ts): fixed zip entry dates, so the same data gives the same bytes, and
 * Excel tables (its streaming worksheets cannot add one).
 */

interface ZipEntry {
  name: string;
  date?: Date;
}
interface Zip {
  append(source: unknown, data: ZipEntry): unknown;
}
interface WriterInternals {
  zip: Zip;
  addThemes(): Promise<void>;
}
interface SheetInternals {
  _sheetRelsWriter: { addRelationship(rel: { Type: string; Target: string }): string };
  _writeCloseWorksheet(): void;
  _write(text: string): void;
}

const ZIP_DATE = new Date(Date.UTC(2000, 0, 1));
const TABLE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml";
const TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table";
const Base = ExcelJS.stream.xlsx.WorkbookWriter as unknown as new (options: object) => WriterInternals;

const xml = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

class PinnedWorkbookWriter extends Base {
  tables: string[] = [];
  // The base constructor calls this right after creating the zip and before any entry is added.
  override addThemes(): Promise<void> {
    const append = this.zip.append.bind(this.zip);
    this.zip.append = (source, data) => {
      const withTables = data.name === "[Content_Types].xml" && typeof source === "string" ? this.withTableTypes(source) : source;
      return append(withTables, { ...data, date: ZIP_DATE });
    };
    return super.addThemes();
  }
  withTableTypes(types: string): string {
    const overrides = (this.tables ?? []).map((t) => `<Override PartName="/${t}" ContentType="${TABLE_TYPE}"/>`).join("");
    return types.replace("</Types>", `${overrides}</Types>`);
  }
}

export type StreamWorkbook = ExcelJS.stream.xlsx.WorkbookWriter;

/**
 * Waits while the zip is behind the sheet. exceljs's sheet stream hands its rows on without
 * backpressure (its `write` always says true), into the pass-through archiver queues for the
 * entry, so a sheet written faster than it is deflated, or while an earlier entry still is,
 * would sit whole in memory. An output that fails or closes (the reader of stdout went away)
 * ends the wait with its error.
 */
export async function zipCaughtUp(sheet: ExcelJS.Worksheet, output: Writable): Promise<void> {
  // archiver's pass-through is readable-stream 2's: no `writableNeedDrain`, its state says it.
  const entry = (sheet as unknown as { _stream?: { pipes?: Array<Writable & { _writableState?: { needDrain?: boolean } }> } })._stream?.pipes?.[0];
  while (entry?._writableState?.needDrain) {
    if (output.destroyed) throw output.errored ?? new SAError("E_INTERRUPTED", "the output closed before the workbook was written");
    const stop = new AbortController();
    try {
      await Promise.race([once(entry, "drain", { signal: stop.signal }), once(output, "close", { signal: stop.signal })]);
    } finally {
      stop.abort();
    }
  }
}

export function createWorkbook(stream: Writable): StreamWorkbook {
  return new PinnedWorkbookWriter({ stream, useStyles: true, useSharedStrings: false }) as unknown as StreamWorkbook;
}

export interface TableOptions {
  name: string;
  headers: string[];
  /** Data rows below the header, known when the sheet is committed. */
  rows: () => number;
}

const columnLetter = (n: number): string => (n <= 0 ? "" : columnLetter(Math.floor((n - 1) / 26)) + String.fromCharCode(65 + ((n - 1) % 26)));

function tableXml(id: number, options: TableOptions): string {
  const ref = `A1:${columnLetter(options.headers.length)}${options.rows() + 1}`;
  const columns = options.headers.map((h, i) => `<tableColumn id="${i + 1}" name="${xml(h)}"/>`).join("");
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" id="${id}" name="${options.name}" displayName="${options.name}" ref="${ref}" totalsRowShown="0"><autoFilter ref="${ref}"/><tableColumns count="${options.headers.length}">${columns}</tableColumns><tableStyleInfo name="TableStyleMedium2" showFirstColumn="0" showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>`;
}

/** Makes the sheet's used range an Excel table (style, filter buttons) when it is committed. */
export function addTable(workbook: StreamWorkbook, sheet: ExcelJS.Worksheet, options: TableOptions): void {
  const writer = workbook as unknown as PinnedWorkbookWriter;
  const internals = sheet as unknown as SheetInternals;
  const close = internals._writeCloseWorksheet.bind(internals);
  internals._writeCloseWorksheet = () => {
    if (options.rows() > 0) {
      const id = writer.tables.length + 1;
      const path = `xl/tables/table${id}.xml`;
      writer.tables.push(path);
      writer.zip.append(tableXml(id, options), { name: path });
      const rId = internals._sheetRelsWriter.addRelationship({ Type: TABLE_REL, Target: `../tables/table${id}.xml` });
      internals._write(`<tableParts count="1"><tablePart r:id="${rId}"/></tableParts>`);
    }
    close();
  };
}

export { columnLetter };
