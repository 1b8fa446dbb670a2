import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { queueAdmin } from "../lib/queue/admin.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

/** Calls one fixture service makes: 1 descriptions, 5 features, 5 × 3 mappings. */
const CALLS_PER_SERVICE = 21;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
// A test that times out skips its own stopWorkers: whatever is still running is ended here, not left behind.
const started: Array<ReturnType<typeof spawnScript>> = [];
afterAll(async () => {
  for (const w of started) if (w.exitCode === null) w.kill(9);
  await Promise.all(started.map((w) => w.exited));
  await redis.stop();
});

/** A project folder whose config shares the cache, the buckets and the queue through the test's Redis. */
function project(name: string, extra: Record<string, unknown> = {}) {
  const { dir, cleanup } = tempDir("sa-queue-");
  const config = {
    dataDir: fixtureData,
    model: "openai:gpt-4o-mini",
    cache: { driver: "redis", url: `${redis.url}/1`, base: `cache-${name}` },
    retry: { attempts: 3, baseMs: 50, capMs: 500 },
    queue: { name, attempts: 2, lockDuration: 2000 },
    ...extra,
  };
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
  return { dir, cleanup, settings: { url: redis.url, name, attempts: 2, lockDuration: 2000 } };
}

function startWorkers(n: number, options: { dir: string; server: TestServer; concurrency: number }) {
  const workers = Array.from({ length: n }, () => spawnScript("worker", ["--queue", redis.url, "--concurrency", String(options.concurrency), "--grace", "5"], { cwd: options.dir, baseURL: options.server.url }));
  started.push(...workers);
  return workers;
}

async function stopWorkers(workers: ReturnType<typeof startWorkers>) {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
}

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
/** An evolution without what differs between two runs with the same answers. */
const stable = (e: { meta: Record<string, unknown> }) => ({ ...e, meta: { ...e.meta, run_id: undefined, created: undefined } });

async function until(check: () => boolean, timeoutMs: number, refresh?: () => Promise<void>) {
  const deadline = Date.now() + timeoutMs;
  while ((await refresh?.(), !check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(50);
  }
}

describe("run --queue with worker processes", () => {
  test("kill -9 of one of three workers: every service once, in input order, as a single-process run, paid at most once plus the killed worker's calls in flight", async () => {
    const server = startTestServer({ latencyMs: 60 });
    const { dir, cleanup } = project("killed");
    const single = tempDir("sa-single-");
    try {
      const services = makeServices(10, "K");
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      writeFileSync(join(single.dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini" }));
      const reference = await runScript("run", ["-i", input, "-o", "ref.jsonl", "-q"], { cwd: single.dir, baseURL: server.url });
      expect(reference.code).toBe(0);
      const needed = server.answered;
      expect(needed).toBe(10 * CALLS_PER_SERVICE);

      const concurrency = 2;
      const workers = startWorkers(3, { dir, server, concurrency });
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
      await until(() => server.answered - needed >= 60, 60_000);
      workers[0]!.kill(9);
      const code = await coordinator.exited;
      const answered = server.answered - needed;
      await stopWorkers(workers);
      console.log(`queue kill -9: ${answered} answered for ${needed} calls needed (killed worker's concurrency ${concurrency})`);
      expect(code).toBe(0);
      const out = lines(join(dir, "out.jsonl"));
      expect(out.map((e) => e.service.service_id)).toEqual(services.map((s) => s.service_id));
      expect(out.map(stable)).toEqual(lines(join(single.dir, "ref.jsonl")).map(stable));
      expect(answered).toBeGreaterThanOrEqual(needed);
      expect(answered).toBeLessThanOrEqual(needed + concurrency);
    } finally {
      await server.stop();
      single.cleanup();
      cleanup();
    }
  }, 180_000);

  test("ledger totals over all workers equal the server's answered requests", async () => {
    const server = startTestServer({ latencyMs: 20 });
    const { dir, cleanup } = project("ledger");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(6, "L"));
      const workers = startWorkers(2, { dir, server, concurrency: 3 });
      const result = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      await stopWorkers(workers);
      expect(result.code).toBe(0);
      const ledger = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8"));
      const run = ledger.runs.at(-1);
      console.log(`queue ledger: ${run.totals.liveCalls} live calls, ${run.totals.requests} requests in the ledger; server answered ${server.answered}`);
      expect(run.status).toBe("ok");
      expect(run.totals.liveCalls).toBe(server.answered);
      expect(run.totals.requests).toBe(server.requests.length);
      expect(server.answered).toBe(6 * CALLS_PER_SERVICE);
      // The workers answered for the coordinator's run: its lines name it, as a single-process run's do.
      const { runId } = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(lines(join(dir, "out.jsonl")).map((e) => e.meta.run_id)).toEqual(Array(6).fill(runId));
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("four workers with rateLimit.store redis stay within the server's RPM and reach 90% of it", async () => {
    const rpm = 900;
    const server = startTestServer({ latencyMs: 50, rpm, windowMs: 10_000 });
    // The workers are given 95% of the provider's quota, as an operator would: one shared bucket of
    // one-second windows, on a busy machine, can let a late window's calls meet the next ones.
    const { dir, cleanup } = project("rpm", { rpm: Math.floor(rpm * 0.95), rateLimit: { store: "redis", url: `${redis.url}/2`, key: "rpm-test" } });
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(10, "R"));
      const workers = startWorkers(4, { dir, server, concurrency: 4 });
      const result = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
      await stopWorkers(workers);
      expect(result.code).toBe(0);
      const at = server.requests.map((r) => r.at);
      const minutes = (Math.max(...at) - Math.min(...at)) / 60_000;
      const throughput = (server.answered - 1) / minutes;
      const share429 = server.rejected429 / server.requests.length;
      console.log(`queue rpm: ${server.answered} answered, ${server.rejected429} answered 429 (${(share429 * 100).toFixed(2)}%), ${throughput.toFixed(0)} requests/min against ${rpm}`);
      expect(share429).toBeLessThan(0.02);
      expect(throughput).toBeGreaterThanOrEqual(0.9 * rpm);
    } finally {
      await server.stop();
      cleanup();
    }
  }, 180_000);

  test("a job whose calls always fail ends in the failed set; run --queue exits 1 naming it; queue retry-failed re-queues it; drain and clean", async () => {
    const server = startTestServer({ fault: (_n, body) => (JSON.stringify(body.messages).includes("ALWAYS-FAILS") ? { type: "400" } : undefined) });
    const { dir, cleanup, settings } = project("dead");
    try {
      const services = [...makeServices(2, "D"), { service_id: "BROKEN1", name: "Broken", description: "ALWAYS-FAILS on every call.", jobs_to_be_done: ["Fail"] }];
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const workers = startWorkers(1, { dir, server, concurrency: 4 });
      const result = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      await stopWorkers(workers);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("service BROKEN1 failed");
      expect(lines(join(dir, "out.jsonl")).map((e) => e.service.service_id)).toEqual(["D001", "D002"]);
      const dead = await queueAdmin(settings, "status");
      expect(dead.failed.map((f) => [f.serviceId, f.attempts])).toEqual([["BROKEN1", 2]]);

      const retried = await runScript("queue", ["retry-failed", "--queue", redis.url], { cwd: dir });
      expect(retried.code).toBe(0);
      expect(retried.stdout).toContain("1 job(s) re-queued");
      const after = await queueAdmin(settings, "status");
      expect(after.counts.failed).toBe(0);
      expect((after.counts.waiting ?? 0) + (after.counts.prioritized ?? 0)).toBe(1);

      const drained = await runScript("queue", ["drain", "--queue", redis.url, "--json"], { cwd: dir });
      expect(JSON.parse(drained.stdout)).toMatchObject({ changed: 1, counts: { waiting: 0, prioritized: 0, completed: 2 } });
      // Each run's spend and usage counters, which the workers' budget and limits read, go with the jobs.
      const client = new Redis(redis.url);
      const counters = () => client.keys("sa:queue:dead:[su][ps]*:*");
      expect((await counters()).length).toBeGreaterThan(0);
      const cleaned = await runScript("queue", ["clean", "--queue", redis.url], { cwd: dir });
      expect(cleaned.stdout).toContain("2 job(s) removed (completed and failed)");
      expect((await queueAdmin(settings, "status")).counts).toMatchObject({ completed: 0, failed: 0 });
      expect(await counters()).toEqual([]);
      client.disconnect();
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);
});

describe("a rerun of the coordinator", () => {
  test("tries a job that failed after its attempts in an earlier run again, as a plain rerun does, and finishes the job", async () => {
    let failing = true;
    const server = startTestServer({ fault: (_n, body) => (failing && JSON.stringify(body.messages).includes("FAILS-FIRST") ? { type: "400" } : undefined) });
    const { dir, cleanup, settings } = project("rerun-failed");
    try {
      const services = [...makeServices(1, "R"), { service_id: "FLAKY1", name: "Flaky", description: "FAILS-FIRST, then recovers.", jobs_to_be_done: ["Recover"] }];
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const workers = startWorkers(1, { dir, server, concurrency: 4 });
      try {
        const first = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
        expect(first.code).toBe(1);
        expect(first.stderr).toContain("a rerun tries it again");
        expect((await queueAdmin(settings, "status")).failed.map((f) => f.serviceId)).toEqual(["FLAKY1"]);
        failing = false;
        const again = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
        expect(again.code).toBe(0);
        expect(lines(join(dir, "out.jsonl")).map((e) => e.service.service_id)).toEqual(["R001", "FLAKY1"]);
        expect((await queueAdmin(settings, "status")).counts.failed).toBe(0);
      } finally {
        await stopWorkers(workers);
      }
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);
});

describe("the queue's lifecycle", () => {
  test("Ctrl-C stops the coordinator without losing queued work; rerunning re-attaches and collects completed jobs", async () => {
    const server = startTestServer({ latencyMs: 10 });
    const { dir, cleanup, settings } = project("reattach");
    try {
      const services = makeServices(4, "A");
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
      let queued = 0;
      await until(() => queued === 4, 30_000, async () => {
        const c = (await queueAdmin(settings, "status")).counts;
        queued = (c.waiting ?? 0) + (c.prioritized ?? 0);
      });
      coordinator.kill("SIGINT");
      expect(await coordinator.exited).toBe(130);
      expect((await queueAdmin(settings, "status")).counts.waiting! + (await queueAdmin(settings, "status")).counts.prioritized!).toBe(4);

      const workers = startWorkers(1, { dir, server, concurrency: 4 });
      let completed = 0;
      await until(() => completed === 4, 60_000, async () => void (completed = (await queueAdmin(settings, "status")).counts.completed ?? 0));
      expect(server.answered).toBe(4 * CALLS_PER_SERVICE);
      await stopWorkers(workers);
      const rerun = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      expect(rerun.code).toBe(0);
      expect(lines(join(dir, "out.jsonl")).map((e) => e.service.service_id)).toEqual(services.map((s) => s.service_id));
      expect(server.answered).toBe(4 * CALLS_PER_SERVICE); // collected, not redone
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("--local-workers works the queue in the coordinator's process; its ledger counts every call", async () => {
    const server = startTestServer({ latencyMs: 10 });
    const { dir, cleanup } = project("local");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3, "W"));
      const result = await runScript("run", ["--queue", redis.url, "--local-workers", "2", "-i", input, "-o", "out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(lines(join(dir, "out.jsonl"))).toHaveLength(3);
      const run = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
      expect(run.totals.liveCalls).toBe(server.answered);
      expect(server.answered).toBe(3 * CALLS_PER_SERVICE);
    } finally {
      await server.stop();
      cleanup();
    }
  }, 60_000);

  test("a worker with other data refuses the job with the reason, and makes no call", async () => {
    const server = startTestServer();
    const { dir, cleanup } = project("refuse");
    const other = tempDir("sa-other-data-");
    try {
      cpSync(fixtureData, join(other.dir, "data"), { recursive: true });
      const file = join(other.dir, "data", "applications.json");
      writeFileSync(file, readFileSync(file, "utf8").replace(/"name": "([^"]+)"/, '"name": "$1 (renamed)"'));
      writeFileSync(join(other.dir, "service-ambitions.config.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, "service-ambitions.config.json"), "utf8")), dataDir: join(other.dir, "data") }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1, "X"));
      const workers = startWorkers(1, { dir: other.dir, server, concurrency: 2 });
      const result = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      await stopWorkers(workers);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("service X001 failed");
      expect(result.stderr).toContain("differs from this worker's");
      expect(server.requests).toHaveLength(0);
    } finally {
      await server.stop();
      other.cleanup();
      cleanup();
    }
  }, 60_000);

  test("a hard budget reached by one worker stops every worker; the coordinator exits 3", async () => {
    const server = startTestServer({ latencyMs: 30 });
    const { dir, cleanup } = project("budget");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(12, "B"));
      const workers = startWorkers(3, { dir, server, concurrency: 2 });
      const budget = 0.02;
      const result = await runScript("run", ["--queue", redis.url, "--budget", String(budget), "-i", input, "-o", "out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      const answeredAtStop = server.answered;
      await Bun.sleep(1500);
      const answeredLater = server.answered;
      await stopWorkers(workers);
      const run = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
      console.log(`queue budget: $${run.totals.costUsd.toFixed(4)} spent over 3 workers against $${budget}; ${answeredAtStop} answered at the stop, ${answeredLater} 1.5 s later`);
      expect(result.code).toBe(3);
      expect(run.status).toBe("limit");
      expect(answeredAtStop).toBeLessThan(12 * CALLS_PER_SERVICE);
      // Every worker stopped: nothing new is answered once the coordinator has stopped (calls in flight aside).
      expect(answeredLater - answeredAtStop).toBeLessThanOrEqual(3 * 2);
      expect(run.totals.costUsd).toBeLessThanOrEqual(budget * 1.25);
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("--max-requests and token limits of run --queue hold over every worker, as the budget does; the coordinator exits 3", async () => {
    const server = startTestServer({ latencyMs: 30 });
    const { dir, cleanup } = project("limits");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(12, "L"));
      const workers = startWorkers(3, { dir, server, concurrency: 2 });
      const result = await runScript("run", ["--queue", redis.url, "--max-requests", "20", "-i", input, "-o", "out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      await Bun.sleep(1500);
      const answered = server.answered;
      await stopWorkers(workers);
      const run = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
      expect(result.code).toBe(3);
      expect(run.status).toBe("limit");
      expect(run.stopReason).toContain("max-requests 20");
      // Past the limit go only the calls each worker had in flight when it was reached (3 workers × 2),
      // and those a worker sent before it heard of the others' last answers (as many again at most).
      expect(answered).toBeLessThanOrEqual(20 + 2 * 3 * 2);
      expect(answered).toBeGreaterThanOrEqual(20);

      // A token limit the same way, on a fresh queue run of other services.
      const tokens = writeJsonl(join(dir, "tokens.jsonl"), makeServices(12, "M"));
      const more = startWorkers(3, { dir, server, concurrency: 2 });
      const before = server.requests.length;
      const limited = await runScript("run", ["--queue", redis.url, "--max-input-tokens", "60000", "-i", tokens, "-o", "tokens-out.jsonl", "--json", "-q"], { cwd: dir, baseURL: server.url });
      await Bun.sleep(1500);
      await stopWorkers(more);
      expect(limited.code).toBe(3);
      const ledger = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
      expect(ledger.stopReason).toContain("max-input-tokens 60000");
      expect(server.requests.length - before).toBeLessThan(12 * CALLS_PER_SERVICE);
      // The same bound as for requests, in the largest prompt's tokens (the server bills four characters a token).
      const largest = Math.max(...server.requests.slice(before).map((r) => Math.ceil(r.body.messages.map((m) => m.content).join("\n").length / 4)));
      expect(ledger.totals.inputTokens).toBeLessThanOrEqual(60000 + 2 * 3 * 2 * largest);
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("a soft budget of run --queue warns once, from the coordinator, when the run's spend over every worker crosses it", async () => {
    const server = startTestServer({ latencyMs: 10 });
    const { dir, cleanup } = project("soft", { budget: { softUsd: 0.001 } });
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4, "S"));
      const workers = startWorkers(2, { dir, server, concurrency: 2 });
      const result = await runScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      await stopWorkers(workers);
      expect(result.code).toBe(0);
      const spent = JSON.parse(result.stdout.trim().split("\n").at(-1)!).totals.costUsd;
      expect(spent).toBeGreaterThan(0.001);
      const warnings = result.stderr.split("\n").filter((l) => l.includes("soft limit"));
      expect(warnings).toEqual([expect.stringContaining("budget: soft limit $0.001 crossed")]);
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("SIGTERM: a worker finishes the jobs it holds before it exits", async () => {
    const server = startTestServer({ latencyMs: 150 });
    const { dir, cleanup } = project("sigterm");
    try {
      const services = makeServices(3, "T");
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const [first] = startWorkers(1, { dir, server, concurrency: 1 });
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
      await until(() => server.answered >= 2, 30_000);
      first!.kill("SIGTERM");
      expect(await first!.exited).toBe(0);
      const stderr = await new Response(first!.stderr).text();
      expect(stderr).not.toContain("grace period over");
      const answeredByFirst = server.answered;
      expect(answeredByFirst).toBeGreaterThanOrEqual(CALLS_PER_SERVICE); // its job was finished, not dropped
      const rest = startWorkers(1, { dir, server, concurrency: 2 });
      expect(await coordinator.exited).toBe(0);
      await stopWorkers(rest);
      expect(lines(join(dir, "out.jsonl")).map((e) => e.service.service_id)).toEqual(services.map((s) => s.service_id));
      expect(server.answered).toBe(3 * CALLS_PER_SERVICE); // nothing redone
    } finally {
      await server.stop();
      cleanup();
    }
  }, 120_000);

  test("SIGTERM: after the grace period a worker puts the jobs it still holds back on the queue", async () => {
    const server = startTestServer({ latencyMs: 4000 });
    const { dir, cleanup, settings } = project("grace");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1, "G"));
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
      const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "1", "--grace", "1"], { cwd: dir, baseURL: server.url });
      const stderr = new Response(worker.stderr).text();
      await until(() => server.requests.length >= 1, 30_000);
      worker.kill("SIGTERM");
      const code = await worker.exited;
      expect(code).toBe(0);
      expect(await stderr).toContain("grace period over; held jobs put back on the queue");
      // Jobs it puts back itself are not lost ones (lib/queue/worker.ts).
      expect(await stderr).not.toContain("lock in Redis is gone");
      // No worker is left to run the stalled check: only an explicit move puts the job back at once.
      const { counts } = await queueAdmin(settings, "status");
      expect({ active: counts.active, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) }).toEqual({ active: 0, waiting: 1 });
      coordinator.kill("SIGINT");
      await coordinator.exited;
    } finally {
      await server.stop();
      cleanup();
    }
  }, 60_000);
});
