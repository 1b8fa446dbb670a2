import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { readUntil } from "../bench/child.ts";
import { writeStdout } from "../lib/stdout.ts";

interface BenchServer {
  url: string;
  stats(): Promise<{ requests: number; answered: number; rejected429: number }>;
}

export interface WorkerFigures {
  workers: number;
  wallMs: number;
  answered: number;
  rejected429: number;
  callsPerMinute: number;
  exitCode: number;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer().once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });

/** A throwaway redis-server with no persistence, for the queue, the shared buckets and the journal. */
async function startRedis() {
  const port = await freePort();
  const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "pipe", stderr: "ignore" });
  await readUntil(proc.stdout, "Ready to accept connections", "bench --workers: redis-server did not start (is it installed?)");
  void proc.stdout.pipeTo(new WritableStream()).catch(() => {});
  return { url: `redis://127.0.0.1:${port}`, stop: async () => (proc.kill(), await proc.exited) };
}

const script = (name: string) => join(import.meta.dir, `${name}.ts`);

/** One scenario: N worker processes and a `run --queue` coordinator process, all against the same server. */
async function scenario(options: { workers: number; dir: string; input: string; redis: string; server: BenchServer; concurrency: number }): Promise<WorkerFigures> {
  const env = { ...process.env, OPENAI_API_KEY: "sk-bench-local", OPENAI_BASE_URL: options.server.url, CI: "true" };
  const spawn = (name: string, args: string[]) => Bun.spawn(["bun", script(name), ...args, "-q"], { cwd: options.dir, env, stdout: "ignore", stderr: "inherit" });
  const workers = Array.from({ length: options.workers }, () => spawn("worker", ["--queue", options.redis, "--concurrency", String(options.concurrency), "--grace", "5"]));
  await Bun.sleep(1500); // let the workers connect before the clock starts
  const before = await options.server.stats();
  const started = performance.now();
  const coordinator = spawn("run", ["--queue", options.redis, "-i", options.input, "-o", join(options.dir, `out-${options.workers}.jsonl`)]);
  const exitCode = await coordinator.exited;
  const wallMs = performance.now() - started;
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
  const after = await options.server.stats();
  const answered = after.answered - before.answered;
  return { workers: options.workers, wallMs: Math.round(wallMs), answered, rejected429: after.rejected429 - before.rejected429, callsPerMinute: Math.round((answered / wallMs) * 60_000), exitCode };
}

/**
 * `bench --workers 1,2,4`: the same services with 1, 2 and 4 worker processes sharing one RPM
 * bucket in Redis, against a server enforcing an RPM limit. Each scenario has its own queue and
 * bucket and no cache, so each makes every call.
 */
export async function benchWorkers(options: { counts: number[]; dir: string; input: string; server: BenchServer; concurrency: number; rpm: number | undefined; dataDir: string }): Promise<WorkerFigures[]> {
  const redis = await startRedis();
  const figures: WorkerFigures[] = [];
  try {
    for (const workers of options.counts) {
      const config = {
        dataDir: options.dataDir,
        model: "openai:gpt-4o-mini",
        cacheMode: "off",
        rpm: options.rpm,
        rateLimit: options.rpm ? { store: "redis", url: redis.url, key: `bench-${workers}` } : { store: "memory" },
        retry: { attempts: 6, baseMs: 100, capMs: 2000 },
        queue: { name: `bench-${workers}`, attempts: 2, lockDuration: 10_000 },
      };
      writeFileSync(join(options.dir, "service-ambitions.config.json"), JSON.stringify(config));
      figures.push(await scenario({ workers, dir: options.dir, input: options.input, redis: redis.url, server: options.server, concurrency: options.concurrency }));
    }
  } finally {
    await redis.stop();
  }
  return figures;
}

export function formatWorkerFigures(figures: WorkerFigures[], limit: number | undefined): string {
  const rows = figures.map(
    (f) => `workers ${String(f.workers).padStart(2)}  wall ${(f.wallMs / 1000).toFixed(2).padStart(6)} s  ${String(f.answered).padStart(5)} calls  ${String(f.callsPerMinute).padStart(5)} calls/min${limit ? ` (${((f.callsPerMinute / limit) * 100).toFixed(0)}% of ${limit})` : ""}  ${f.rejected429} answered 429${f.exitCode ? `  exit ${f.exitCode}` : ""}`,
  );
  return `${rows.join("\n")}\n`;
}

/** `bench --workers`: runs the scenarios and prints their figures (one JSON object with `--json`); exit 1 when a run failed. */
export async function printWorkersBench(o: { counts: number[]; dir: string; input: string; server: BenchServer; concurrency: number; rpm?: number; serverRpm?: number; services: number; latency: number; json?: boolean; data?: string }): Promise<number> {
  const dataDir = resolve(o.data ?? join(import.meta.dir, "..", "fixtures", "data"));
  const figures = await benchWorkers({ counts: o.counts, dir: o.dir, input: o.input, server: o.server, concurrency: o.concurrency, rpm: o.rpm, dataDir });
  const head = `services ${o.services}, latency ${o.latency} ms, concurrency ${o.concurrency} per worker${o.serverRpm ? `, server RPM ${o.serverRpm}` : ""}`;
  void writeStdout(o.json ? `${JSON.stringify({ services: o.services, latencyMs: o.latency, concurrencyPerWorker: o.concurrency, serverRpm: o.serverRpm ?? null, workers: figures })}\n` : `${head}\n${formatWorkerFigures(figures, o.serverRpm)}`);
  return figures.some((f) => f.exitCode !== 0) ? 1 : 0;
}
