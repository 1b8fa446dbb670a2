import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const password = "queue-SECRET-pw-4711";
let closedPort: number;
let secured: RedisServer;
beforeAll(async () => {
  const gone = await startRedis();
  closedPort = gone.port;
  await gone.stop();
  secured = await startRedis();
  await Bun.$`redis-cli -p ${secured.port} config set requirepass ${password}`.quiet();
});
afterAll(() => secured.stop());

/** The service ids of the output's lines, in order. */
const writtenIds = (dir: string) => readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);

/** A project folder: a config with the memory cache (and these queue settings), and the services as in.jsonl. */
function project(options: { queue?: Record<string, unknown>; services?: Record<string, unknown>[] } = {}) {
  const { dir, cleanup } = tempDir("sa-queue-redis-");
  const config = { dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "memory" }, ...(options.queue ? { queue: options.queue } : {}) };
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
  writeJsonl(join(dir, "in.jsonl"), options.services ?? makeServices(2, "U"));
  return { dir, cleanup };
}

describe("a queue whose Redis cannot be used", () => {
  const cases = [
    { name: "nothing listens", url: () => `redis://127.0.0.1:${closedPort}`, says: /ECONNREFUSED/ },
    { name: "the password is wrong", url: () => `redis://:wrong-${password}@127.0.0.1:${secured.port}`, says: /WRONGPASS/ },
    // Before, this said NOAUTH: the database's SELECT after the refused password got it, as if none had been given.
    { name: "the password is wrong, with a database", url: () => `redis://:wrong-${password}@127.0.0.1:${secured.port}/2`, says: /WRONGPASS/ },
    // Before, ioredis went on in database 0 and the queue ran there, among whatever it held.
    { name: "the database does not exist", url: () => `redis://:${password}@127.0.0.1:${secured.port}/99`, says: /ERR DB index is out of range/ },
    { name: "no password is given", url: () => `redis://127.0.0.1:${secured.port}`, says: /NOAUTH/ },
  ];
  for (const c of cases) {
    test(`${c.name}: queue status, worker and run --queue exit 2 at once with one line naming it, never the password`, async () => {
      const { dir, cleanup } = project();
      try {
        for (const args of [["status"], [], ["-i", "in.jsonl", "-o", "out.jsonl"]]) {
          const script = args[0] === "status" ? "queue" : args.length ? "run" : "worker";
          const started = Date.now();
          const result = await runScript(script, [...args, "--queue", c.url()], { cwd: dir });
          expect(result.code).toBe(2);
          expect(Date.now() - started).toBeLessThan(15_000);
          const errors = result.stderr.split("\n").filter((l) => l.startsWith("✖"));
          expect(errors).toHaveLength(1);
          expect(errors[0]).toContain(`queue: Redis redis://127.0.0.1:${c.url().split(":").at(-1)} cannot be reached`);
          expect(errors[0]).toMatch(c.says);
          expect(result.stderr).not.toContain("at ");
          expect(result.stderr + result.stdout).not.toContain(password);
        }
      } finally {
        cleanup();
      }
    }, 60_000);
  }
});

test("a worker given its password in the URL's query (?password=) names the queue's Redis without it, and its line stays whole", async () => {
  const { dir, cleanup } = project();
  try {
    const worker = spawnScript("worker", ["--queue", `redis://127.0.0.1:${secured.port}/0?password=${password}`, "--concurrency", "2"], { cwd: dir });
    const reader = worker.stderr.getReader();
    let seen = "";
    while (!seen.includes("at once")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    worker.kill(9);
    await worker.exited;
    expect(seen).not.toContain(password);
    // Before, the log's redaction took the line's own ", " with the password: "?password=[redacted] 2 at once".
    expect(seen).toContain(`queue sa on redis://127.0.0.1:${secured.port}/0, 2 at once`);
  } finally {
    cleanup();
  }
}, 30_000);

test("run --queue --dry-run: exit 2 at once naming both flags, nothing enqueued (it waited for ever on jobs no worker was meant to run)", async () => {
  const redis = await startRedis();
  const { dir, cleanup } = project();
  try {
    const result = await runScript("run", ["--queue", redis.url, "--dry-run", "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--dry-run and --queue do not go together");
    expect((await Bun.$`redis-cli -p ${redis.port} dbsize`.text()).trim()).toBe("0");
  } finally {
    await redis.stop();
    cleanup();
  }
}, 30_000);

describe("a queue whose Redis restarts without its data mid-run", () => {
  test("the coordinator says so once, enqueues the jobs Redis lost again, and finishes every service", async () => {
    const server = startTestServer({ latencyMs: 40 });
    let redis = await startRedis();
    const services = makeServices(4, "R");
    const { dir, cleanup } = project({ queue: { name: "restart", attempts: 2, lockDuration: 2000 }, services });
    const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "2", "--grace", "2"], { cwd: dir, baseURL: server.url });
    try {
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      while (server.answered < 8) await Bun.sleep(20);
      await redis.stop();
      await Bun.sleep(1000);
      redis = await startRedis(redis.port);
      const timeout = setTimeout(() => coordinator.kill(9), 60_000);
      const [code, stderr] = await Promise.all([coordinator.exited, new Response(coordinator.stderr).text()]);
      clearTimeout(timeout);
      expect(code).toBe(0);
      expect(writtenIds(dir)).toEqual(services.map((s) => s.service_id));
      expect(stderr.match(/is unreachable/g)).toHaveLength(1);
      expect(stderr).toMatch(/job\(s\) were no longer in Redis .*; enqueued again/);
      expect(stderr).not.toContain("    at ");
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await redis.stop();
      await server.stop();
      cleanup();
    }
  }, 120_000);
});

describe("a queue run stopped by its budget", () => {
  test("queue retry-failed, then the same run with a higher budget: the stopped run's jobs are taken over and every service is written", async () => {
    const server = startTestServer({ latencyMs: 20 });
    const redis = await startRedis();
    const services = makeServices(4, "B");
    const { dir, cleanup } = project({ queue: { name: "budget", attempts: 2, lockDuration: 2000 }, services });
    const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "2", "--grace", "2"], { cwd: dir, baseURL: server.url });
    try {
      const stopped = await runScript("run", ["--queue", redis.url, "--budget", "0.005", "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      expect(stopped.code).toBe(3);
      expect((await runScript("queue", ["retry-failed", "--queue", redis.url], { cwd: dir })).code).toBe(0);
      const rerun = await runScript("run", ["--queue", redis.url, "--budget", "100", "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      expect(rerun.code).toBe(0);
      expect(writtenIds(dir)).toEqual(services.map((s) => s.service_id));
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await redis.stop();
      await server.stop();
      cleanup();
    }
  }, 120_000);
});

describe("a queue run interrupted and run again", () => {
  test("the calls workers made while no coordinator was attached are in the rerun's ledger: the runs' live calls add up to the server's answers", async () => {
    const server = startTestServer({ latencyMs: 10 });
    const redis = await startRedis();
    const { dir, cleanup } = project({ queue: { name: "gap", attempts: 2, lockDuration: 2000 }, services: makeServices(3, "J") });
    const redisCli = (...args: string[]) => Bun.$`redis-cli -p ${redis.port} ${args}`.text();
    try {
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      while (Number(await redisCli("llen", "bull:gap:wait")) < 3) await Bun.sleep(50);
      coordinator.kill("SIGINT");
      expect(await coordinator.exited).toBe(130);
      const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "4"], { cwd: dir, baseURL: server.url });
      while (Number(await redisCli("zcard", "bull:gap:completed")) < 3) await Bun.sleep(50);
      worker.kill("SIGTERM");
      await worker.exited;
      expect((await runScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const runs = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs as Array<{ totals: { liveCalls: number } }>;
      expect(runs).toHaveLength(2);
      expect(runs.reduce((sum, run) => sum + run.totals.liveCalls, 0)).toBe(server.answered);
    } finally {
      await redis.stop();
      await server.stop();
      cleanup();
    }
  }, 120_000);
});

describe("queue drain under a waiting coordinator", () => {
  test("the coordinator fails the drained jobs' services, naming them, and exits 1 instead of waiting for ever", async () => {
    const redis = await startRedis();
    const { dir, cleanup } = project({ queue: { name: "drained" } });
    try {
      const coordinator = spawnScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir });
      while (Number(await Bun.$`redis-cli -p ${redis.port} llen bull:drained:wait`.text()) < 2) await Bun.sleep(50);
      expect((await runScript("queue", ["drain", "--queue", redis.url], { cwd: dir })).stdout).toStartWith("2 job(s) removed");
      const timeout = setTimeout(() => coordinator.kill(9), 40_000);
      const [code, stderr] = await Promise.all([coordinator.exited, new Response(coordinator.stderr).text()]);
      clearTimeout(timeout);
      expect(code).toBe(1);
      expect(stderr.match(/was removed from the queue before it ran \(queue drain\?\)/g)).toHaveLength(2);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8")).toBe("");
    } finally {
      await redis.stop();
      cleanup();
    }
  }, 60_000);
});

describe("run --queue --strict", () => {
  test("what workers quarantine is the coordinator's too: it is counted, written to its quarantine file, and fails the run under --strict as a plain run does", async () => {
    const roles = ["residents", "businesses", "council_staff"];
    const feature = (role: string, name: string) => ({ role, name, description: `About ${name}.`, score: { level: 2, justification: "Seen." } });
    // Every features answer of service Q002 carries one blank feature: dropped and quarantined, the service still done.
    const server = startTestServer({
      answer: (b) =>
        b.response_format?.json_schema?.name === "plateau_features" && JSON.stringify(b.messages).includes("Service 2")
          ? JSON.stringify({ features: [...roles.flatMap((r) => [1, 2, 3].map((n) => feature(r, `F${n} ${r}`))), feature("residents", "  ")] })
          : undefined,
    });
    const redis = await startRedis();
    const { dir, cleanup } = project({ queue: { name: "strict" }, services: makeServices(2, "Q") });
    const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "4"], { cwd: dir, baseURL: server.url });
    try {
      const plain = await runScript("run", ["--strict", "-i", "in.jsonl", "-o", "plain.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      const queued = await runScript("run", ["--queue", redis.url, "--strict", "-i", "in.jsonl", "-o", "queued.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      expect(plain.code).toBe(1);
      const expected = JSON.parse(plain.stdout.trim().split("\n").at(-1)!).quarantined;
      expect(expected).toBeGreaterThan(0);
      expect(queued.code).toBe(1);
      const summary = JSON.parse(queued.stdout.trim().split("\n").at(-1)!);
      expect(summary.quarantined).toBe(expected);
      const file = join(dir, ".sa/quarantine", `${summary.runId}.jsonl`);
      expect(readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l).serviceId)).toEqual(Array(expected).fill("Q002"));
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await redis.stop();
      await server.stop();
      cleanup();
    }
  }, 120_000);
});
