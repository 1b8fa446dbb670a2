import { describe, expect, test } from "bun:test";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const sets = (allowEmpty?: boolean) => [
  { file: "applications.json", field: "applications" },
  { file: "technologies.json", field: "technologies", ...(allowEmpty === undefined ? {} : { allowEmpty }) },
  { file: "information.json", field: "data" },
];

/** The fixture data with an empty technologies catalogue, in list or object form. */
function emptyCatalogueData(dir: string, form: "list" | "object"): string {
  const data = join(dir, "data");
  cpSync(fixtureData, data, { recursive: true });
  writeFileSync(join(data, "technologies.json"), JSON.stringify(form === "list" ? [] : { field: "technologies", facets: [], items: [] }));
  return data;
}

describe("a catalogue with no items", () => {
  for (const form of ["list", "object"] as const) {
    test(`(${form} form) is refused at load: exit 2 naming the file, no call, no output`, async () => {
      const server = startTestServer();
      const { dir, cleanup } = tempDir();
      try {
        const data = emptyCatalogueData(dir, form);
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
        const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", data], { cwd: dir, baseURL: server.url });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(join(data, "technologies.json"));
        expect(server.requests).toHaveLength(0);
        expect(existsSync(join(dir, "out.jsonl"))).toBe(false);
        const preflight = await runScript("preflight", ["--input", input, "--data", data], { cwd: dir, baseURL: server.url });
        expect(preflight.code).not.toBe(0);
        expect(preflight.stdout).toContain(join(data, "technologies.json"));
      } finally {
        cleanup();
        await server.stop();
      }
    });
  }

  test("with allowEmpty: true, no call is made for it and the output keeps the mapping type with empty lists", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const data = emptyCatalogueData(dir, "object");
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: data, mappingSets: sets(true) }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      // Per service: 1 descriptions + 5 features + 5 plateaus × 2 non-empty catalogues.
      expect(server.requests).toHaveLength(2 * 16);
      expect(server.requests.some((r) => r.body.response_format?.json_schema?.name?.startsWith("technologies"))).toBe(false);
      const evolutions = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      for (const evolution of evolutions) {
        expect([...evolution.meta.mapping_types].sort()).toEqual(["applications", "data", "technologies"]);
        for (const plateau of evolution.plateaus) {
          expect(plateau.mappings.technologies).toEqual([]);
          expect(plateau.features.length).toBeGreaterThan(0);
          for (const feature of plateau.features) expect(feature.mappings.technologies).toEqual([]);
        }
      }
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
