import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { startTestServer, type ChatBody, type Fault } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, spawnScript, tempDir, testKey, testRuntime, writeJsonl } from "./helpers.ts";

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const promptOf = (b: ChatBody) => JSON.stringify(b.messages);

describe("faults", () => {
  test("429s, 500s, a hung response and a dropped connection: every service completes", async () => {
    const schedule: Record<number, Fault> = { 3: { type: "429", retryAfterMs: 200 }, 8: { type: "500" }, 12: { type: "hang" }, 17: { type: "drop" }, 25: { type: "429", retryAfterMs: 50 }, 31: { type: "503" } };
    const server = startTestServer({ fault: (n) => schedule[n], latencyMs: 10 });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off", requestTimeout: 600, retry: { attempts: 4, baseMs: 10, capMs: 100 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(3)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      expect(lines(join(dir, "out.jsonl"))).toHaveLength(3);
      expect(summary.totals.retries).toBe(6);
      expect(summary.totals.liveCalls).toBe(63);
      expect(summary.totals.requests).toBe(69);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a service whose calls always fail is reported (exit 1); every other service is written", async () => {
    const server = startTestServer({ fault: (_n, body) => (body.messages[1]!.content.includes("SVC002") ? { type: "500" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":3,"baseMs":1,"capMs":5}' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/service SVC002 failed at descriptions: .*HTTP 500/);
      expect(lines(join(dir, "out.jsonl")).map((l) => l.service.service_id)).toEqual(["SVC001", "SVC003", "SVC004"]);
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(summary.failures).toEqual([{ serviceId: "SVC002", stage: "descriptions", reason: expect.stringContaining("HTTP 500") }]);
      expect(server.requests.filter((r) => r.body.messages[1]!.content.includes("SVC002"))).toHaveLength(3);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  for (const status of ["401", "403"] as const) {
    test(`a rejected API key (HTTP ${status}) stops the run at once with exit 2, naming OPENAI_API_KEY`, async () => {
      const server = startTestServer({ fault: () => ({ type: status }) });
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(5));
        const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`HTTP ${status}`);
        expect(result.stderr).toContain("check OPENAI_API_KEY");
        expect(result.stderr).not.toContain(testKey);
        expect(server.requests.length).toBeLessThanOrEqual(5); // no retries, no request after the stop
        expect(readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!.status).toBe("failed");
      } finally {
        cleanup();
        await server.stop();
      }
    });
  }

  test("fallback: after the primary model fails, the next configured model answers and is recorded", async () => {
    const server = startTestServer({ fault: (_n, body) => (body.model === "broken-model" ? { type: "503" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { model: "openai:broken-model", models: { fallback: ["openai:gpt-4o-mini"] }, retry: { attempts: 2, baseMs: 1, capMs: 2 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(1)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      const [evolution] = lines(join(dir, "out.jsonl"));
      // Besides the models, meta.models carries the fingerprint of the line's inputs (for resume).
      expect(evolution.meta.models).toEqual({ descriptions: "openai:gpt-4o-mini", features: "openai:gpt-4o-mini", mapping: "openai:gpt-4o-mini", fingerprint: expect.stringMatching(/^v1:/) });
      expect(Object.keys(rt.recorder.byModel()).sort()).toEqual(["openai:broken-model", "openai:gpt-4o-mini"]);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("an answer a fallback gave is found in the cache before the primary is asked again: map after run pays nothing, down or recovered", async () => {
    // The primary fails every technologies mapping during `run`; the fallback answers them.
    let primaryDown = true;
    const server = startTestServer({ fault: (_n, body) => (primaryDown && body.model === "gpt-4o" && body.response_format?.json_schema?.name === "technologies_mapping" ? { type: "500" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o", models: { fallback: ["openai:gpt-4o-mini"] }, retry: { attempts: 2, baseMs: 1, capMs: 2 } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      expect((await runScript("run", ["--input", input, "--output", "run.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      expect(server.requests.filter((r) => r.body.model === "gpt-4o-mini").length).toBeGreaterThan(0);
      for (const down of [true, false]) {
        primaryDown = down;
        const before = server.requests.length;
        const map = await runScript("map", ["--input", "run.jsonl", "--output", `map-${down}.jsonl`, "--json"], { cwd: dir, baseURL: server.url });
        expect(map.code).toBe(0);
        expect(server.requests.slice(before)).toHaveLength(0);
        expect(readFileSync(join(dir, `map-${down}.jsonl`), "utf8")).toBe(readFileSync(join(dir, "run.jsonl"), "utf8"));
      }
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("rate limits", () => {
  test("--rpm R against a server limit of R: under 10% rejected, at least 85% of R", async () => {
    const rpm = 1200;
    const server = startTestServer({ rpm, windowMs: 3000, latencyMs: 20 });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off", rpm, concurrency: 16, retry: { attempts: 6, baseMs: 50, capMs: 500 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(4)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      const total = server.requests.length;
      const wallMin = (server.requests.at(-1)!.at - server.requests[0]!.at) / 60_000;
      const throughput = server.answered / wallMin;
      console.log(`rpm: ${server.answered} answered, ${server.rejected429}/${total} rejected, ${throughput.toFixed(0)} per minute of ${rpm}`);
      expect(server.answered).toBeGreaterThanOrEqual(60);
      expect(server.rejected429 / total).toBeLessThan(0.1);
      expect(throughput).toBeGreaterThanOrEqual(0.85 * rpm);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("--tpm T against a server limit of T: under 10% rejected, at least 85% of T", async () => {
    // The server reports usage from the text it saw, as a provider would.
    const tpm = 1_500_000;
    const server = startTestServer({ tpm, windowMs: 3000, latencyMs: 20 });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off", tpm, concurrency: 16, retry: { attempts: 6, baseMs: 50, capMs: 500 }, estimate: { descriptions: 300, features: 500, mapping: 400 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(4)), output: join(dir, "out.jsonl") });
      expect(summary.status).toBe("ok");
      const total = server.requests.length;
      const wallMin = (server.requests.at(-1)!.at - server.requests[0]!.at) / 60_000;
      const throughput = server.requests.reduce((sum, r) => sum + r.tokens, 0) / wallMin;
      console.log(`tpm: ${server.answered} answered, ${server.rejected429}/${total} rejected, ${throughput.toFixed(0)} tokens per minute of ${tpm}`);
      expect(server.answered).toBeGreaterThanOrEqual(60);
      expect(server.rejected429 / total).toBeLessThan(0.1);
      expect(throughput).toBeGreaterThanOrEqual(0.85 * tpm);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("--tpm T against a server counting T over a window only a few calls wide: the run completes with few 429s", async () => {
    // Each call is a fifth of the server's window: an even pace at the limit still meets it head-on.
    const tpm = 1_500_000;
    const server = startTestServer({ tpm, windowMs: 600, latencyMs: 20 });
    const { dir, cleanup } = tempDir();
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, config: { cacheMode: "off", tpm, concurrency: 16, retry: { attempts: 6, baseMs: 50, capMs: 500 }, estimate: { descriptions: 300, features: 500, mapping: 400 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(4)), output: join(dir, "out.jsonl") });
      const total = server.requests.length;
      const wallMin = (server.requests.at(-1)!.at - server.requests[0]!.at) / 60_000;
      const throughput = server.requests.reduce((sum, r) => sum + r.tokens, 0) / wallMin;
      const largest = Math.max(...server.requests.map((r) => r.tokens));
      console.log(`tpm, short window: ${server.answered} answered, ${server.rejected429}/${total} rejected, ${throughput.toFixed(0)} tokens per minute of ${tpm}, largest call ${largest} of ${tpm / 100} per window`);
      expect(summary.status).toBe("ok");
      expect(server.rejected429 / total).toBeLessThan(0.1);
      await rt.close();
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("usage limits", () => {
  test("--max-requests 10 stops with exit 3 after exactly 10 requests, valid JSONL and a ledger entry saying why", async () => {
    const server = startTestServer({ latencyMs: 20 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--max-requests", "10", "--json"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(3);
      expect(server.requests).toHaveLength(10);
      lines(join(dir, "out.jsonl"));
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("limit");
      expect(run.stopReason).toContain("max-requests 10");
      expect(run.totals.liveCalls).toBe(10);
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!).status).toBe("limit");
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("--max-requests counts retries: under injected 500s the server sees exactly 10 requests, and the ledger says as many", async () => {
    // Every third request fails once: without counting retries, 10 calls put about 14 requests on the wire.
    const server = startTestServer({ latencyMs: 20, fault: (n) => (n % 3 === 1 ? { type: "500" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const env = { SA_RETRY: '{"attempts":4,"baseMs":1,"capMs":5}' };
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--max-requests", "10", "--json"], { cwd: dir, baseURL: server.url, env });
      expect(result.code).toBe(3);
      // Exactly the limit: a retry counted before the stop is still sent (test/limit-stop-retry.test.ts).
      expect(server.requests).toHaveLength(10);
      lines(join(dir, "out.jsonl"));
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.stopReason).toBe("max-requests 10 reached");
      expect(run.totals.requests).toBe(server.requests.length);
      expect(run.totals.retries).toBeGreaterThan(0);
      // A call whose retry was refused is cut short by the stop, not reported as a failed service.
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "limit", services: { failed: 0 } });
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("interruption and resume", () => {
  async function interrupted(how: "SIGINT" | "SIGTERM" | "SIGKILL") {
    const server = startTestServer({ latencyMs: 150 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(6));
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...process.env, CI: "true", OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url })) if (v !== undefined) env[k] = v;
      const args = ["bun", join(root, "scripts/run.ts"), "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "4"];
      const proc = Bun.spawn(args, { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
      // Wait until some services are written and calls are in flight.
      while (!existsSync(join(dir, "out.jsonl")) || readFileSync(join(dir, "out.jsonl"), "utf8").split("\n").length < 3) await Bun.sleep(20);
      proc.kill(how);
      const code = await proc.exited;
      const answeredBefore = server.requests.length;
      // A graceful stop says how to go on, and what the rerun keeps.
      const stderr = await new Response(proc.stderr).text();
      if (how !== "SIGKILL") expect(stderr).toContain("to go on, run the same command again: the services already written are kept; the answers already paid for are read from the cache");
      // The output's lock goes on every exit path but kill -9 (then the next run finds it stale).
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(how === "SIGKILL");
      if (how === "SIGINT") expect(code).toBe(130);
      else if (how === "SIGTERM") expect(code).toBe(143);
      else {
        // Simulate the half line a crash can leave, on top of the kill.
        const { appendFileSync } = await import("node:fs");
        appendFileSync(join(dir, "out.jsonl"), '{"meta":{"schema_ver');
      }
      const second = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--concurrency", "4"], { cwd: dir, baseURL: server.url });
      expect(second.code).toBe(0);
      const ids = lines(join(dir, "out.jsonl")).map((l) => l.service.service_id);
      expect(ids).toEqual(["SVC001", "SVC002", "SVC003", "SVC004", "SVC005", "SVC006"]);
      const summary = JSON.parse(second.stdout.trim().split("\n").at(-1)!);
      expect(summary.services.skipped).toBeGreaterThanOrEqual(2);
      // Calls completed before the interruption are not paid for again.
      const first = new Set(server.requests.slice(0, answeredBefore).map((r) => promptOf(r.body)));
      const repeated = server.requests.slice(answeredBefore).filter((r) => first.has(promptOf(r.body)));
      if (how !== "SIGKILL") expect(repeated).toHaveLength(0);
      // At most the calls in flight at the kill (4), plus answers received but not yet written to the cache.
      else expect(repeated.length).toBeLessThanOrEqual(8);
      console.log(`${how}: ${repeated.length} calls repeated after the interruption`);
      return { code, repeated: repeated.length };
    } finally {
      cleanup();
      await server.stop();
    }
  }

  test("SIGINT mid-run exits 130; a rerun finishes with every service once and repeats no completed call", async () => {
    await interrupted("SIGINT");
  });

  test("SIGTERM mid-run exits 143 and loses nothing either", async () => {
    await interrupted("SIGTERM");
  });

  test("SIGINT while a call waits out a long retry-after exits 130 at once; a rerun asks only what was not answered", async () => {
    // SVC002's descriptions call is told to come back in 30 s, every time, until the rerun.
    let faulty = true;
    const server = startTestServer({ fault: (_n, body) => (faulty && promptOf(body).includes("SVC002") && body.response_format?.json_schema?.name === "plateau_descriptions" ? { type: "429", retryAfter: "30" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      while (!server.requests.some((r) => r.status === 429)) await Bun.sleep(20);
      await Bun.sleep(300);
      const signalled = Date.now();
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(130);
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(server.requests.filter((r) => r.status === 429)).toHaveLength(1);
      const first = server.requests.length;
      faulty = false;
      const second = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      expect(second.code).toBe(0);
      expect(lines(join(dir, "out.jsonl")).map((l) => l.service.service_id)).toEqual(["SVC001", "SVC002", "SVC003"]);
      const answered = new Set(server.requests.slice(0, first).filter((r) => r.status === 200).map((r) => promptOf(r.body)));
      expect(server.requests.slice(first).filter((r) => answered.has(promptOf(r.body)))).toHaveLength(0);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("SIGINT cutting short two calls waiting to retry: the ledger counts each call's own requests and retries, as the server saw them", async () => {
    // SVC001's descriptions call is answered 429 twice at once, then told to wait 30 s; SVC002's at once.
    const asked = new Map<string, number>();
    const server = startTestServer({
      fault: (_n, body) => {
        const id = promptOf(body).includes("SVC001") ? "SVC001" : "SVC002";
        const n = (asked.get(id) ?? 0) + 1;
        asked.set(id, n);
        return { type: "429", retryAfterMs: id === "SVC001" && n < 3 ? 20 : 30_000 };
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      while (asked.get("SVC001") !== 3 || asked.get("SVC002") !== 1) await Bun.sleep(10);
      await Bun.sleep(200);
      proc.kill("SIGINT");
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(130);
      expect(server.requests).toHaveLength(4);
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
      expect({ requests: summary.totals.requests, retries: summary.totals.retries, failedCalls: summary.totals.failedCalls }).toEqual({ requests: 4, retries: 2, failedCalls: 2 });
      const record = readLedger(join(dir, ".sa/usage.json")).runs.find((r) => r.runId === summary.runId)!;
      expect({ requests: record.totals.requests, retries: record.totals.retries }).toEqual({ requests: 4, retries: 2 });
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("two quick Ctrl-Cs while requests are on the wire: the ledger still counts those requests, as failed calls", async () => {
    const server = startTestServer({ latencyMs: 20_000 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      while (server.requests.length < 2) await Bun.sleep(10);
      await Bun.sleep(200);
      proc.kill("SIGINT");
      await Bun.sleep(300);
      proc.kill("SIGINT");
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(130);
      const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
      expect({ requests: summary.totals.requests, failedCalls: summary.totals.failedCalls }).toEqual({ requests: 2, failedCalls: 2 });
      const record = readLedger(join(dir, ".sa/usage.json")).runs.find((r) => r.runId === summary.runId)!;
      expect({ status: record.status, requests: record.totals.requests, failedCalls: record.totals.failedCalls }).toEqual({ status: "interrupted", requests: 2, failedCalls: 2 });
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("kill -9 mid-run; a rerun truncates the partial line and finishes with every service once", async () => {
    await interrupted("SIGKILL");
  });
});
