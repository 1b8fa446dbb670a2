import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { runServices } from "../lib/pipeline/run.ts";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, tempDir, testKey, testRuntime, writeJsonl } from "./helpers.ts";

const stageOf = (b: ChatBody) => {
  const name = b.response_format?.json_schema?.name ?? "";
  return name === "plateau_descriptions" ? "descriptions" : name === "plateau_features" ? "features" : "mapping";
};
const plateauOf = (b: ChatBody) => /Plateau (\d)/.exec(b.messages[1]!.content)?.[1];

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ latencyMs: 5 });
});
afterAll(() => server.stop());

describe("run", () => {
  test("--max-services N processes only the first N services of the input", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(5));
      const before = server.requests.length;
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--max-services", "2", "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(server.requests.length - before).toBe(42);
      const ids = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);
      expect(ids).toEqual(["SVC001", "SVC002"]);
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!).services).toMatchObject({ total: 2, ok: 2 });
      const bad = await runScript("run", ["--input", input, "--output", "x.jsonl", "--max-services", "0"], { cwd: dir, baseURL: server.url });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--max-services");
    } finally {
      cleanup();
    }
  });

  test("N services make exactly 21·N calls, in dependency order", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const before = server.requests.length;
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off" } });
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const summary = await runServices(rt, { input, output: join(dir, "out.jsonl") });
      const requests = server.requests.slice(before);
      expect(summary.status).toBe("ok");
      expect(requests.length).toBe(21 * 3);
      expect(summary.totals.liveCalls).toBe(63);
      for (const id of ["Service 1", "Service 2", "Service 3"].map((_, i) => `SVC00${i + 1}`)) {
        const mine = requests.filter((r) => r.body.messages[1]!.content.includes(id) || r.body.messages[1]!.content.includes(`Service ${Number(id.slice(3))}\n`));
        const at = (pred: (b: ChatBody) => boolean) => mine.filter((r) => pred(r.body)).map((r) => r.n);
        const [descriptions] = at((b) => stageOf(b) === "descriptions");
        for (const p of ["1", "2", "3", "4", "5"]) {
          const [features] = at((b) => stageOf(b) === "features" && plateauOf(b) === p);
          const mappings = at((b) => stageOf(b) === "mapping" && plateauOf(b) === p);
          expect(features!).toBeGreaterThan(descriptions!);
          expect(mappings).toHaveLength(3);
          for (const m of mappings) expect(m).toBeGreaterThan(features!);
        }
      }
      const lines = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => l.service.service_id)).toEqual(["SVC001", "SVC002", "SVC003"]);
      const plateau = lines[0].plateaus[0];
      expect(plateau.roles.map((r: { role_id: string }) => r.role_id)).toEqual(["residents", "businesses", "council_staff"]);
      expect(Object.keys(plateau.mappings).sort()).toEqual(["applications", "data", "technologies"]);
      expect(Object.keys(plateau.features[0].mappings).sort()).toEqual(["applications", "data", "technologies"]);
      await rt.close();
    } finally {
      cleanup();
    }
  });

  test("one service completes within 4 latencies: its longest chain is 3 calls", async () => {
    const latency = 600;
    const slow = startTestServer({ latencyMs: latency });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: slow.url, config: { cacheMode: "off", concurrency: 32 } });
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const started = performance.now();
      const summary = await runServices(rt, { input, output: join(dir, "out.jsonl") });
      const wall = performance.now() - started;
      expect(summary.status).toBe("ok");
      expect(slow.answered).toBe(21);
      expect(wall).toBeGreaterThanOrEqual(3 * latency);
      expect(wall).toBeLessThan(4 * latency);
      await rt.close();
    } finally {
      cleanup();
      await slow.stop();
    }
  });

  test("--concurrency bounds the calls in flight", async () => {
    for (const concurrency of [2, 6]) {
      const s = startTestServer({ latencyMs: 30 });
      const { dir, cleanup } = tempDir();
      try {
        const rt = await testRuntime(dir, { baseURL: s.url, config: { cacheMode: "off", concurrency } });
        await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(3)), output: join(dir, "out.jsonl") });
        expect(s.maxInFlight).toBeLessThanOrEqual(concurrency);
        expect(s.maxInFlight).toBe(concurrency);
        await rt.close();
      } finally {
        cleanup();
        await s.stop();
      }
    }
  });

  test("the same answers give byte-identical output, apart from run_id and created", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const outputs: string[] = [];
      for (const name of ["a", "b"]) {
        const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off", concurrency: name === "a" ? 2 : 12 } });
        const summary = await runServices(rt, { input, output: join(dir, `${name}.jsonl`) });
        expect(summary.status).toBe("ok");
        outputs.push(readFileSync(join(dir, `${name}.jsonl`), "utf8").replace(/"created":"[^"]*"/g, "").replace(/"run_id":"[^"]*"/g, ""));
        await rt.close();
      }
      expect(outputs[0]).toBe(outputs[1]!);
    } finally {
      cleanup();
    }
  });

  test("bad lines are reported by line number; good services are written; exit 1", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("run", ["--input", join(root, "fixtures/services-with-bad-lines.jsonl"), "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/services-with-bad-lines\.jsonl:2: invalid JSON/);
      expect(result.stderr).toMatch(/services-with-bad-lines\.jsonl:3: name: /);
      // The summary names the quarantine file itself.
      const runId = JSON.parse(result.stdout.trim().split("\n").at(-1)!).runId;
      expect(result.stderr).toContain(`see ${join(".sa", "quarantine", `${runId}.jsonl`)}`);
      const written = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);
      expect(written).toEqual(["B1", "B4"]);
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(summary.badLines).toBe(2);
      expect(summary.services.ok).toBe(2);
      const quarantine = readdirSync(join(dir, ".sa/quarantine"));
      expect(readFileSync(join(dir, ".sa/quarantine", quarantine[0]!), "utf8").trim().split("\n")).toHaveLength(2);
    } finally {
      cleanup();
    }
  });

  test("the API key reaches no file and no log line, even with --verbose and failures", async () => {
    const failing = startTestServer({ fault: (n) => (n % 7 === 0 ? { type: "500" } : n % 11 === 0 ? { type: "400" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--verbose", "--json", "--transcripts"], {
        cwd: dir,
        baseURL: failing.url,
        env: { SA_RETRY: JSON.stringify({ attempts: 2, baseMs: 1, capMs: 5 }) },
      });
      expect(failing.requests.length).toBeGreaterThan(0);
      expect(failing.requests.every((r) => r.authorization === `Bearer ${testKey}`)).toBe(true);
      expect(result.stdout + result.stderr).not.toContain(testKey);
      const files: string[] = [];
      const walk = (d: string) => {
        for (const name of readdirSync(d)) {
          const p = join(d, name);
          if (statSync(p).isDirectory()) walk(p);
          else files.push(p);
        }
      };
      walk(dir);
      expect(files.length).toBeGreaterThan(10);
      for (const file of files) expect(readFileSync(file, "utf8")).not.toContain(testKey);
      expect(existsSync(join(dir, ".sa/usage.json"))).toBe(true);
    } finally {
      cleanup();
      await failing.stop();
    }
  });
});
