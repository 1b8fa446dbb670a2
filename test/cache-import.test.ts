import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { featureCode } from "../lib/pipeline/feature-id.ts";
import { pythonEvolutionSchema } from "../lib/schema/python-evolution.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, fixtureServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

const pyCache = join(root, "fixtures", "python-cache", "university");
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));
const rows = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const services = (ids: string[]) => rows(fixtureServices).filter((s) => ids.includes(s.service_id));
/** The one JSON file in a folder of the Python cache. */
const onlyFile = (dir: string) => readJson(join(dir, readdirSync(dir).find((n) => n.endsWith(".json"))!));

/** Runs a task against the local server and says how many requests it sent. */
async function counted(dir: string, task: string, args: string[]) {
  const before = server.requests.length;
  const result = await runScript(task, [...args, "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
  return { ...result, requests: server.requests.length - before, summary: lastJson(result.stdout) };
}

describe("cache import of a Python cache folder", () => {
  test("run --reuse-imported reuses every imported answer: 0 requests, the Python tool's descriptions, names and ids", async () => {
    const { dir, cleanup } = tempDir();
    try {
      expect((await runScript("cache", ["import", join(root, "fixtures/python-cache")], { cwd: dir })).code).toBe(1); // the broken CS09 entries
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01", "CS01.02"]));
      const result = await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"]);
      expect(result.code).toBe(0);
      expect(result.requests).toBe(0);
      expect(result.summary.totals).toMatchObject({ liveCalls: 0, cachedCalls: 42 });

      for (const evolution of rows(join(dir, "out.jsonl"))) {
        expect(pythonEvolutionSchema.safeParse(evolution).success).toBe(true);
        const id = evolution.service.service_id;
        const descriptions = onlyFile(join(pyCache, id)).descriptions as { plateau_name: string; description: string }[];
        expect(evolution.plateaus.map((p: any) => p.service_description)).toEqual(descriptions.map((d) => d.description));
        for (const plateau of evolution.plateaus) {
          const imported = onlyFile(join(pyCache, id, String(plateau.plateau))).features as Record<string, { name: string }[]>;
          const names = Object.values(imported).flat().map((f) => f.name).sort();
          expect(plateau.features.map((f: any) => f.name).sort()).toEqual(names);
          // The mapping answers name features by the ids the Python tool computed: ours are the same.
          const mapped = onlyFile(join(pyCache, id, String(plateau.plateau), "mappings", "data")).features as { feature_id: string; mappings: { data: { item: string }[] } }[];
          expect(plateau.features.map((f: any) => f.feature_id).sort()).toEqual(mapped.map((m) => m.feature_id).sort());
          for (const m of mapped) {
            const feature = plateau.features.find((f: any) => f.feature_id === m.feature_id);
            expect(feature.mappings.data.map((c: any) => c.item)).toEqual(m.mappings.data.map((c) => c.item));
          }
        }
      }
    } finally {
      cleanup();
    }
  });

  test("a cache folder with several contexts: only the run's context (university by default) is reused", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const folder = join(dir, "py-cache");
      cpSync(join(pyCache, "CS01.01"), join(folder, "university", "CS01.01"), { recursive: true });
      // Another context_id's answers for the same service, sorted first, under the same file names.
      cpSync(join(pyCache, "CS01.01"), join(folder, "council", "CS01.01"), { recursive: true });
      const other = join(folder, "council", "CS01.01", readdirSync(join(pyCache, "CS01.01")).find((n) => n.endsWith(".json"))!);
      const answer = readJson(other) as { descriptions: { description: string }[] };
      for (const d of answer.descriptions) d.description = `Council context: ${d.description}`;
      writeFileSync(other, JSON.stringify(answer));
      expect((await runScript("cache", ["import", folder], { cwd: dir })).code).toBe(0);
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      const result = await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"]);
      expect(result.requests).toBe(0);
      const descriptions = rows(join(dir, "out.jsonl"))[0]!.plateaus.map((p: any) => p.service_description as string);
      expect(descriptions.filter((d: string) => d.startsWith("Council context"))).toEqual([]);
    } finally {
      cleanup();
    }
  });

  test("the context folder itself (<cache_dir>/university) imports as its parent would", async () => {
    const { dir, cleanup } = tempDir();
    try {
      cpSync(join(pyCache, "CS01.01"), join(dir, "cache", "university", "CS01.01"), { recursive: true });
      const imported = await runScript("cache", ["import", join(dir, "cache", "university")], { cwd: dir });
      expect(imported.code).toBe(0);
      expect(imported.stdout).toContain("migrated 21, skipped 0, invalid 0");
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      expect((await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"])).requests).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("a cache folder that also holds an older layout's files (mappings/unknown/, left by the Python tool's migrate_cache.py) is still read as the cache folder", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const folder = join(dir, "py-cache");
      cpSync(join(pyCache, "CS01.01"), join(folder, "university", "CS01.01"), { recursive: true });
      const legacy = join(folder, "university", "CS01.01", "mappings", "unknown");
      mkdirSync(legacy, { recursive: true });
      writeFileSync(join(legacy, "0123456789abcdef0123456789abcdef.json"), JSON.stringify({ features: [] }));
      const imported = await runScript("cache", ["import", folder], { cwd: dir });
      expect(imported.stdout).toContain("migrated 21,");
      expect(imported.stderr).toContain("university/CS01.01/mappings/unknown/0123456789abcdef0123456789abcdef.json: not in the");
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      expect((await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"])).requests).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("a features answer the Python tool took without one of the roles is reused as it is: nothing paid again", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const folder = join(dir, "cache", "university", "CS01.01");
      cpSync(join(pyCache, "CS01.01"), folder, { recursive: true });
      const plateau = join(folder, "3");
      const file = join(plateau, readdirSync(plateau).find((n) => n.endsWith(".json"))!);
      const answer = readJson(file) as { features: Record<string, { name: string }[]> };
      const left = new Set(answer.features.businesses!.map((f) => featureCode("Autonomous", "businesses", f.name)));
      delete answer.features.businesses;
      writeFileSync(file, JSON.stringify(answer));
      // Its mapping answers were made for the features it had.
      for (const field of readdirSync(join(plateau, "mappings"))) {
        const mapped = join(plateau, "mappings", field, readdirSync(join(plateau, "mappings", field))[0]!);
        const { features } = readJson(mapped) as { features: { feature_id: string }[] };
        writeFileSync(mapped, JSON.stringify({ features: features.filter((f) => !left.has(f.feature_id)) }));
      }
      expect((await runScript("cache", ["import", join(dir, "cache")], { cwd: dir })).code).toBe(0);
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      const result = await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"]);
      expect(result.requests).toBe(0);
      const line = rows(join(dir, "out.jsonl"))[0]!;
      expect(line.plateaus[2].features.map((f: any) => f.customer_type)).not.toContain("businesses");
      expect(line.plateaus[1].features.map((f: any) => f.customer_type)).toContain("businesses");
    } finally {
      cleanup();
    }
  });

  test("a mapping answer naming an item not in the catalogue is reused without it, as the Python tool dropped it", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const folder = join(dir, "cache", "university", "CS01.01");
      cpSync(join(pyCache, "CS01.01"), folder, { recursive: true });
      const mappings = join(folder, "2", "mappings", "applications");
      const file = join(mappings, readdirSync(mappings)[0]!);
      const answer = readJson(file) as { features: { mappings: { applications: { item: string; facets: unknown }[] } }[] };
      answer.features[0]!.mappings.applications.push({ item: "APP999", facets: null });
      writeFileSync(file, JSON.stringify(answer));
      expect((await runScript("cache", ["import", join(dir, "cache")], { cwd: dir })).code).toBe(0);
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      const result = await counted(dir, "run", ["--input", input, "--output", "out.jsonl", "--reuse-imported"]);
      expect(result.requests).toBe(0);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8")).not.toContain("APP999");
    } finally {
      cleanup();
    }
  });

  test("without --reuse-imported the imported answers are not used", async () => {
    const { dir, cleanup } = tempDir();
    try {
      await runScript("cache", ["import", join(root, "fixtures/python-cache")], { cwd: dir });
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.01"]));
      const result = await counted(dir, "run", ["--input", input, "--output", "out.jsonl"]);
      expect(result.code).toBe(0);
      expect(result.requests).toBe(21);
    } finally {
      cleanup();
    }
  });
});

describe("cache import --evolutions", () => {
  test("our own evolutions: run and map over them pay nothing in a fresh cache", async () => {
    const first = tempDir();
    const second = tempDir();
    try {
      const input = writeJsonl(join(first.dir, "in.jsonl"), services(["CS01.01", "CS01.02"]));
      expect((await counted(first.dir, "run", ["--input", input, "--output", "run.jsonl"])).requests).toBe(42);
      const seeded = await runScript("cache", ["import", "--evolutions", join(first.dir, "run.jsonl"), "--json"], { cwd: second.dir });
      expect(seeded.code).toBe(0);
      expect(JSON.parse(seeded.stdout)).toMatchObject({ migrated: 42, invalid: 0 });

      const rerun = await counted(second.dir, "run", ["--input", input, "--output", "again.jsonl", "--reuse-imported"]);
      expect(rerun.requests).toBe(0);
      const strip = (s: string) => s.replace(/"created":"[^"]*"|"run_id":"[^"]*"/g, "");
      expect(strip(readFileSync(join(second.dir, "again.jsonl"), "utf8"))).toBe(strip(readFileSync(join(first.dir, "run.jsonl"), "utf8")));
      const mapped = await counted(second.dir, "map", ["--input", join(first.dir, "run.jsonl"), "--output", "map.jsonl", "--reuse-imported"]);
      expect(mapped.code).toBe(0);
      expect(mapped.requests).toBe(0);
    } finally {
      first.cleanup();
      second.cleanup();
    }
  });

  test("a folder of per-service files (the Python tool's --temp-output-dir, <service_id>.json): run pays nothing", async () => {
    const first = tempDir();
    const second = tempDir();
    try {
      const input = writeJsonl(join(first.dir, "in.jsonl"), services(["CS01.01", "CS01.02"]));
      expect((await counted(first.dir, "run", ["--input", input, "--output", "run.jsonl"])).requests).toBe(42);
      const folder = join(second.dir, "temp-output");
      mkdirSync(folder);
      for (const line of readFileSync(join(first.dir, "run.jsonl"), "utf8").trim().split("\n")) writeFileSync(join(folder, `${JSON.parse(line).service.service_id}.json`), line);
      const seeded = await runScript("cache", ["import", "--evolutions", folder, "--json"], { cwd: second.dir });
      expect(seeded.code).toBe(0);
      expect(JSON.parse(seeded.stdout)).toMatchObject({ migrated: 42, invalid: 0 });
      expect((await counted(second.dir, "run", ["--input", input, "--output", "again.jsonl", "--reuse-imported"])).requests).toBe(0);
    } finally {
      first.cleanup();
      second.cleanup();
    }
  });

  test("a Python run output (mappings only in plateau.mappings groups): run and map pay nothing", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(root, "fixtures", "python", "run-output.jsonl");
      expect((await runScript("cache", ["import", "--evolutions", file], { cwd: dir })).code).toBe(0);
      const input = writeJsonl(join(dir, "in.jsonl"), services(["CS01.03"]));
      const run = await counted(dir, "run", ["--input", input, "--output", "run.jsonl", "--reuse-imported"]);
      expect(run.requests).toBe(0);
      const [source] = rows(file);
      const [ours] = rows(join(dir, "run.jsonl"));
      expect(ours!.plateaus.map((p: any) => p.service_description)).toEqual(source!.plateaus.map((p: any) => p.service_description));
      const ids = (e: any) => e.plateaus.map((p: any) => p.features.map((f: any) => f.feature_id).sort());
      expect(ids(ours)).toEqual(ids(source));
      expect(ours!.plateaus[0].mappings).toEqual(source!.plateaus[0].mappings);
      const map = await counted(dir, "map", ["--input", file, "--output", "map.jsonl", "--reuse-imported"]);
      expect(map.code).toBe(0);
      expect(map.requests).toBe(0);
      // A service the file does not hold is paid for as usual.
      const other = writeJsonl(join(dir, "other.jsonl"), services(["CS01.01"]));
      expect((await counted(dir, "run", ["--input", other, "--output", "other-out.jsonl", "--reuse-imported"])).requests).toBe(21);
    } finally {
      cleanup();
    }
  });
});

describe("cache import of the wrong kind of path", () => {
  test("a file where the Python cache folder goes is exit 2 naming it and pointing to --evolutions; the store is not blamed", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "evolutions.jsonl"), "{}\n");
      const result = await runScript("cache", ["import", "evolutions.jsonl"], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe("✖ cache import evolutions.jsonl: a file, not a folder (give the Python tool's cache folder; an evolutions file goes with --evolutions FILE)");
    } finally {
      cleanup();
    }
  });
});
