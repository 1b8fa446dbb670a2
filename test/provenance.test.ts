import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { newestSource, provenance } from "../lib/pipeline/provenance.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** Every cache entry of a project folder, with its file. */
function cacheEntries(dir: string): Array<{ file: string; entry: { createdAt: string; request: { serviceId: string; runId?: string; stage: string } } }> {
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
  walk(join(dir, ".sa/cache"));
  return files.sort().map((file) => ({ file, entry: JSON.parse(readFileSync(file, "utf8")) }));
}

/** Runs `run` into `output` and returns its summary (with the run's id). */
async function run(dir: string, input: string, output: string, extra: string[] = []) {
  const result = await runScript("run", ["--input", input, "--output", output, "--data", fixtureData, "--json", "--quiet", ...extra], { cwd: dir, baseURL: server.url });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { runId: string; totals: { liveCalls: number; cachedCalls: number } };
}

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { meta: { run_id: string; created: string }; service: { service_id: string } });

describe("newestSource", () => {
  test("the later time wins, then the greater run id, whatever the order", () => {
    const a = { runId: "r1", at: "2026-01-01T00:00:00.000Z" };
    const b = { runId: "r2", at: "2026-01-01T00:00:01.000Z" };
    const c = { runId: "r3", at: "2026-01-01T00:00:01.000Z" };
    for (const order of [[a, b, c], [c, b, a], [b, undefined, a, c]]) expect(newestSource(order)).toBe(c);
    expect(newestSource([a, b])).toBe(b);
    expect(newestSource([])).toBeUndefined();
  });

  test("a line with no answer keeps the run's id and start", () => {
    expect(provenance({ runId: "run", created: "start" }, [])).toEqual({ runId: "run", created: "start" });
    expect(provenance({ runId: "run", created: "start" }, [{ runId: "old", at: "then" }])).toEqual({ runId: "old", created: "then" });
  });
});

describe("meta.run_id and meta.created name the answers' provenance", () => {
  test("a live run's lines carry its id and its newest answer's time; reruns from the cache give the same bytes", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const live = await run(dir, input, "a.jsonl");
      expect(live.totals.liveCalls).toBe(63);
      const entries = cacheEntries(dir);
      expect(entries).toHaveLength(63);
      for (const line of lines(join(dir, "a.jsonl"))) {
        const times = entries.filter((e) => e.entry.request.serviceId === line.service.service_id).map((e) => e.entry.createdAt);
        expect(line.meta.run_id).toBe(live.runId);
        expect(line.meta.created).toBe(times.sort().at(-1)!);
      }
      const outputs = [readFileSync(join(dir, "a.jsonl"))];
      for (const name of ["b.jsonl", "c.jsonl"]) {
        const rerun = await run(dir, input, name);
        expect(rerun.runId).not.toBe(live.runId);
        expect(rerun.totals).toMatchObject({ liveCalls: 0, cachedCalls: 63 });
        outputs.push(readFileSync(join(dir, name)));
      }
      expect(outputs[1]!.equals(outputs[0]!)).toBe(true);
      expect(outputs[2]!.equals(outputs[1]!)).toBe(true);
    } finally {
      cleanup();
    }
  }, 60_000);

  test("a line with one fresh answer among cached ones carries the fresh answer's run and time; the others stay as they were", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const first = await run(dir, input, "a.jsonl");
      const gone = cacheEntries(dir).find((e) => e.entry.request.serviceId === "SVC002" && e.entry.request.stage === "features")!;
      rmSync(gone.file);
      const second = await run(dir, input, "b.jsonl");
      expect(second.totals.liveCalls).toBe(1);
      const fresh = cacheEntries(dir).find((e) => e.entry.request.runId === second.runId)!;
      expect(fresh.entry.request.serviceId).toBe("SVC002");
      const [a, b] = [lines(join(dir, "a.jsonl")), lines(join(dir, "b.jsonl"))];
      expect(b.map((l) => l.meta.run_id)).toEqual([first.runId, second.runId, first.runId]);
      expect(b[1]!.meta.created).toBe(fresh.entry.createdAt);
      expect([b[0], b[2]]).toEqual([a[0], a[2]]);
    } finally {
      cleanup();
    }
  }, 60_000);

  test("with --cache-mode off, a run's lines carry that run's id, not the cached answers'", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const cached = await run(dir, input, "a.jsonl");
      const off = await run(dir, input, "b.jsonl", ["--cache-mode", "off"]);
      expect(off.totals.liveCalls).toBe(42);
      const b = lines(join(dir, "b.jsonl"));
      expect(b.map((l) => l.meta.run_id)).toEqual([off.runId, off.runId]);
      expect(b.every((l) => l.meta.created > lines(join(dir, "a.jsonl"))[0]!.meta.created)).toBe(true);
      expect(cacheEntries(dir).every((e) => e.entry.request.runId === cached.runId)).toBe(true);
    } finally {
      cleanup();
    }
  }, 60_000);
});
