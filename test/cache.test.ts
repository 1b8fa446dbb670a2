import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { runServices } from "../lib/pipeline/run.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, tempDir, testRuntime, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";
import { warningLog } from "./cache/contract.ts";
import type { Log } from "../lib/log.ts";

/** The fs cache's entry files of one stage, with their parsed JSON. */
function entriesOf(dir: string, stage: string): Array<{ file: string; entry: Record<string, any> }> {
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
  walk(join(dir, ".sa/cache/default", stage));
  return files.sort().map((file) => ({ file, entry: JSON.parse(readFileSync(file, "utf8")) }));
}

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** Runs the pipeline in-process against the local server; returns how many requests it sent. */
async function calls(dir: string, input: string, config: Record<string, unknown> = {}, output = "out.jsonl", log?: Log) {
  const before = server.requests.length;
  const rt = await testRuntime(dir, { baseURL: server.url, config, log });
  const summary = await runServices(rt, { input, output: join(dir, output), fresh: true });
  await rt.close();
  expect(summary.status).toBe("ok");
  return server.requests.length - before;
}

describe("cache in a run", () => {
  test("a second identical run makes 0 calls; --cache-mode refresh makes them all again", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      expect(await calls(dir, input)).toBe(42);
      expect(await calls(dir, input)).toBe(0);
      expect(await calls(dir, input, { cacheMode: "refresh" })).toBe(42);
      expect(await calls(dir, input, { cacheMode: "off" })).toBe(42);
    } finally {
      cleanup();
    }
  });

  test("--cache-mode off reads and writes nothing; write fills only what is missing", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      expect(await calls(dir, input, { cacheMode: "off" })).toBe(21);
      expect(existsSync(join(dir, ".sa/cache/default"))).toBe(false);
      expect(await calls(dir, input, { cacheMode: "write" })).toBe(21);
      const written = entriesOf(dir, "mapping").map((e) => [e.file, e.entry.createdAt]);
      expect(written).toHaveLength(15);
      expect(await calls(dir, input, { cacheMode: "off" })).toBe(21);
      expect(await calls(dir, input, { cacheMode: "write" })).toBe(21);
      expect(entriesOf(dir, "mapping").map((e) => [e.file, e.entry.createdAt])).toEqual(written);
      expect(await calls(dir, input)).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("the key covers the system prompt, the model and the schema, but not input whitespace", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const rows = makeServices(1);
      const input = writeJsonl(join(dir, "in.jsonl"), rows);
      expect(await calls(dir, input)).toBe(21);

      // Only whitespace differs in the input file: every call hits.
      const spaced = writeJsonl(join(dir, "spaced.jsonl"), rows.map((r) => JSON.stringify(r, null, 0).replace(/,/g, ",   ").replace(/:/g, " : ")));
      expect(await calls(dir, spaced)).toBe(0);

      // Only the system prompt differs (the situational context): every call misses.
      const data = join(dir, "data");
      cpSync(fixtureData, data, { recursive: true });
      writeFileSync(join(data, "situational_context.md"), "A different city altogether.\n");
      expect(await calls(dir, input, { dataDir: data })).toBe(21);

      // Only the model differs.
      expect(await calls(dir, input, { model: "openai:gpt-4.1-mini" })).toBe(21);

      // Only the mapping schema differs (item ids as plain strings): just the 15 mapping calls miss.
      // (The test server then invents item ids, so each of those is re-asked once: count first asks.)
      const before = server.requests.length;
      await calls(dir, input, { enumLimit: 1 });
      const fresh = server.requests.slice(before).filter((r) => r.body.messages.length === 2);
      expect(fresh.length).toBe(15);
      expect(fresh.every((r) => r.body.response_format?.json_schema?.name?.endsWith("_mapping"))).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("--dry-run: a warm cache gives the full output, a cold one lists its misses; no network either way", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      await calls(dir, input, {}, "first.jsonl");
      const before = server.requests.length;
      const warm = await runScript("run", ["--input", input, "--output", "warm.jsonl", "--data", fixtureData, "--dry-run", "--json"], { cwd: dir, baseURL: server.url, env: { SA_CACHE__BASE: join(dir, ".sa/cache") } });
      expect(warm.code).toBe(0);
      expect(readFileSync(join(dir, "warm.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);

      const cold = await runScript("run", ["--input", input, "--output", "cold.jsonl", "--data", fixtureData, "--dry-run", "--json"], { cwd: dir, baseURL: server.url, env: { SA_CACHE__BASE: join(dir, "empty-cache") } });
      expect(cold.code).toBe(1);
      const summary = JSON.parse(cold.stdout.trim().split("\n").at(-1)!);
      // Every call that would be made: the later stages of a service whose first stage misses too.
      expect(summary.misses).toHaveLength(42);
      expect(summary.misses[0]).toMatchObject({ stage: "descriptions", model: "openai:gpt-4o-mini" });
      expect(summary.missesByStage).toEqual({ descriptions: 2, features: 10, mapping: 30 });
      expect(cold.stderr).toContain("dry run: 42 call(s) not in the cache (descriptions 2, features 10, mapping 30)");
      expect(readFileSync(join(dir, "cold.jsonl"), "utf8")).toBe("");
      expect(server.requests.length).toBe(before);
    } finally {
      cleanup();
    }
  });

  test("a cached answer that no longer validates is asked again; one zod still accepts is a hit", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      expect(await calls(dir, input, {}, "first.jsonl")).toBe(21);
      const edit = (target: { file: string; entry: Record<string, any> }, change: (e: Record<string, any>) => void) => {
        change(target.entry);
        writeFileSync(target.file, JSON.stringify(target.entry));
      };
      const mappings = entriesOf(dir, "mapping");
      const apps = mappings.filter((m) => m.entry.request.schemaName === "applications_mapping");
      // Invalid: a facet of the wrong type, a score out of range, a usage that is not a number.
      edit(apps[0]!, (e) => (e.answer.mappings[0].items[0].facets.criticality = "high"));
      edit(entriesOf(dir, "features")[0]!, (e) => (e.answer.features[0].score.level = 9));
      edit(apps[1]!, (e) => (e.usage.inputTokens = "many"));
      // Still valid for zod (it strips unknown keys of the entry and of a lenient mapping item).
      edit(apps[2]!, (e) => (e.answer.mappings[0].items[0].note = "kept out"));
      edit(mappings.find((m) => m.entry.request.schemaName === "technologies_mapping")!, (e) => (e.note = "kept out"));
      const { log, warnings } = warningLog();
      expect(await calls(dir, input, {}, "second.jsonl", log)).toBe(3);
      expect(warnings.filter((w) => w.includes("no longer validates"))).toHaveLength(2);
      expect(warnings.filter((w) => w.includes("is corrupt or of another shape"))).toHaveLength(1);
      expect(readFileSync(join(dir, "second.jsonl"), "utf8").replace(/"(created|run_id)":"[^"]*"/g, "")).toBe(readFileSync(join(dir, "first.jsonl"), "utf8").replace(/"(created|run_id)":"[^"]*"/g, ""));
    } finally {
      cleanup();
    }
  });

  test("two runs writing the same keys at once leave only whole entries", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const args = (out: string) => ["--input", input, "--output", out, "--data", fixtureData, "--cache-mode", "refresh", "--quiet"];
      const results = await Promise.all([runScript("run", args("a.jsonl"), { cwd: dir, baseURL: server.url }), runScript("run", args("b.jsonl"), { cwd: dir, baseURL: server.url })]);
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      const files: string[] = [];
      const walk = (d: string) => readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
      walk(join(dir, ".sa/cache"));
      expect(files.length).toBe(63);
      for (const f of files) expect(() => JSON.parse(readFileSync(f, "utf8"))).not.toThrow();
    } finally {
      cleanup();
    }
  });
});

describe("transcripts and imported answers", () => {
  test("--transcripts stores prompts and answers under transcripts:, and only when asked", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      await calls(dir, input);
      await calls(dir, input, { transcripts: true, cacheMode: "refresh" });
      const { createCacheStorage } = await import("../lib/cache.ts");
      const storage = await createCacheStorage({ driver: "fs", base: join(dir, ".sa/cache") });
      const keys = await storage.getKeys("transcripts");
      expect(keys).toHaveLength(21);
      const entry = (await storage.getItem(keys[0]!)) as { messages: { role: string }[]; answer: string };
      expect(entry.messages[0]!.role).toBe("system");
      expect(typeof entry.answer).toBe("string");
      await storage.dispose();
    } finally {
      cleanup();
    }
  });

  test("run --reuse-imported answers from an imported Python cache entry that validates", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const names = ["Foundational", "Enhanced", "Autonomous", "Outcome-Driven", "Transformative"];
      // The folder of the run's context_id (university by default): another context's answers are not reused.
      const pyCache = join(dir, "py", "university", "SVC001");
      require("node:fs").mkdirSync(pyCache, { recursive: true });
      writeFileSync(join(pyCache, "abc123.json"), JSON.stringify({ descriptions: names.map((n) => ({ plateau_name: n, description: `Imported description at ${n}.` })) }));
      expect((await runScript("cache", ["import", join(dir, "py")], { cwd: dir })).code).toBe(0);
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--reuse-imported", "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const sent = server.requests.slice(before);
      expect(sent).toHaveLength(20);
      expect(sent.some((r) => r.body.response_format?.json_schema?.name === "plateau_descriptions")).toBe(false);
      const evolution = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8"));
      expect(evolution.plateaus[0].service_description).toBe("Imported description at Foundational.");
    } finally {
      cleanup();
    }
  });
});

describe("redis cache", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  test("a run fills Redis, writes nothing to .sa/cache, and a rerun completes from Redis with the provider down", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ cache: { driver: "redis", url: redis.url, base: "sa" }, dataDir: fixtureData }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const provider = startTestServer();
      const first = await runScript("run", ["--input", input, "--output", "out.jsonl", "--json"], { cwd: dir, baseURL: provider.url });
      await provider.stop();
      expect(first.code).toBe(0);
      expect(existsSync(join(dir, ".sa/cache"))).toBe(false);
      const client = new Redis(redis.url);
      expect((await client.keys("sa:*")).length).toBe(42);
      client.disconnect();

      // The same base URL (it is part of the key), with nothing listening there any more.
      const down = await runScript("run", ["--input", input, "--output", "again.jsonl", "--json"], { cwd: dir, baseURL: provider.url });
      expect(down.code).toBe(0);
      const summary = JSON.parse(down.stdout.trim().split("\n").at(-1)!);
      expect(summary.totals.liveCalls).toBe(0);
      expect(summary.totals.cachedCalls).toBe(42);
      // The same answers name the same run and time: the same bytes.
      expect(readFileSync(join(dir, "again.jsonl")).equals(readFileSync(join(dir, "out.jsonl")))).toBe(true);
    } finally {
      cleanup();
    }
  });
});

describe("cache task", () => {
  test("import reads the Python layout, reports counts, and stats lists what it imported", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("cache", ["import", join(root, "fixtures/python-cache"), "--json"], { cwd: dir });
      expect(result.code).toBe(1); // two entries cannot be imported
      const report = JSON.parse(result.stdout);
      expect(report).toMatchObject({ migrated: 42, skipped: 1, invalid: 2 });
      expect(report.problems.join("\n")).toMatch(/CS09\/[0-9a-f]{32}\.json: invalid JSON/);
      expect(report.problems.join("\n")).toMatch(/CS09\/1\/[0-9a-f]{32}\.json: not a features answer/);
      expect(result.stderr).toContain("42 migrated, 1 skipped, 2 invalid");
      const again = JSON.parse((await runScript("cache", ["import", join(root, "fixtures/python-cache"), "--json"], { cwd: dir })).stdout);
      expect(again).toMatchObject({ migrated: 0, skipped: 43, invalid: 2 });
      const stats = JSON.parse((await runScript("cache", ["stats", "--json"], { cwd: dir })).stdout);
      expect(stats.namespaces).toEqual([
        { namespace: "imported:descriptions", entries: 2, bytes: expect.any(Number) },
        { namespace: "imported:features", entries: 10, bytes: expect.any(Number) },
        { namespace: "imported:mapping", entries: 30, bytes: expect.any(Number) },
      ]);
      const text = await runScript("cache", ["stats"], { cwd: dir });
      expect(text.stdout).toContain("imported:features");
    } finally {
      cleanup();
    }
  });

  test("prune by namespace and by age, and clear", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      await calls(dir, input);
      const run = (...args: string[]) => runScript("cache", [...args, "--json"], { cwd: dir });
      expect(JSON.parse((await run("prune", "--namespace", "default:mapping")).stdout)).toEqual({ removed: 15 });
      expect(JSON.parse((await run("prune", "--older-than", "30d")).stdout)).toEqual({ removed: 0 });
      expect(JSON.parse((await run("prune", "--older-than", "0s")).stdout)).toEqual({ removed: 6 });
      expect((await run("prune", "--older-than", "soon")).code).toBe(2);
      await calls(dir, input);
      expect(JSON.parse((await run("clear", "--yes")).stdout)).toEqual({ removed: 21 });
    } finally {
      cleanup();
    }
  });
});

describe("a failing store", () => {
  test("after a few failures in a row the run goes on without the cache, with one warning", async () => {
    const { createStorage } = await import("unstorage");
    const { createCallCache } = await import("../lib/cache.ts");
    const { warningLog, sampleEntry } = await import("./cache/contract.ts");
    let attempts = 0;
    const down = () => {
      attempts++;
      throw new Error("connection refused");
    };
    const storage = createStorage({ driver: { name: "down", hasItem: down, getItem: down, setItem: down, removeItem: down, getKeys: () => [], clear: () => {} } });
    const { log, warnings } = warningLog();
    const cache = createCallCache(storage, { mode: "read", log });
    for (let i = 0; i < 20; i++) {
      expect(await cache.lookup(`k${i}`)).toBeUndefined();
      await cache.store(`k${i}`, sampleEntry());
    }
    // Five failures, then one probe of a plain key (it fails too: the store is down, not one key).
    expect(attempts).toBe(6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("goes on without the cache");
  });
});
