import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCatalogue, loadDataset } from "../lib/data.ts";
import { catalogueFileSchema, plateausFileSchema, rolesFileSchema } from "../lib/schema/data.ts";
import { evolutionSchema } from "../lib/schema/evolution.ts";
import { descriptionsResponse, featuresResponse, mappingResponse } from "../lib/schema/responses.ts";
import { serviceSchema } from "../lib/schema/service.ts";
import { fixtureData, root } from "./helpers.ts";

const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown) => schema.safeParse(value).success;

describe("service schema", () => {
  test.each([
    ["minimal", { service_id: "S1", name: "A", description: "d" }, true],
    ["jobs as strings and objects (extra keys kept)", { service_id: "S1", name: "A", description: "d", jobs_to_be_done: ["x", { name: "y", job_to_be_done_id: "J1" }] }, true],
    ["seed features", { service_id: "S1", name: "A", description: "d", features: [{ feature_id: "F1", name: "n", description: "d" }] }, true],
    ["missing name", { service_id: "S1", description: "d" }, false],
    ["empty service_id", { service_id: "", name: "A", description: "d" }, false],
    ["job without name", { service_id: "S1", name: "A", description: "d", jobs_to_be_done: [{ explanation: "x" }] }, false],
  ])("%s", (_name, value, valid) => expect(ok(serviceSchema, value)).toBe(valid));

  test("extra keys on a job are kept", () => {
    const parsed = serviceSchema.parse({ service_id: "S1", name: "A", description: "d", jobs_to_be_done: [{ name: "y", role: [{ name: "r" }] }] });
    expect(parsed.jobs_to_be_done[0]).toEqual({ name: "y", role: [{ name: "r" }] });
  });
});

describe("data schemas", () => {
  test("roles and plateaus", () => {
    expect(ok(rolesFileSchema, [{ role_id: "a", name: "A", description: "d" }])).toBe(true);
    expect(ok(rolesFileSchema, [{ name: "A" }])).toBe(false);
    expect(ok(plateausFileSchema, [{ id: "P1", name: "One", description: { core_idea: "c", key_characteristics: ["k"], what_it_feels_like: "w" } }])).toBe(true);
    expect(ok(plateausFileSchema, [{ id: "P1", name: "One", description: "plain text" }])).toBe(true);
    expect(ok(plateausFileSchema, [])).toBe(false);
  });

  test("catalogue in list and object form", () => {
    expect(ok(catalogueFileSchema, [{ id: "a", name: "A", description: "d" }])).toBe(true);
    expect(ok(catalogueFileSchema, { field: "x", facets: [{ id: "f", type: "enum", required: true, options: [{ id: "o" }] }], items: [{ id: "a", name: "A" }] })).toBe(true);
    expect(ok(catalogueFileSchema, { facets: [{ id: "f", type: "enum", options: [] }], items: [] })).toBe(false);
    expect(ok(catalogueFileSchema, { facets: [{ id: "f", type: "date" }], items: [] })).toBe(false);
  });

  test("the fixture dataset loads", async () => {
    const data = await loadDataset({ dataDir: fixtureData, mappingSets: [
      { file: "applications.json", field: "applications" },
      { file: "technologies.json", field: "technologies" },
      { file: "information.json", field: "data" },
    ] });
    expect(data.roles).toHaveLength(3);
    expect(data.plateaus.map((p) => p.level)).toEqual([1, 2, 3, 4, 5]);
    for (const c of data.catalogues) {
      expect(c.items.length).toBeGreaterThanOrEqual(15);
      expect(c.facets.length).toBeGreaterThan(0);
    }
    expect(data.situationalContext).toContain("council");
  });

  test("a bad data file is one line naming the file, the line and the field", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "sa-data-"));
    const items = [{ id: "A", name: "a" }, { id: "B", name: 7 }];
    writeFileSync(join(dir, "cat.json"), JSON.stringify({ facets: [], items }, null, 2));
    let message = "";
    try {
      await loadCatalogue(join(dir, "cat.json"), "things");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`data ${join(dir, "cat.json")}:10: items.1.name: Invalid input: expected string, received number`);
  });

  test.each([
    ["an object-form item id", { facets: [], items: [{ id: "A", name: "a" }, { id: "A", name: "b" }] }, 9, 'items.1.id: duplicate "A"'],
    ["a list-form item id", [{ id: "A", name: "a" }, { id: "B", name: "b" }, { id: "A", name: "c" }], 11, '2.id: duplicate "A"'],
    ["a facet id", { facets: [{ id: "f", type: "string" }, { id: "f", type: "string" }], items: [{ id: "A", name: "a" }] }, 8, 'facets.1.id: duplicate "f"'],
  ])("a repeated id (%s) names the line and the field of the repeat", async (_name, file, line, field) => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = join(mkdtempSync(join(tmpdir(), "sa-data-")), "cat.json");
    writeFileSync(path, JSON.stringify(file, null, 2));
    let message = "";
    try {
      await loadCatalogue(path, "things");
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(`data ${path}:${line}: ${field}`);
  });

  test("a list-form catalogue has no facets", async () => {
    const c = await loadCatalogue(join(root, "fixtures/python/list-catalogue.json"), "things");
    expect(c.facets).toEqual([]);
    expect(c.items).toHaveLength(5);
  });
});

describe("evolution schema", () => {
  test("reads the Python tool's evolutions", () => {
    for (const line of readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n")) {
      const parsed = evolutionSchema.parse(JSON.parse(line));
      expect(parsed.meta.schema_version).toBe("1.0");
      expect(parsed.plateaus[0]!.features[0]!.mappings).toEqual({});
    }
  });
  test("a score without its label gets the label of its level", () => {
    const e = JSON.parse(readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").split("\n")[0]!);
    delete e.plateaus[0].features[1].score.label;
    expect(evolutionSchema.parse(e).plateaus[0]!.features[1]!.score.label).toBe("Defined");
  });
  test("rejects a line without plateaus", () => {
    expect(ok(evolutionSchema, { meta: { schema_version: "1.0", run_id: "r", created: "x" }, service: { service_id: "s", name: "n", description: "" } })).toBe(false);
  });
});

describe("response schemas pin identifiers", () => {
  test("descriptions pin plateau names", () => {
    const s = descriptionsResponse(["One", "Two"]);
    expect(ok(s, { descriptions: [{ plateau_name: "One", description: "x" }] })).toBe(true);
    expect(ok(s, { descriptions: [{ plateau_name: "Three", description: "x" }] })).toBe(false);
  });
  test("features pin role ids and levels 1..5", () => {
    const s = featuresResponse(["r1"]);
    const f = (role: string, level: number) => ({ features: [{ role, name: "n", description: "d", score: { level, justification: "j" } }] });
    expect(ok(s, f("r1", 3))).toBe(true);
    expect(ok(s, f("r2", 3))).toBe(false);
    expect(ok(s, f("r1", 6))).toBe(false);
  });
  test("mapping pins feature ids, item ids and facets", () => {
    const catalogue = { field: "apps", label: "Apps", items: [{ id: "A1", name: "a", description: "" }], facets: [
      { id: "kind", type: "enum" as const, required: true, options: [{ id: "ui" }] },
      { id: "note", type: "string" as const, required: false },
    ] };
    const s = mappingResponse(["F1"], catalogue, 500);
    expect(ok(s, { mappings: [{ feature_id: "F1", items: [{ item: "A1", facets: { kind: "ui", note: null } }] }] })).toBe(true);
    expect(ok(s, { mappings: [{ feature_id: "F2", items: [] }] })).toBe(false);
    expect(ok(s, { mappings: [{ feature_id: "F1", items: [{ item: "A9", facets: { kind: "ui", note: null } }] }] })).toBe(false);
    expect(ok(s, { mappings: [{ feature_id: "F1", items: [{ item: "A1", facets: { kind: "api", note: null } }] }] })).toBe(false);
    // Too many items for an enum: a plain string, checked after the answer.
    const big = mappingResponse(["F1"], catalogue, 0);
    expect(ok(big, { mappings: [{ feature_id: "F1", items: [{ item: "anything", facets: { kind: "ui", note: null } }] }] })).toBe(true);
  });

  test("item ids past OpenAI's enum size limit (over 250 values, 7,500 characters in all) are a plain string, within enumLimit too", () => {
    // 300 UUID-like ids: 10,800 characters, which OpenAI's strict schemas refuse as one enum (HTTP 400).
    const items = Array.from({ length: 300 }, (_, i) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, name: `n${i}`, description: "" }));
    const long = mappingResponse(["F1"], { field: "apps", label: "Apps", items, facets: [] }, 500);
    expect(ok(long, { mappings: [{ feature_id: "F1", items: [{ item: "not-an-id" }] }] })).toBe(true);
    // 300 short ids fit: still an enum.
    const short = mappingResponse(["F1"], { field: "apps", label: "Apps", items: items.map((it, i) => ({ ...it, id: `A${i}` })), facets: [] }, 500);
    expect(ok(short, { mappings: [{ feature_id: "F1", items: [{ item: "not-an-id" }] }] })).toBe(false);
  });
});
