import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { evolutionSchema } from "../lib/schema/evolution.ts";
import { fixtureData, fixtureServices, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => evolutionSchema.parse(JSON.parse(l)));
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

describe("map", () => {
  test("run then map on its output makes 0 provider calls and rebuilds the same mappings", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      expect((await runScript("run", ["--input", input, "--output", "run.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const before = server.requests.length;
      const mapped = await runScript("map", ["--input", "run.jsonl", "--output", "map.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      expect(mapped.code).toBe(0);
      expect(server.requests.length).toBe(before);
      const summary = lastJson(mapped.stdout);
      expect(summary.totals).toMatchObject({ liveCalls: 0, cachedCalls: 45 });
      // Byte for byte: a service's newest answer is one of its mappings, which map reads from the cache.
      expect(readFileSync(join(dir, "map.jsonl"), "utf8")).toBe(readFileSync(join(dir, "run.jsonl"), "utf8"));
    } finally {
      cleanup();
    }
  });

  test("--sets maps only those sets and keeps the others; --service-id picks services", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      await runScript("run", ["--input", input, "--output", "run.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url });
      const before = server.requests.length;
      const result = await runScript("map", ["--input", "run.jsonl", "--output", "-", "--data", fixtureData, "--sets", "applications", "--service-id", "SVC002", "--cache-mode", "refresh"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(server.requests.length - before).toBe(5);
      const out = result.stdout.trim().split("\n").map((l) => JSON.parse(l));
      expect(out.map((e) => e.service.service_id)).toEqual(["SVC002"]);
      expect(out[0].meta.mapping_types).toEqual(["applications", "data", "technologies"]);
      expect(out[0].plateaus[0].mappings.technologies.length).toBeGreaterThan(0);
      // The hash covers every set of the config, as the run's does (and the Python tool's).
      const run = readFileSync(join(dir, "run.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(out[0].meta.catalogue_hash).toBe(run[0].meta.catalogue_hash);
    } finally {
      cleanup();
    }
  });

  test("--sets with a data folder that holds only those sets' files maps them (the hash is of those sets)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      await runScript("run", ["--input", input, "--output", "run.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url });
      mkdirSync(join(dir, "two"));
      for (const file of ["applications.json", "technologies.json"]) copyFileSync(join(fixtureData, file), join(dir, "two", file));
      const result = await runScript("map", ["--input", "run.jsonl", "--output", "map.jsonl", "--data", "two", "--sets", "applications,technologies", "--model", "synthetic:demo"], { cwd: dir });
      expect(result.stderr).not.toContain("file not found");
      expect(result.code).toBe(0);
      const out = readFileSync(join(dir, "map.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(out).toHaveLength(1);
      expect(out[0].meta.catalogue_hash).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      cleanup();
    }
  });

  test("reads the Python tool's evolutions and feature records, and writes complete evolutions", async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (const file of ["evolutions.jsonl", "feature-records.jsonl"]) {
        const result = await runScript("map", ["--input", join(root, "fixtures/python", file), "--output", `${file}.out`, "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
        expect(result.code).toBe(0);
        for (const evolution of lines(join(dir, `${file}.out`))) {
          expect(evolution.meta.mapping_types).toEqual(["applications", "data", "technologies"]);
          for (const plateau of evolution.plateaus) {
            expect(plateau.roles.map((r) => r.role_id)).toEqual(["residents", "businesses", "council_staff"]);
            for (const f of plateau.features) expect(Object.keys(f.mappings).sort()).toEqual(["applications", "data", "technologies"]);
            expect(Object.keys(plateau.mappings).sort()).toEqual(["applications", "data", "technologies"]);
          }
        }
      }
      const records = lines(join(dir, "feature-records.jsonl.out"));
      expect(records[0]!.plateaus.map((p) => [p.plateau, p.plateau_name])).toEqual([[1, "Foundational"], [2, "Enhanced"]]);
    } finally {
      cleanup();
    }
  });

  test("lean feature records take the service from --service-file; without it each line is refused by number", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const features = join(root, "fixtures/python/lean-features.jsonl");
      const services = join(root, "fixtures/python/lean-services.jsonl");
      const result = await runScript("map", ["--features-file", features, "--service-file", services, "--output", "lean.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(result.code).toBe(0);
      const [loans, events] = lines(join(dir, "lean.jsonl"));
      expect(loans!.service).toEqual({ service_id: "L01", name: "Library Loans", description: "Lending books and media to residents.", jobs_to_be_done: ["Borrow a book"], features: [] });
      expect(loans!.plateaus.map((p) => [p.plateau, p.plateau_name, p.service_description])).toEqual([[2, "Enhanced", "Loans renew themselves unless someone is waiting."]]);
      expect(loans!.plateaus[0]!.features.map((f) => f.feature_id).sort()).toEqual(["LNF001", "LNF002"]);
      expect(loans!.plateaus[0]!.features.every((f) => Object.keys(f.mappings).length === 3)).toBe(true);
      // No plateau given: level 1, named from the data folder; the service's own description.
      expect(events!.plateaus.map((p) => [p.plateau, p.plateau_name, p.service_description])).toEqual([[1, "Foundational", "Talks and classes in branch libraries."]]);
      expect("parent_id" in events!.service).toBe(false);

      const without = await runScript("map", ["--input", features, "--output", "none.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(without.code).toBe(1);
      // No --service-file at all: the line says the flag is missing, not that the id is not in it.
      expect(without.stderr).toContain('lean-features.jsonl:1: service_id: "L01": a lean feature record takes its service\'s details from --service-file, and none was given');
      expect(without.stderr).not.toContain("is not in --service-file");
      expect(without.stderr).toContain("lean-features.jsonl:2:");
      const elsewhere = await runScript("map", ["--input", features, "--service-file", fixtureServices, "--output", "other.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(elsewhere.code).toBe(1);
      expect(elsewhere.stderr).toContain('lean-features.jsonl:1: service_id: "L01" is not in --service-file');
      // A --service-file that cannot be read is named by its flag (not as "input", which is --input's file): exit 2.
      const missing = await runScript("map", ["--input", features, "--service-file", "nowhere.jsonl", "--output", "missing.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(missing.code).toBe(2);
      expect(missing.stderr.split("\n").filter((l) => l.startsWith("✖"))).toEqual(["✖ --service-file nowhere.jsonl: file not found"]);

      // A feature with no role would fail the Python tool's model: the line is refused by number.
      const roleless = writeJsonl(join(dir, "roleless.jsonl"), [{ service_id: "L01", features: [{ feature_id: "X1", name: "n", description: "d", score: { level: 1, label: "Initial", justification: "j" } }] }]);
      const refused = await runScript("map", ["--input", roleless, "--service-file", services, "--output", "r.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("roleless.jsonl:1: features.0.customer_type");
    } finally {
      cleanup();
    }
  });

  test("a facet violation is quarantined; with --strict the exit code is 1; unknown ids never reach the output", async () => {
    const answer = (b: ChatBody) => {
      if (b.response_format?.json_schema?.name !== "applications_mapping") return undefined;
      const ids = [...b.messages[1]!.content.matchAll(/^- ([0-9A-Z]{6}):/gm)].map((m) => m[1]);
      return JSON.stringify({ mappings: ids.map((id) => ({ feature_id: id, items: [
        { item: "APP001", facets: { interface: "ui", hosting: "saas", criticality: 3, notes: null } },
        { item: "APP002", facets: { hosting: "saas", criticality: 3, notes: null } },
        { item: "APP003", facets: { interface: "telepathy", hosting: "saas", criticality: 3, notes: null } },
        { item: "APP999", facets: { interface: "ui", hosting: "saas", criticality: 3, notes: null } },
      ] })) });
    };
    const bad = startTestServer({ answer });
    const { dir, cleanup } = tempDir();
    try {
      const input = join(root, "fixtures/python/evolutions.jsonl");
      for (const strict of [false, true]) {
        const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--sets", "applications", "--json", "--cache-mode", "off", ...(strict ? ["--strict"] : [])];
        const result = await runScript("map", args, { cwd: dir, baseURL: bad.url });
        expect(result.code).toBe(strict ? 1 : 0);
        expect(lastJson(result.stdout).quarantined).toBeGreaterThan(0);
        for (const e of lines(join(dir, "out.jsonl"))) for (const p of e.plateaus) for (const f of p.features) expect(f.mappings.applications!.map((m) => m.item)).toEqual(["APP001"]);
      }
      const [file] = require("node:fs").readdirSync(join(dir, ".sa/quarantine"));
      const text = readFileSync(join(dir, ".sa/quarantine", file), "utf8");
      expect(text).toContain("facets.interface");
      expect(text).toContain("APP999");
    } finally {
      cleanup();
      await bad.stop();
    }
  });

  test("a mapping answer invalid twice leaves that catalogue empty and names the gap; the other sets are mapped; --strict exits 1", async () => {
    const bad = startTestServer({ answer: (b) => (b.response_format?.json_schema?.name === "applications_mapping" ? "not json" : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = join(root, "fixtures/python/evolutions.jsonl");
      for (const strict of [false, true]) {
        const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--cache-mode", "off", ...(strict ? ["--strict"] : [])];
        const result = await runScript("map", args, { cwd: dir, baseURL: bad.url });
        expect(result.code).toBe(strict ? 1 : 0);
        const summary = lastJson(result.stdout);
        expect(summary.services.incomplete).toBe(summary.services.ok);
        for (const e of lines(join(dir, "out.jsonl"))) {
          expect((e.meta.models as Record<string, string>).incomplete).toBe(e.plateaus.map((p) => `mapping ${p.plateau_name} applications`).sort().join(", "));
          for (const p of e.plateaus) for (const f of p.features) expect(f.mappings.applications).toEqual([]);
          expect(e.plateaus.some((p) => p.features.some((f) => (f.mappings.technologies ?? []).length > 0))).toBe(true);
        }
      }
    } finally {
      cleanup();
      await bad.stop();
    }
  });
});

describe("map --service-id", () => {
  test("a services file (run's input, with or without seed features) given to map: each line is named as a service, not as a missing score; no call", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const seeded = makeServices(1).map((s) => ({ ...s, features: [{ feature_id: "F1", name: "Seed", description: "A seed feature." }] }));
      const input = writeJsonl(join(dir, "services.jsonl"), [...makeServices(1), ...seeded.map((s) => ({ ...s, service_id: "SEEDED" }))]);
      const before = server.requests.length;
      const result = await runScript("map", ["--input", input, "--output", "map.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(1);
      const errors = result.stderr.split("\n").filter((l) => l.startsWith("✖ input"));
      expect(errors).toEqual([1, 2].map((n) => `✖ input ${input}:${n}: a service (run's input), not an evolution or a feature record: map reads what run wrote (run it first)`));
      expect(server.requests.length).toBe(before);
    } finally {
      cleanup();
    }
  });

  test("an id that matches no record says so, names the id and exits 1 with no call", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      expect((await runScript("run", ["--input", input, "--output", "run.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const before = server.requests.length;
      const result = await runScript("map", ["--input", "run.jsonl", "--output", "map.jsonl", "--data", fixtureData, "--service-id", "NOPE", "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('"NOPE"');
      expect(lastJson(result.stdout)).toMatchObject({ status: "failed", exitCode: 1 });
      expect(server.requests.length).toBe(before);
      // One id that matches and one that does not: the match is mapped, the miss still fails the run.
      const mixed = await runScript("map", ["--input", "run.jsonl", "--output", "map.jsonl", "--data", fixtureData, "--service-id", "SVC001,NOPE"], { cwd: dir, baseURL: server.url });
      expect(mixed.code).toBe(1);
      expect(readFileSync(join(dir, "map.jsonl"), "utf8").trim().split("\n")).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});
