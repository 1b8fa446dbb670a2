import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const started: Array<ReturnType<typeof spawnScript>> = [];
const redises: RedisServer[] = [];
afterAll(async () => {
  for (const p of started) if (p.exitCode === null) p.kill(9);
  await Promise.all(started.map((p) => p.exited));
  for (const r of redises) await r.stop();
});

const promptOf = (body: ChatBody) => body.messages.map((m) => m.content).join("\n");
const writtenIds = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).service.service_id as string) : []);

/** Every line of the file parses (an absent file is valid too). */
const validJsonl = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).every((l) => Boolean(JSON.parse(l))) : true);

/** A project whose workers and coordinators share an on-disk cache (a Redis restarted without its data keeps the answers). */
async function queueProject(name: string, server: TestServer, services: number) {
  const redis = await startRedis();
  redises.push(redis);
  const { dir, cleanup } = tempDir("sa-queue-faults-");
  writeJsonl(join(dir, "in.jsonl"), makeServices(services, "Q"));
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", retry: { attempts: 4, baseMs: 10, capMs: 50 }, queue: { name, attempts: 3, lockDuration: 2000 } }));
  const spawn = (script: string, args: string[], baseURL = server.url) => {
    const proc = spawnScript(script, args, { cwd: dir, baseURL });
    started.push(proc);
    return proc;
  };
  const project = {
    dir,
    cleanup,
    redis,
    ids: makeServices(services, "Q").map((s) => String(s.service_id)),
    worker: (concurrency = 2, baseURL = server.url) => spawn("worker", ["--queue", project.redis.url, "--concurrency", String(concurrency), "--grace", "2"], baseURL),
    coordinate: () => spawn("run", ["--queue", project.redis.url, "-i", "in.jsonl", "-o", "out.jsonl", "--json"]),
    /** Redis stopped, and started again on its port with nothing in it. */
    async restartRedis() {
      await project.redis.stop();
      await Bun.sleep(800);
      project.redis = await startRedis(project.redis.port);
      redises.push(project.redis);
    },
    /** The coordinators' runs in the ledger: their requests and live calls. */
    ledger() {
      const runs = readLedger(join(dir, ".sa/usage.json")).runs.filter((r) => r.task === "run");
      return { requests: runs.reduce((s, r) => s + r.totals.requests, 0), live: runs.reduce((s, r) => s + r.totals.liveCalls, 0), statuses: runs.map((r) => r.status) };
    },
  };
  return project;
}

async function stopAll(workers: Array<ReturnType<typeof spawnScript>>) {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
}

/** How many answers repeated a prompt answered before: paid twice. */
function repeatedAnswers(server: TestServer): { answered: number; repeated: number } {
  const answered = server.requests.filter((r) => r.status === 200).map((r) => promptOf(r.body));
  return { answered: answered.length, repeated: answered.length - new Set(answered).size };
}

describe("run --queue under faults", () => {
  test("Ctrl-C on the coordinator twice while workers are busy: the reruns finish, and the runs' ledger counts every request the server saw, once", async () => {
    const server = startTestServer({ latencyMs: 60, jitterMs: 60 });
    const q = await queueProject("sigint", server, 12);
    const workers = [q.worker(8), q.worker(8)];
    try {
      for (const [i, answers] of [60, 150].entries()) {
        const coordinator = q.coordinate();
        // Workers go on while no coordinator is attached: this one is stopped once its run is in the ledger.
        await until(() => server.answered >= answers && existsSync(join(q.dir, ".sa/usage.json")) && q.ledger().statuses.length > i, `${answers} answers and run ${i + 1}`);
        coordinator.kill("SIGINT");
        expect(await coordinator.exited).toBe(130);
      }
      const last = q.coordinate();
      expect(await last.exited).toBe(0);
      await stopAll(workers);
      expect(writtenIds(join(q.dir, "out.jsonl"))).toEqual(q.ids);
      expect(repeatedAnswers(server).repeated).toBe(0);
      const ledger = q.ledger();
      expect(ledger.statuses).toEqual(["interrupted", "interrupted", "ok"]);
      expect({ requests: ledger.requests, live: ledger.live }).toEqual({ requests: server.requests.length, live: server.answered });
    } finally {
      await stopAll(workers);
      await server.stop();
      q.cleanup();
    }
  }, 120_000);

  test("Redis restarted without its data mid-run: every service once, and the ledger still counts every request the server saw", async () => {
    const server = startTestServer({ latencyMs: 40, faultEvery: 9 });
    const q = await queueProject("restart", server, 8);
    const workers = [q.worker(), q.worker()];
    try {
      const coordinator = q.coordinate();
      await until(() => server.answered >= 70, "70 answers");
      await q.restartRedis();
      expect(await coordinator.exited).toBe(0);
      await stopAll(workers);
      expect(writtenIds(join(q.dir, "out.jsonl"))).toEqual(q.ids);
      const ledger = q.ledger();
      console.log(`queue restart: server ${server.requests.length} requests, ${server.answered} answered (${repeatedAnswers(server).repeated} repeated); ledger ${ledger.requests} requests, ${ledger.live} live calls`);
      expect({ requests: ledger.requests, live: ledger.live }).toEqual({ requests: server.requests.length, live: server.answered });
    } finally {
      await stopAll(workers);
      await server.stop();
      q.cleanup();
    }
  }, 120_000);

  test("a worker killed mid-job, a second worker, a Redis restart and a Ctrl-C on the coordinator: the rerun writes every service once, pays twice only what was in flight, and the ledger misses only the killed worker's requests", async () => {
    const server = startTestServer({ latencyMs: 40, faultEvery: 9 });
    const q = await queueProject("everything", server, 8);
    const workers = [q.worker(), q.worker()];
    try {
      const first = q.coordinate();
      await until(() => server.answered >= 30, "30 answers");
      workers[0]!.kill(9);
      workers.push(q.worker());
      await until(() => server.answered >= 70, "70 answers");
      await q.restartRedis();
      await until(() => server.answered >= 110, "110 answers");
      first.kill("SIGINT");
      expect(await first.exited).toBe(130);
      const second = q.coordinate();
      expect(await second.exited).toBe(0);
      await stopAll(workers);
      expect(writtenIds(join(q.dir, "out.jsonl"))).toEqual(q.ids);
      const { answered, repeated } = repeatedAnswers(server);
      const ledger = q.ledger();
      console.log(`queue everything: server ${server.requests.length} requests, ${answered} answered (${repeated} repeated); ledger ${ledger.requests} requests, ${ledger.live} live calls`);
      // In flight: the killed worker's 2 calls, and the jobs Redis lost while two workers held them (2 each).
      expect(repeated).toBeLessThanOrEqual(6);
      // The killed worker's calls on the wire (2) were never journalled, with their requests (4 attempts each).
      expect(ledger.live).toBeGreaterThanOrEqual(answered - 2);
      expect(ledger.live).toBeLessThanOrEqual(answered);
      expect(ledger.requests).toBeGreaterThanOrEqual(server.requests.length - 2 * 4);
      expect(ledger.requests).toBeLessThanOrEqual(server.requests.length);
    } finally {
      await stopAll(workers);
      await server.stop();
      q.cleanup();
    }
  }, 120_000);

  test("a worker whose key the provider refuses (401) takes no job from the others: it puts what it took back, no attempt spent, and exits 2 naming the key", async () => {
    const server = startTestServer({ latencyMs: 40 });
    const refusing = startTestServer({ fault: () => ({ type: "401" }) });
    const q = await queueProject("refused", server, 4);
    // The refused worker starts first and asks quickly: before, it failed every job it could take.
    const bad = q.worker(4, refusing.url);
    const workers = [bad];
    try {
      const coordinator = q.coordinate();
      await until(() => refusing.requests.length > 0, "the refused worker's first request");
      workers.push(q.worker(2));
      const [code, stdout] = await Promise.all([coordinator.exited, new Response(coordinator.stdout).text()]);
      expect(code).toBe(0);
      expect(JSON.parse(stdout.trim().split("\n").at(-1)!).services).toMatchObject({ ok: 4, failed: 0 });
      expect(writtenIds(join(q.dir, "out.jsonl"))).toEqual(q.ids);
      const [badCode, badErr] = await Promise.all([bad.exited, new Response(bad.stderr).text()]);
      expect(badCode).toBe(2);
      expect(badErr).toContain("HTTP 401");
      expect(badErr).toContain("check OPENAI_API_KEY");
      expect(badErr).not.toMatch(/failed \(attempt/);
      // The refused key is tried on the jobs it held at once, not on every job of the queue.
      expect(refusing.requests.length).toBeLessThanOrEqual(4);
    } finally {
      await stopAll(workers);
      await server.stop();
      await refusing.stop();
      q.cleanup();
    }
  }, 120_000);

  test("Ctrl-C on the coordinator while its Redis is down exits 130 within seconds; once Redis is back, a rerun finishes every service", async () => {
    const server = startTestServer({ latencyMs: 60 });
    const q = await queueProject("down", server, 6);
    const workers = [q.worker()];
    try {
      const first = q.coordinate();
      await until(() => server.answered >= 20, "20 answers");
      const port = q.redis.port;
      await q.redis.stop();
      await Bun.sleep(500);
      const stoppedAt = Date.now();
      first.kill("SIGINT");
      const code = await Promise.race([first.exited, Bun.sleep(15_000).then(() => "still running after 15 s")]);
      expect(code).toBe(130);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      expect(validJsonl(join(q.dir, "out.jsonl"))).toBe(true);
      q.redis = await startRedis(port);
      redises.push(q.redis);
      const again = q.coordinate();
      expect(await again.exited).toBe(0);
      expect(writtenIds(join(q.dir, "out.jsonl"))).toEqual(q.ids);
    } finally {
      await stopAll(workers);
      await server.stop();
      q.cleanup();
    }
  }, 120_000);

  test("SIGTERM to a worker holding jobs while its Redis is down: it exits 0 once its grace and the release of its calls are over, not when Redis comes back", async () => {
    const server = startTestServer({ latencyMs: 60 });
    const q = await queueProject("worker-down", server, 4);
    const worker = q.worker();
    const workers = [worker];
    try {
      const coordinator = q.coordinate();
      await until(() => server.answered >= 10, "10 answers");
      await q.redis.stop();
      coordinator.kill("SIGINT");
      const stoppedAt = Date.now();
      worker.kill("SIGTERM");
      const code = await Promise.race([worker.exited, Bun.sleep(40_000).then(() => "still running after 40 s")]);
      expect(code).toBe(0);
      // --grace 2, then up to 15 s for its calls in flight, then a few seconds on Redis at most.
      expect(Date.now() - stoppedAt).toBeLessThan(30_000);
      expect(await coordinator.exited).toBe(130);
    } finally {
      await stopAll(workers);
      await server.stop();
      q.cleanup();
    }
  }, 120_000);
});
