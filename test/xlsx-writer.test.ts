import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import ExcelJS from "exceljs";
import { evolutionSchema, type ServiceEvolution } from "../lib/schema/evolution.ts";
import type { Sink } from "../lib/export/sink.ts";
import type { EvolutionSource } from "../lib/export/source.ts";
import { summarise } from "../lib/export/summary.ts";
import { tableSpecs } from "../lib/export/views.ts";
import { writeXlsx } from "../lib/export/xlsx.ts";
import { tempDir } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

let base: ServiceEvolution;
let cleanup: () => void;
beforeAll(async () => {
  const made = tempDir("sa-xlsx-writer-");
  cleanup = made.cleanup;
  base = evolutionSchema.parse((await syntheticEvolutions(made.dir)).lines[0]);
});
afterAll(() => cleanup());

/** `count` copies of one evolution under other ids; `pulled` says how many the writer has asked for. */
function copies(count: number): EvolutionSource & { pulled: number } {
  const source = {
    path: "copies",
    badLines: [],
    repeated: new Map<string, number[]>(),
    pulled: 0,
    async *read() {
      for (let i = 0; i < count; i++) {
        source.pulled++;
        const e = { ...structuredClone(base), service: { ...base.service, service_id: `S${i}` } };
        // Words that do not repeat, so the zip cannot shrink the rows to nothing.
        for (const [j, f] of e.plateaus.flatMap((p) => p.features).entries()) f.description = createHash("sha512").update(`${i} ${j}`).digest("hex");
        yield e;
      }
    },
    dispose() {},
  };
  return source;
}

/** An output that takes nothing until `open()`, as a full disk or a slow pipe would. */
function heldOutput() {
  const chunks: Buffer[] = [];
  const waiting: Array<() => void> = [];
  let open = false;
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk);
      if (open) done();
      else waiting.push(done);
    },
  });
  return { stream, chunks, open: () => ((open = true), waiting.splice(0).forEach((done) => done())) };
}

describe("xlsx writer", () => {
  test("waits for the zip while the output takes nothing: rows are not all read into memory first", async () => {
    const count = 2000;
    const source = copies(count);
    const summary = await summarise(copies(count));
    const output = heldOutput();
    const sink = { path: "held.xlsx", stream: output.stream } as unknown as Sink;
    const writing = writeXlsx({ source, summary, tables: tableSpecs(summary.labels, ["features"]), sink });
    // Let the writer go as far as it can while the output is held.
    let last = -1;
    while (source.pulled !== last && source.pulled < count) {
      last = source.pulled;
      await Bun.sleep(300);
    }
    const whileHeld = source.pulled;
    output.open();
    const rows = await writing;
    await new Promise((resolve) => (output.stream.writableFinished ? resolve(undefined) : output.stream.once("finish", resolve)));
    expect(rows.features).toBe(count * base.plateaus.reduce((n, p) => n + p.features.length, 0));
    expect(whileHeld).toBeLessThan(count / 2);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(Buffer.concat(output.chunks) as unknown as ArrayBuffer);
    expect(book.getWorksheet("features")!.rowCount).toBe(rows.features! + 1);
  }, 60_000);
});
