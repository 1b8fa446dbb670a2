import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type ChatBody, type Fault, type TestServer } from "../lib/test-server.ts";
import { evolutionSchema } from "../lib/schema/evolution.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

/** Evolutions of `n` services made by the synthetic model, to be mapped again by a live model. */
async function evolutionsOf(dir: string, n: number): Promise<string> {
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(n));
  const made = await runScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "evolutions.jsonl", "--data", fixtureData, "--quiet", "--cache-mode", "off"], { cwd: dir });
  expect(made.code).toBe(0);
  return join(dir, "evolutions.jsonl");
}

/** The same evolutions as feature records `{service, features[]}`, each feature naming its plateau. */
function featureRecordsOf(dir: string): void {
  const evolutions = readFileSync(join(dir, "evolutions.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { service: unknown; plateaus: Array<{ plateau: number; plateau_name: string; features: Array<Record<string, unknown>> }> });
  const records = evolutions.map((e) => ({ service: e.service, features: e.plateaus.flatMap((p) => p.features.map(({ mappings: _m, ...f }) => ({ ...f, plateau: p.plateau, plateau_name: p.plateau_name }))) }));
  writeJsonl(join(dir, "records.jsonl"), records);
}

const mapArgs = (extra: string[] = [], input = "evolutions.jsonl") => ["--input", input, "--output", "map.jsonl", "--data", fixtureData, "--model", "openai:gpt-4o-mini", "--json", ...extra];
const env = { SA_RETRY: '{"attempts":4,"baseMs":5,"capMs":20}' };
const promptOf = (body: ChatBody) => body.messages.map((m) => m.content).join("\n");
const text = (path: string) => (existsSync(path) ? readFileSync(path, "utf8") : "");
/** What two maps of the same answers may differ in: which run asked (meta.run_id) and when (meta.created). */
const withoutRun = (bytes: string) => bytes.replace(/"created":"[^"]*"/g, "").replace(/"run_id":"[^"]*"/g, "");
/** Every line parses as an evolution: valid JSONL, whatever stopped the run. */
const validLines = (path: string) => text(path).split("\n").filter(Boolean).map((l) => evolutionSchema.parse(JSON.parse(l)));
/** What the ledger counted over every run in `dir`: requests as the server saw them. */
const ledgerRequests = (dir: string) => readLedger(join(dir, ".sa/usage.json")).runs.filter((r) => r.task === "map").reduce((sum, r) => sum + r.totals.requests, 0);

/** A clean map of the same evolutions: the bytes every faulty or interrupted map must end with. */
async function cleanMap(n: number, input = "evolutions.jsonl"): Promise<{ bytes: string; calls: number }> {
  const server = startTestServer();
  const { dir, cleanup } = tempDir("sa-map-clean-");
  try {
    await evolutionsOf(dir, n);
    featureRecordsOf(dir);
    const result = await runScript("map", mapArgs([], input), { cwd: dir, baseURL: server.url, env });
    expect(result.code).toBe(0);
    return { bytes: withoutRun(text(join(dir, "map.jsonl"))), calls: server.requests.length };
  } finally {
    cleanup();
    await server.stop();
  }
}

/** Each distinct prompt answered once at most (`broken`: requests given a broken 200): nothing paid twice. */
function answeredOnce(server: TestServer, broken: Set<number> = new Set()) {
  const answered = server.requests.filter((r) => r.status === 200 && !broken.has(r.n)).map((r) => promptOf(r.body));
  expect(answered.length).toBe(new Set(answered).size);
}

describe("map under faults", () => {
  test("429 with retry-after, 500, a connection cut mid-answer and a gateway's JSON: the output is byte-identical to a clean map, each call paid once, the ledger counts every request", async () => {
    const clean = await cleanMap(3);
    const faults: Record<number, Fault> = { 2: { type: "429", retryAfter: "1" }, 3: { type: "500" }, 5: { type: "reset" }, 8: { type: "wrong-json" }, 13: { type: "drop" }, 21: { type: "503" } };
    const server = startTestServer({ fault: (n) => faults[n] });
    const { dir, cleanup } = tempDir("sa-map-faults-");
    try {
      await evolutionsOf(dir, 3);
      const result = await runScript("map", mapArgs(), { cwd: dir, baseURL: server.url, env: { ...env, SA_REQUEST_TIMEOUT: "2000" } });
      expect(result.code).toBe(0);
      expect(withoutRun(text(join(dir, "map.jsonl")))).toBe(clean.bytes);
      expect(server.answered).toBe(clean.calls);
      answeredOnce(server, new Set(Object.keys(faults).map(Number)));
      expect(ledgerRequests(dir)).toBe(server.requests.length);
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(summary.totals.retries).toBe(Object.keys(faults).length);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("an answer that is not JSON is asked again once; the map completes with valid lines", async () => {
    // The first answer of three calls is cut off; each call's re-ask (the same user prompt) is answered.
    // Picked by request number, a re-ask could land on a broken number too, and the call stay invalid.
    const broken = new Set<string>();
    const server = startTestServer({
      answer: (body, n) => {
        const prompt = String(body.messages[1]!.content);
        if (n % 7 !== 0 || broken.size >= 3 || broken.has(prompt)) return undefined;
        broken.add(prompt);
        return '{"features": [';
      },
    });
    const { dir, cleanup } = tempDir("sa-map-invalid-");
    try {
      await evolutionsOf(dir, 2);
      const result = await runScript("map", mapArgs(), { cwd: dir, baseURL: server.url, env });
      expect(result.code).toBe(0);
      expect(validLines(join(dir, "map.jsonl"))).toHaveLength(2);
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(summary.services.incomplete ?? 0).toBe(0);
      expect(broken.size).toBe(3);
      expect(ledgerRequests(dir)).toBe(server.requests.length);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  for (const [signal, code, input] of [["SIGINT", 130, "evolutions.jsonl"], ["SIGTERM", 143, "evolutions.jsonl"], ["SIGINT", 130, "records.jsonl"]] as const) {
    test(`${signal} mid-map of ${input} exits ${code} with valid JSONL; a rerun finishes byte-identical to a clean map, paying nothing twice`, async () => {
      const clean = await cleanMap(6, input);
      const server = startTestServer({ latencyMs: 40 });
      const { dir, cleanup } = tempDir("sa-map-signal-");
      try {
        await evolutionsOf(dir, 6);
        featureRecordsOf(dir);
        const proc = spawnScript("map", mapArgs(["--concurrency", "4"], input), { cwd: dir, baseURL: server.url, env });
        while (validLines(join(dir, "map.jsonl")).length < 2) await Bun.sleep(10);
        proc.kill(signal);
        expect(await proc.exited).toBe(code);
        const written = validLines(join(dir, "map.jsonl")).length;
        expect(written).toBeLessThan(6);
        expect(existsSync(join(dir, "map.jsonl.lock"))).toBe(false);
        const second = await runScript("map", mapArgs(["--concurrency", "4"], input), { cwd: dir, baseURL: server.url, env });
        expect(second.code).toBe(0);
        expect(withoutRun(text(join(dir, "map.jsonl")))).toBe(clean.bytes);
        expect(server.requests.length).toBe(clean.calls);
        answeredOnce(server);
        expect(ledgerRequests(dir)).toBe(server.requests.length);
      } finally {
        cleanup();
        await server.stop();
      }
    }, 60_000);
  }

  for (const [flag, value] of [["--max-requests", "20"], ["--budget", "0.0004"]] as const) {
    test(`${flag} stops map with exit 3 and valid JSONL; a rerun without it finishes byte-identical, paying nothing twice`, async () => {
      const clean = await cleanMap(3);
      const server = startTestServer();
      const { dir, cleanup } = tempDir("sa-map-limit-");
      try {
        await evolutionsOf(dir, 3);
        const first = await runScript("map", mapArgs([flag, value]), { cwd: dir, baseURL: server.url, env });
        expect(first.code).toBe(3);
        const stopped = server.requests.length;
        expect(stopped).toBeLessThan(clean.calls);
        if (flag === "--max-requests") expect(stopped).toBe(20);
        expect(validLines(join(dir, "map.jsonl")).length).toBeLessThan(3);
        const second = await runScript("map", mapArgs(), { cwd: dir, baseURL: server.url, env });
        expect(second.code).toBe(0);
        expect(withoutRun(text(join(dir, "map.jsonl")))).toBe(clean.bytes);
        expect(server.requests.length).toBe(clean.calls);
        answeredOnce(server);
        expect(ledgerRequests(dir)).toBe(server.requests.length);
      } finally {
        cleanup();
        await server.stop();
      }
    }, 60_000);
  }
});
