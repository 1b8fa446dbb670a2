import { stringify } from "csv-stringify/sync";
import ExcelJS from "exceljs";
import JSZip from "jszip";
import { markdownTable } from "markdown-table";
import type { Table } from "./views.ts";

export function toCsv(table: Table): string {
  return stringify(table.rows, { header: true, columns: table.columns.map((c) => ({ key: c.key, header: c.header })) });
}

const mdCell = (v: unknown) => String(v ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");

export function toMarkdown(tables: Table[], title = "Service evolutions"): string {
  const sections = tables.map((t) => `## ${t.name[0]!.toUpperCase()}${t.name.slice(1)}\n\n${markdownTable([t.columns.map((c) => c.header), ...t.rows.map((r) => t.columns.map((c) => mdCell(r[c.key])))])}\n`);
  return `# ${title}\n\n${sections.join("\n")}`;
}

/** One sheet per view: bold, frozen header row, an autofilter, and columns as wide as their text. */
export async function toXlsx(tables: Table[]): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = "service-ambitions";
  // A fixed date keeps the same answers giving the same file.
  workbook.created = workbook.modified = new Date(0);
  for (const t of tables) {
    const sheet = workbook.addWorksheet(t.name, { views: [{ state: "frozen", ySplit: 1 }] });
    sheet.columns = t.columns.map((c) => ({
      header: c.header,
      key: c.key,
      width: Math.min(60, Math.max(c.header.length, ...t.rows.map((r) => String(r[c.key] ?? "").length)) + 2),
    }));
    sheet.getRow(1).font = { bold: true };
    for (const row of t.rows) sheet.addRow(row);
    if (t.columns.length) sheet.autoFilter = { from: { row: 1, column: 1 }, to: { row: 1, column: t.columns.length } };
  }
  return deterministicZip(Buffer.from(await workbook.xlsx.writeBuffer()));
}

/** exceljs stamps every zip entry with the current time: re-pack with a fixed one. */
async function deterministicZip(buffer: Buffer): Promise<Buffer> {
  const source = await JSZip.loadAsync(buffer);
  const out = new JSZip();
  const date = new Date(Date.UTC(2000, 0, 1));
  for (const name of Object.keys(source.files).sort()) {
    const file = source.files[name]!;
    if (!file.dir) out.file(name, await file.async("uint8array"), { date, createFolders: false });
  }
  return out.generateAsync({ type: "nodebuffer", compression: "DEFLATE", compressionOptions: { level: 6 } });
}

export function toJson(tables: Table[]): string {
  return `${JSON.stringify(Object.fromEntries(tables.map((t) => [t.name, t.rows])), null, 2)}\n`;
}
