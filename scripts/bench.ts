#!/usr/bin/env bun
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { SAError } from "../lib/errors.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { createRuntime } from "../lib/runtime.ts";
import type { TestServerOptions } from "../lib/test-server.ts";
import { printWorkersBench } from "./_bench-workers.ts";
import { defineTask, runTask } from "./_task.ts";

const positive = (name: string, raw: string | undefined, fallback?: number): number | undefined => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new SAError("E_USAGE", `--${name}: expected a number, got "${raw}"`);
  return n;
};

async function spawnServer(options: TestServerOptions) {
  const proc = Bun.spawn(["bun", join(import.meta.dir, "..", "lib", "test-server.ts"), JSON.stringify(options)], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new SAError("E_USAGE", "bench: the test server did not start");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = text.trim();
  return {
    url,
    stats: async () => (await (await fetch(`${url.replace(/\/v1$/, "")}/__stats`)).json()) as { requests: number; answered: number; rejected429: number },
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** `n` generated services, one JSON line each. */
function writeServices(path: string, n: number): void {
  const line = (i: number) => JSON.stringify({ service_id: `B${i}`, name: `Bench service ${i}`, description: `Generated service ${i}.`, jobs_to_be_done: ["Get things done"] });
  writeFileSync(path, Array.from({ length: n }, (_, i) => `${line(i + 1)}\n`).join(""));
}

interface Figures {
  services: number;
  latencyMs: number;
  concurrency: number;
  rpm: number | null;
  tpm: number | null;
  wallMs: number;
  idealBoundMs: number;
  efficiency: number;
  requests: number;
  rejected429: number;
  calls: number;
  callsPerService: number;
  expectedCallsPerService: number;
  retries: number;
  peakRssMiB: number;
}

/** The figures as the README quotes them. */
function figuresText(f: Figures, criticalPathMs: number): string {
  const { latencyMs: latency, concurrency, rpm, tpm, calls } = f;
  return [
    `services ${f.services}, latency ${latency} ms, concurrency ${concurrency}${rpm ? `, rpm ${rpm}` : ""}${tpm ? `, tpm ${tpm}` : ""}`,
    `wall time        ${(f.wallMs / 1000).toFixed(2)} s`,
    `ideal bound      ${(f.idealBoundMs / 1000).toFixed(2)} s  (max of critical path ${criticalPathMs} ms, calls×latency÷concurrency ${Math.round((calls * latency) / concurrency)} ms${rpm ? `, calls÷RPM ${Math.round((calls / rpm) * 60_000)} ms` : ""})`,
    `efficiency       ${f.efficiency}`,
    `requests         ${f.requests} (${f.rejected429} answered 429, ${f.retries} retries)`,
    `calls/service    ${f.callsPerService} (expected ${f.expectedCallsPerService})`,
    `peak RSS         ${f.peakRssMiB} MiB`,
  ].join("\n") + "\n";
}

/** The client's config: the test server as OpenAI, no cache, everything else in `dir`. */
function benchConfig(o: { dir: string; data?: string; concurrency: number; rpm?: number; tpm?: number }) {
  return loadConfig({
    env: {},
    overrides: {
      dataDir: resolve(o.data ?? join(import.meta.dir, "..", "fixtures", "data")),
      model: "openai:gpt-4o-mini",
      cacheMode: "off",
      concurrency: o.concurrency,
      rpm: o.rpm,
      tpm: o.tpm,
      cache: { driver: "memory" },
      quarantineDir: join(o.dir, "quarantine"),
      ledger: { path: join(o.dir, "usage.json") },
      retry: { attempts: 6, baseMs: 100, capMs: 2000 },
    },
  });
}

const task = defineTask({
  meta: { name: "bench", description: "Benchmark the pipeline against a local test server and print its efficiency" },
  args: {
    services: { type: "string", description: "Generated services (default 20)" },
    latency: { type: "string", description: "Server latency per call in ms (default 200)" },
    concurrency: { type: "string", description: "Client concurrency (default 16)" },
    rpm: { type: "string", description: "Client RPM limit (default: the server's)" },
    tpm: { type: "string", description: "Client TPM limit (default: the server's)" },
    "server-rpm": { type: "string", description: "Server-side RPM limit, enforced over 10 s windows" },
    "server-tpm": { type: "string", description: "Server-side TPM limit, enforced over 10 s windows" },
    "fault-every": { type: "string", description: "Answer every Nth request with a 500 (and every N+1th with a 429)" },
    data: { type: "string", description: "Data folder (default fixtures/data)" },
    workers: { type: "string", description: "Worker process counts to compare on a BullMQ queue, e.g. 1,2,4 (needs redis-server; --concurrency is per worker)" },
    json: { type: "boolean", description: "Print the figures as one JSON object" },
    verbose: { type: "boolean", alias: "v", description: "Debug logs" },
    quiet: { type: "boolean", alias: "q", description: "Errors only" },
  },
  async run({ args, log }) {
    const services = positive("services", args.services, 20)!;
    const latency = positive("latency", args.latency, 200)!;
    const concurrency = positive("concurrency", args.concurrency, 16)!;
    const serverRpm = positive("server-rpm", args["server-rpm"]);
    const serverTpm = positive("server-tpm", args["server-tpm"]);
    const faultEvery = positive("fault-every", args["fault-every"]);
    const rpm = positive("rpm", args.rpm, serverRpm);
    const tpm = positive("tpm", args.tpm, serverTpm);

    // The server runs in its own process, as a remote provider would: its work does not slow the client.
    const server = await spawnServer({ latencyMs: latency, rpm: serverRpm, tpm: serverTpm, windowMs: 10_000, faultEvery });
    const dir = mkdtempSync(join(tmpdir(), "sa-bench-"));
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    try {
      const input = join(dir, "services.jsonl");
      writeServices(input, services);
      if (args.workers) return await printWorkersBench({ counts: args.workers.split(",").map((n) => positive("workers", n)!), dir, input, server, concurrency, rpm, serverRpm, services, latency, json: args.json, data: args.data });
      const config = await benchConfig({ dir, data: args.data, concurrency, rpm, tpm });
      const runtime = await createRuntime({ task: "bench", config, log, env: { OPENAI_API_KEY: "sk-bench-local", OPENAI_BASE_URL: server.url } });
      const callsPerService = 1 + runtime.data.plateaus.length * (1 + runtime.data.catalogues.length);
      const started = performance.now();
      const summary = await runServices(runtime, { input, output: join(dir, "out.jsonl") });
      const wallMs = performance.now() - started;
      await runtime.close();
      const stats = await server.stats();
      const calls = summary.totals.liveCalls;
      const criticalPathMs = 3 * latency;
      const bound = Math.max(criticalPathMs, (calls * latency) / concurrency, rpm ? (calls / rpm) * 60_000 : 0);
      const figures = {
        services,
        latencyMs: latency,
        concurrency,
        rpm: rpm ?? null,
        tpm: tpm ?? null,
        status: summary.status,
        wallMs: Math.round(wallMs),
        idealBoundMs: Math.round(bound),
        efficiency: Number((bound / wallMs).toFixed(3)),
        requests: stats.requests,
        rejected429: stats.rejected429,
        calls,
        callsPerService: calls / Math.max(1, summary.services.ok),
        expectedCallsPerService: callsPerService,
        retries: summary.totals.retries,
        peakRssMiB: Math.round(peakRss / 1048576),
      };
      process.stdout.write(args.json ? `${JSON.stringify(figures)}\n` : figuresText(figures, criticalPathMs));
      return summary.exitCode;
    } finally {
      clearInterval(sampler);
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
