import { stringify } from "csv-stringify/sync";
import type { Sink } from "./sink.ts";
import type { EvolutionSource } from "./source.ts";
import { cellText, type TableSpec } from "./views.ts";

/**
 * A text cell a spreadsheet would run as a formula is prefixed with a quote and quoted, as OWASP
 * recommends for CSV injection (https://owasp.org/www-community/attacks/CSV_Injection).
 */
const guardFormula = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

const options = (table: TableSpec) => ({
  columns: table.columns.map((c) => ({ key: c.key, header: c.key })),
  cast: { string: guardFormula },
  quoted_match: /^'[=+\-@\t\r]/,
});

/** One table as CSV, written as the input is read, in batches of rows. */
export async function writeCsv(input: { source: EvolutionSource; table: TableSpec; sink: Sink; bom: boolean }): Promise<number> {
  const { table, sink } = input;
  await sink.write(stringify([], { ...options(table), header: true, bom: input.bom }));
  let count = 0;
  let batch: Array<Array<string | number>> = [];
  const flush = async () => {
    if (batch.length) await sink.write(stringify(batch, { ...options(table), columns: undefined }));
    batch = [];
  };
  for await (const e of input.source.read()) {
    for (const row of table.rows(e)) {
      // A number stays one (csv-stringify writes it as it is): -3 is a value, not a formula.
      batch.push(table.columns.map((c) => (typeof row[c.key] === "number" ? (row[c.key] as number) : cellText(row[c.key]))));
      count++;
    }
    if (batch.length >= 500) await flush();
  }
  await flush();
  return count;
}
