import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pythonEvolutionSchema } from "../lib/schema/python-evolution.ts";
import { formatIssues } from "../lib/zod-error.ts";
import { fixtureData, fixtureServices, root, runScript, tempDir } from "./helpers.ts";

const python = join(root, "fixtures", "python");
const rows = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);

/** Every line of `path` under the mirror of the Python tool's ServiceEvolution; the reasons of those that fail. */
function invalidLines(path: string): string[] {
  return rows(path).flatMap((row, i) => {
    const parsed = pythonEvolutionSchema.safeParse(row);
    return parsed.success ? [] : [`line ${i + 1}: ${formatIssues(parsed.error)}`];
  });
}

const run = (dir: string, args: string[]) => runScript(args[0]!, [...args.slice(1), "--model", "synthetic:demo", "--data", fixtureData], { cwd: dir });

describe("the mirror of the Python ServiceEvolution", () => {
  const valid = rows(join(python, "evolutions.jsonl"))[0]!;
  const edit = (change: (e: any) => void) => {
    const copy = structuredClone(valid);
    change(copy);
    return pythonEvolutionSchema.safeParse(copy).success;
  };
  test("accepts a line the Python tool wrote", () => expect(pythonEvolutionSchema.safeParse(valid).success).toBe(true));
  test.each([
    ["an unknown top-level key in service", (e: any) => (e.service.owner = "x")],
    ["an empty parent_id", (e: any) => (e.service.parent_id = "")],
    ["an empty customer_type on the service", (e: any) => (e.service.customer_type = "")],
    ["a blank job name", (e: any) => (e.service.jobs_to_be_done = ["  "])],
    ["an unknown key on a feature", (e: any) => (e.plateaus[0].features[0].plateau = 1)],
    ["an empty feature description", (e: any) => (e.plateaus[0].features[0].description = "")],
    ["an empty customer_type on a feature", (e: any) => (e.plateaus[0].features[0].customer_type = "")],
    ["a label that does not match the level", (e: any) => (e.plateaus[0].features[0].score.label = "Initial")],
    ["a null facet value", (e: any) => (e.plateaus[0].features[0].mappings = { apps: [{ item: "A", facets: { x: null } }] })],
    ["a short catalogue_hash", (e: any) => (e.meta.catalogue_hash = "abc")],
    ["a non-string model name", (e: any) => (e.meta.models = { mapping: 1 })],
    ["an unknown meta key", (e: any) => (e.meta.fingerprint = "x")],
    ["a string seed", (e: any) => (e.meta.seed = "0")],
  ])("rejects %s", (_name, change) => expect(edit(change)).toBe(false));
});

describe("run and map write lines the Python tool's ServiceEvolution accepts", () => {
  test("run: edge inputs are normalised or refused by line number; every line written validates", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await run(dir, ["run", "--input", join(python, "edge-services.jsonl"), "--output", "out.jsonl"]);
      expect(result.code).toBe(1);
      for (const line of [6, 7, 8]) expect(result.stderr).toContain(`edge-services.jsonl:${line}:`);
      // One warning per dropped key name for the whole run, though "owner" is on two lines.
      for (const key of ["owner", "tags", "features[].plateau"]) expect(result.stderr.split(`dropped the key "${key}"`).length - 1).toBe(1);
      const out = rows(join(dir, "out.jsonl"));
      expect(out.map((e) => e.service.service_id)).toEqual(["E01", "E02", "E03", "E04", "E05"]);
      expect(invalidLines(join(dir, "out.jsonl"))).toEqual([]);
      expect("parent_id" in out[0]!.service).toBe(false);
      expect("customer_type" in out[2]!.service).toBe(false);
      expect(out[2]!.service.jobs_to_be_done).toEqual(["Apply for a permit", { name: "Appeal a fine" }]);
      expect(out[4]!.service.jobs_to_be_done).toEqual([]);
      for (const e of out) expect(e.meta.mapping_types).toEqual(["applications", "data", "technologies"]);
    } finally {
      cleanup();
    }
  });

  test("map: over our run's output, the Python tool's evolutions, feature records and lean records", async () => {
    const { dir, cleanup } = tempDir();
    try {
      expect((await run(dir, ["run", "--input", fixtureServices, "--output", "run.jsonl"])).code).toBe(0);
      expect(invalidLines(join(dir, "run.jsonl"))).toEqual([]);
      const inputs: [string, string[]][] = [
        ["ours", ["--input", "run.jsonl"]],
        ["evolutions", ["--input", join(python, "evolutions.jsonl")]],
        ["records", ["--input", join(python, "feature-records.jsonl")]],
        ["lean", ["--features-file", join(python, "lean-features.jsonl"), "--service-file", join(python, "lean-services.jsonl")]],
      ];
      for (const [name, args] of inputs) {
        const result = await run(dir, ["map", ...args, "--output", `${name}.jsonl`]);
        expect(result.code).toBe(0);
        expect(rows(join(dir, `${name}.jsonl`)).length).toBeGreaterThan(0);
        expect(invalidLines(join(dir, `${name}.jsonl`))).toEqual([]);
      }
    } finally {
      cleanup();
    }
  });
});

describe("a Python line with meta.catalogue_hash null (its `map` writes one when it has no catalogue)", () => {
  test("export, check, diff and map read it", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const line = rows(join(python, "evolutions.jsonl"))[0]!;
      line.meta.catalogue_hash = null;
      expect(pythonEvolutionSchema.safeParse(line).success).toBe(true);
      const file = join(dir, "null-hash.jsonl");
      writeFileSync(file, `${JSON.stringify(line)}\n`);
      const results = {
        export: await runScript("export", ["--input", file, "--output", "out.csv"], { cwd: dir }),
        check: await runScript("check", ["--input", file], { cwd: dir }),
        diff: await runScript("diff", [file, file], { cwd: dir }),
        map: await run(dir, ["map", "--input", file, "--output", "mapped.jsonl"]),
      };
      for (const [task, result] of Object.entries(results)) expect(`${task}: ${result.stderr}`).not.toContain("catalogue_hash");
      expect(results.export.stderr).toContain("exported 1 services");
      expect(results.diff.code).toBe(0);
      expect(results.map.code).toBe(0);
      expect(invalidLines(join(dir, "mapped.jsonl"))).toEqual([]);
    } finally {
      cleanup();
    }
  });
});
