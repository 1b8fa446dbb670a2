import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeFromSchema } from "../lib/fake-answer.ts";
import { inputFingerprint } from "../lib/fingerprint.ts";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const schemaNameOf = (b: ChatBody) => b.response_format?.json_schema?.name;
const isFeatures = (b: ChatBody) => schemaNameOf(b) === "plateau_features";
const isDescriptions = (b: ChatBody) => schemaNameOf(b) === "plateau_descriptions";
const plateauOf = (b: ChatBody) => /Plateau (\d)/.exec(b.messages[1]!.content)?.[1];

let server: TestServer;
beforeAll(() => {
  // Descriptions are the same for every service and features depend only on the plateau here, so a
  // changed description changes the descriptions and features prompts of its service but not its
  // mapping prompts (which carry the plateau's description and features): those must come from the cache.
  const fixed = (body: ChatBody, seed: string) => JSON.stringify(fakeFromSchema(body.response_format!.json_schema!.schema!, seed));
  server = startTestServer({
    answer: (body) => (isFeatures(body) ? fixed(body, `plateau ${plateauOf(body)}`) : isDescriptions(body) ? fixed(body, "descriptions") : undefined),
  });
});
afterAll(() => server.stop());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const outputLines = (path: string) => readFileSync(path, "utf8").trim().split("\n");
const mentions = (id: string) => (r: { body: ChatBody }) => r.body.messages.some((m) => m.content.includes(`"service_id": "${id}"`) || m.content.includes(`Service ${Number(id.slice(3))}`));

describe("resume redoes a service whose inputs changed", () => {
  test("a changed description: exactly that service is redone, its unchanged calls from the cache", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(3);
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"];
      const run = (note: string) => runScript("run", args, { cwd: dir, baseURL: server.url }).then((r) => ({ ...r, note, summary: lastJson(r.stdout) }));

      const start = server.requests.length;
      expect((await run("first")).code).toBe(0);
      expect(server.requests.length - start).toBe(63);
      const first = outputLines(join(dir, "out.jsonl"));
      const fingerprints = first.map((l) => JSON.parse(l).meta.models.fingerprint);
      expect(fingerprints.every((f) => typeof f === "string" && f.startsWith("v1:"))).toBe(true);

      // 1. SVC002's description changes: its descriptions and features prompts change (6 calls).
      services[1]!.description = "A service whose description changed.";
      writeJsonl(input, services);
      const before = server.requests.length;
      const changed = await run("description");
      expect(changed.code).toBe(0);
      expect(changed.summary.services).toEqual({ total: 3, ok: 1, failed: 0, skipped: 2, redone: 1, incomplete: 0 });
      const fresh = server.requests.slice(before);
      expect(fresh).toHaveLength(6);
      expect(fresh.every(mentions("SVC002"))).toBe(true);
      expect(changed.summary.totals).toMatchObject({ liveCalls: 6, cachedCalls: 15 });
      expect(changed.stderr).toContain("1 written (1 redone: their inputs changed)");
      const second = outputLines(join(dir, "out.jsonl"));
      expect(second.map((l) => JSON.parse(l).service.service_id)).toEqual(["SVC001", "SVC002", "SVC003"]);
      expect(JSON.parse(second[1]!).service.description).toBe("A service whose description changed.");
      expect(JSON.parse(second[1]!).meta.models.fingerprint).not.toBe(fingerprints[1]);
      expect([second[0], second[2]]).toEqual([first[0], first[2]]); // the others were kept as they were

      // 2. A field no prompt uses (parent_id): redone, every call from the cache.
      services[2]!.parent_id = "PARENT";
      writeJsonl(input, services);
      const quiet = server.requests.length;
      const parent = await run("parent");
      expect(parent.summary.services).toMatchObject({ ok: 1, skipped: 2, redone: 1 });
      expect(parent.summary.totals).toMatchObject({ liveCalls: 0, cachedCalls: 21 });
      expect(server.requests.length).toBe(quiet);

      // 3. The same records with keys in another order: nothing to do.
      writeJsonl(input, services.map((s) => Object.fromEntries(Object.entries(s).reverse())));
      const same = await run("reordered");
      expect(same.summary.services).toEqual({ total: 3, ok: 0, failed: 0, skipped: 3, redone: 0, incomplete: 0 });

      // 4. A line with no fingerprint (an older output) cannot be trusted: redone, from the cache.
      const lines = outputLines(join(dir, "out.jsonl")).map((l) => JSON.parse(l));
      delete lines[0].meta.models.fingerprint;
      writeFileSync(join(dir, "out.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
      const old = await run("no fingerprint");
      expect(old.summary.services).toMatchObject({ ok: 1, skipped: 2, redone: 1 });
      expect(old.summary.totals.liveCalls).toBe(0);
      expect(server.requests.length).toBe(quiet);
    } finally {
      cleanup();
    }
  });
});

describe("inputFingerprint", () => {
  const base = {
    service: { service_id: "S1", name: "One", description: "d", jobs_to_be_done: [] },
    catalogueHash: "c1",
    prompts: "p1",
    config: { model: "openai:gpt-4o-mini", models: { fallback: [] as string[] }, seed: 0, concurrency: 8, cacheMode: "read" as const },
  };
  const of = (change: (b: typeof base) => unknown) => {
    const copy = structuredClone(base);
    change(copy);
    return inputFingerprint(copy);
  };

  test.each([
    ["the service record", (b: typeof base) => (b.service.name = "Two")],
    ["an extra key of the service", (b: typeof base) => Object.assign(b.service, { parent_id: "P" })],
    ["the catalogue hash", (b: typeof base) => (b.catalogueHash = "c2")],
    ["the prompts", (b: typeof base) => (b.prompts = "p2")],
    ["the model", (b: typeof base) => (b.config.model = "openai:gpt-4.1")],
    ["a key inside models (per-stage models, settings)", (b: typeof base) => Object.assign(b.config.models, { mapping: "openai:o3", settings: { "openai:o3": { reasoning: "high" } } })],
    ["the fallback list", (b: typeof base) => b.config.models.fallback.push("openai:gpt-4.1")],
    ["the temperature", (b: typeof base) => Object.assign(b.config, { temperature: 0.7 })],
    ["the seed", (b: typeof base) => (b.config.seed = 1)],
    ["per-model settings", (b: typeof base) => Object.assign(b.config, { modelSettings: { "openai:gpt-5": { reasoning: { effort: "low" } } } })],
    ["the reasoning effort", (b: typeof base) => Object.assign(b.config, { reasoning: { effort: "high" } })],
  ])("changes with %s", (_name, change) => {
    expect(of(change)).not.toBe(inputFingerprint(base));
  });

  test("does not change with key order or settings that never shape an answer", () => {
    expect(of((b) => (b.service = Object.fromEntries(Object.entries(b.service).reverse()) as typeof b.service))).toBe(inputFingerprint(base));
    expect(of((b) => Object.assign(b.config, { concurrency: 64, cacheMode: "off", rpm: 100 }))).toBe(inputFingerprint(base));
  });
});

describe("--cache-mode refresh over an output that already holds the services", () => {
  test("says once that they are kept as they are, and that --fresh makes them again", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const args = ["--model", "synthetic:demo", "--input", input, "--output", "out.jsonl", "--data", fixtureData];
      expect((await runScript("run", args, { cwd: dir })).code).toBe(0);
      const refreshed = await runScript("run", [...args, "--cache-mode", "refresh"], { cwd: dir });
      expect(refreshed.code).toBe(0);
      const said = refreshed.stderr.split("\n").filter((l) => l.includes("--cache-mode refresh"));
      expect(said).toHaveLength(1);
      expect(said[0]).toContain("2 services");
      expect(said[0]).toContain("--fresh");
      // A read run keeps them without a word about it.
      expect((await runScript("run", args, { cwd: dir })).stderr).not.toContain("--cache-mode refresh");
    } finally {
      cleanup();
    }
  });
});
