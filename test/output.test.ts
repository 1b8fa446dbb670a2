import { describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, truncatePartialLine } from "../lib/jsonl.ts";
import { createEvolutionWriter } from "../lib/output.ts";
import type { ServiceEvolution } from "../lib/schema/evolution.ts";
import { tempDir } from "./helpers.ts";

const evolution = (id: string, plateaus: number, note = ""): ServiceEvolution =>
  ({
    meta: { schema_version: "1.0", run_id: "r", created: "t", models: {}, mapping_types: ["apps"], catalogue_hash: "" },
    service: { service_id: id, name: id, description: note, jobs_to_be_done: [], features: [] },
    plateaus: Array.from({ length: plateaus }, (_, i) => ({ plateau: i + 1, plateau_name: `P${i + 1}`, service_description: "", features: [], roles: [], mappings: {} })),
  }) as unknown as ServiceEvolution;

describe("canonical JSON", () => {
  test.each([
    [{ b: 1, a: { d: undefined, c: [{ y: 1, x: 2 }, 3, undefined] }, e: [], f: null }, '{"a":{"c":[{"x":2,"y":1},3,null]},"b":1,"e":[],"f":null}'],
    [{ a: 1, b: { c: 2, d: { f: 1, e: 2 } } }, '{"a":1,"b":{"c":2,"d":{"e":2,"f":1}}}'],
    [[{ b: 1, a: 2 }, "x"], '[{"a":2,"b":1},"x"]'],
    [{ z: { a: 1 }, y: [{ k: 1 }] }, '{"y":[{"k":1}],"z":{"a":1}}'],
  ])("sorts keys at every depth: %j", (value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });
});

describe("evolution output", () => {
  test("resume sees complete services; finish writes input order, complete lines first choice, others after", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      const big = "x".repeat(1_500_000); // a line longer than one read chunk
      writeFileSync(path, [evolution("B", 2, big), evolution("A", 1), evolution("Z", 2)].map((e) => `${canonicalJson(e)}\n`).join("") + '{"half":');
      const writer = createEvolutionWriter(path, { fresh: false, plateauCount: 2, sets: ["apps"] });
      expect([...writer.done.keys()].sort()).toEqual(["B", "Z"]);
      writer.write(evolution("A", 2, "complete now"));
      writer.write(evolution("C", 2));
      writer.finish(["A", "B", "C"]);
      // Byte for byte: a short line copied after the long one carries none of its bytes.
      const expected = [evolution("A", 2, "complete now"), evolution("B", 2, big), evolution("C", 2), evolution("Z", 2)];
      expect(readFileSync(path, "utf8")).toBe(expected.map((e) => `${canonicalJson(e)}\n`).join(""));
      const lines = readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.service.service_id)).toEqual(["A", "B", "C", "Z"]);
      expect(lines[0].service.description).toBe("complete now");
      expect(lines[1].service.description.length).toBe(1_500_000);
    } finally {
      cleanup();
    }
  });

  test("resume takes lines as zod would: a line only zod can complete counts, a line it refuses does not", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      const withFeature = (id: string, score: Record<string, unknown>, jobs: unknown[] = []) => {
        const e = evolution(id, 1) as unknown as { meta: { models: Record<string, unknown> }; service: { jobs_to_be_done: unknown[] }; plateaus: Array<{ features: unknown[] }> };
        e.meta.models = { fingerprint: `fp-${id}` };
        e.service.jobs_to_be_done = jobs;
        e.plateaus[0]!.features = [{ feature_id: `${id}-1`, name: "N", description: "D", score, customer_type: "r", mappings: {} }];
        return e;
      };
      const lines = [
        withFeature("ours", { level: 2, label: "Managed", justification: "J" }, ["a job", { name: "another", owner: "x" }]),
        withFeature("python", { level: 3 }), // no label: zod fills it in from the level
        withFeature("blank-job", { level: 2, label: "Managed", justification: "J" }, ["  "]),
        withFeature("bad-level", { level: 9, label: "?", justification: "J" }),
      ];
      writeFileSync(path, lines.map((e) => `${JSON.stringify(e)}\n`).join(""));
      const writer = createEvolutionWriter(path, { fresh: false, plateauCount: 1, sets: ["apps"] });
      expect(Object.fromEntries(writer.done)).toEqual({ ours: "fp-ours", python: "fp-python" });
    } finally {
      cleanup();
    }
  });

  test("finish leaves a file already in input order as it is, and rewrites one that is not", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      const line = (id: string) => `${canonicalJson(evolution(id, 1))}\n`;
      const writer = createEvolutionWriter(path, { fresh: true, plateauCount: 1, sets: ["apps"] });
      for (const id of ["A", "B", "C"]) writer.write(evolution(id, 1));
      const inode = statSync(path).ino;
      writer.finish(["A", "B", "C"]);
      // Not rewritten: the same file, with the same bytes.
      expect(statSync(path).ino).toBe(inode);
      expect(readFileSync(path, "utf8")).toBe(["A", "B", "C"].map(line).join(""));

      // Out of order, a blank line, a line superseded by a later one: rewritten in input order.
      writeFileSync(path, [line("C"), "\n", line("A"), line("B")].join(""));
      const resumed = createEvolutionWriter(path, { fresh: false, plateauCount: 1, sets: ["apps"] });
      resumed.write(evolution("D", 1));
      resumed.write(evolution("A", 1));
      resumed.finish(["A", "B", "C", "D"]);
      expect(statSync(path).ino).not.toBe(inode);
      expect(readFileSync(path, "utf8")).toBe(["A", "B", "C", "D"].map(line).join(""));

      // Nothing in order but a blank line: rewritten without it.
      writeFileSync(path, [line("A"), "\n"].join(""));
      createEvolutionWriter(path, { fresh: false, plateauCount: 1, sets: ["apps"] }).finish(["A"]);
      expect(readFileSync(path, "utf8")).toBe(line("A"));
    } finally {
      cleanup();
    }
  });

  test("the in-order rewrite keeps the file's permissions (a file kept private, or shared with a group)", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      for (const mode of [0o600, 0o664]) {
        writeFileSync(path, [evolution("B", 1), evolution("A", 1)].map((e) => `${canonicalJson(e)}\n`).join(""));
        chmodSync(path, mode);
        const inode = statSync(path).ino;
        createEvolutionWriter(path, { fresh: false, plateauCount: 1, sets: ["apps"] }).finish(["A", "B"]);
        expect(statSync(path).ino).not.toBe(inode);
        expect(statSync(path).mode & 0o777).toBe(mode);
      }
    } finally {
      cleanup();
    }
  });

  // Lines are encoded into a reused buffer: multi-byte text, and a line too long to keep the
  // buffer for, must still be written whole, with offsets a reorder can copy by.
  test("multi-byte and very long lines are written whole; a reorder copies them byte for byte", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      const notes = { B: "café ☕ 日本 😀".repeat(20_000), A: "x".repeat(2_000_000) + "é", C: "ü" };
      const writer = createEvolutionWriter(path, { fresh: true, plateauCount: 1, sets: ["apps"] });
      for (const id of ["B", "A", "C"] as const) writer.write(evolution(id, 1, notes[id]));
      writer.finish(["A", "B", "C"]);
      const expected = (["A", "B", "C"] as const).map((id) => `${canonicalJson(evolution(id, 1, notes[id]))}\n`).join("");
      expect(readFileSync(path).equals(Buffer.from(expected))).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("a partial last line is cut back to the last newline", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "x.jsonl");
      writeFileSync(path, '{"a":1}\n{"b":2}\n');
      appendFileSync(path, '{"c":');
      expect(truncatePartialLine(path)).toBe(5);
      expect(readFileSync(path, "utf8")).toBe('{"a":1}\n{"b":2}\n');
      expect(truncatePartialLine(path)).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("--fresh starts over; nothing finished still leaves a valid (empty) file", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "out.jsonl");
      writeFileSync(path, `${canonicalJson(evolution("A", 1))}\n`);
      const writer = createEvolutionWriter(path, { fresh: true, plateauCount: 1, sets: ["apps"] });
      expect(writer.done.size).toBe(0);
      writer.finish(["A"]);
      expect(readFileSync(path, "utf8")).toBe("");
    } finally {
      cleanup();
    }
  });
});
