import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const started: Array<ReturnType<typeof spawnScript>> = [];
const redises: RedisServer[] = [];
afterAll(async () => {
  for (const p of started) if (p.exitCode === null) p.kill(9);
  await Promise.all(started.map((p) => p.exited));
  for (const r of redises) await r.stop();
});

/** How many answers repeated a prompt answered before: paid twice. */
function repeated(server: TestServer): number {
  const prompts = server.requests.filter((r) => r.status === 200).map((r) => r.body.messages.map((m) => m.content).join("\n"));
  return prompts.length - new Set(prompts).size;
}

// Before: the worker went on with the jobs Redis had lost (their locks with them) while the
// coordinator enqueued them again, so each service was projected twice at once and every call
// the two copies had left was paid twice; and its stderr said "could not renew lock" every second.
for (const where of ["worker", "local"] as const) {
  test(`Redis restarted without its data while a ${where === "worker" ? "worker process" : "coordinator's --local-workers"} holds jobs: the lost jobs are dropped (one warning each), and only the calls then in flight are paid twice`, async () => {
    const server = startTestServer({ latencyMs: 300 });
    let redis = await startRedis();
    redises.push(redis);
    const { dir, cleanup } = tempDir("sa-queue-lost-");
    const services = makeServices(3, "L");
    writeJsonl(join(dir, "in.jsonl"), services);
    // The fs cache (the default) keeps the answers over the restart: only Redis loses its data.
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", queue: { name: "lost", lockDuration: 2000 } }));
    const spawn = (script: string, args: string[]) => {
      const proc = spawnScript(script, args, { cwd: dir, baseURL: server.url });
      started.push(proc);
      return proc;
    };
    const concurrency = 4;
    const worker = where === "worker" ? spawn("worker", ["--queue", redis.url, "--concurrency", String(concurrency), "--grace", "2"]) : undefined;
    const local = where === "local" ? ["--local-workers", "1", "--concurrency", String(concurrency)] : [];
    try {
      const coordinator = spawn("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl", ...local]);
      await until(() => server.answered >= 6, "6 answers");
      await redis.stop();
      await Bun.sleep(500);
      redis = await startRedis(redis.port);
      redises.push(redis);
      const [code, coordinatorErr] = await Promise.all([coordinator.exited, new Response(coordinator.stderr).text()]);
      expect(code).toBe(0);
      worker?.kill("SIGTERM");
      expect(await (worker?.exited ?? 0)).toBe(0);
      const stderr = worker ? await new Response(worker.stderr).text() : coordinatorErr;
      const written = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);
      expect(written).toEqual(services.map((s) => s.service_id));
      // At most the calls in flight when Redis went away are asked again by the job's new copy.
      expect(repeated(server)).toBeLessThanOrEqual(concurrency);
      const lockLines = stderr.split("\n").filter((l) => /lock/i.test(l));
      expect(lockLines.length).toBeLessThanOrEqual(services.length);
      expect(stderr).not.toContain("could not renew lock");
    } finally {
      if (worker && worker.exitCode === null) worker.kill(9);
      await server.stop();
      cleanup();
    }
  }, 120_000);
}
