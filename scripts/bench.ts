#!/usr/bin/env bun
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cachedRerun } from "../bench/cached.ts";
import { measure, seconds } from "../bench/child.ts";
import { idealBound, runSide, type Scenario, type SideResult } from "../bench/pipeline.ts";
import { syntheticRun } from "../bench/rss.ts";
import { spawnServer } from "../bench/server.ts";
import { writeServices } from "../bench/pipeline.ts";
import { printWorkersBench } from "./_bench-workers.ts";
import { SAError } from "../lib/errors.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { sharedArgs } from "./_args.ts";
import { writeStdout } from "../lib/stdout.ts";

const positive = (name: string, raw: string | undefined, fallback?: number): number | undefined => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new SAError("E_USAGE", `--${name}: expected a number, got "${raw}"`);
  return n;
};

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const col = (s: string) => s.padEnd(14);

type Report = { lines: string[]; figures: Record<string, unknown> };

const sideFigures = (r: SideResult) => ({
  wallMs: Math.round(r.wallMs),
  cpuMs: Math.round(r.cpuMs),
  peakRssMiB: r.peakRssMiB,
  status: r.status,
  firstRequestMs: r.server.firstAt ? r.server.firstAt - r.startedAt : null,
  lastRequestMs: r.server.lastAt ? r.server.lastAt - r.startedAt : null,
  calls: r.calls,
  retries: r.retries,
  server: r.server,
});

/** The pipeline scenario: ours, and with --compare the AI SDK script, each a measured child process. */
function scenarioReport(s: Scenario, sides: SideResult[]): Report {
  const ours = sides[0]!;
  const tokens = ours.server.tokens;
  const bound = idealBound(s, ours.calls, tokens);
  const minutes = ours.wallMs / 60_000;
  const head = `services ${s.services}, latency ${s.latencyMs} ms, concurrency ${s.concurrency}${s.rpm ? `, rpm ${s.rpm}` : ""}${s.tpm ? `, tpm ${s.tpm}` : ""}${s.serverRpm ? `, server rpm ${s.serverRpm}` : ""}${s.serverTpm ? `, server tpm ${s.serverTpm}` : ""}`;
  const row = (label: string, f: (r: SideResult) => string) => `${label.padEnd(17)}${sides.map((r) => col(f(r))).join("")}`.trimEnd();
  const lines = [
    head,
    ...(sides.length > 1 ? [`${"".padEnd(17)}${sides.map((r) => col(r.side)).join("")}`.trimEnd()] : []),
    row("wall time", (r) => seconds(r.wallMs)),
    row("CPU (user+sys)", (r) => seconds(r.cpuMs)),
    row("peak RSS", (r) => `${r.peakRssMiB} MiB`),
    row("first request", (r) => (r.server.firstAt ? `${r.server.firstAt - r.startedAt} ms` : "none")),
    row("last request", (r) => (r.server.lastAt ? `${r.server.lastAt - r.startedAt} ms` : "none")),
    row("status", (r) => r.status),
  ];
  const script = sides[1];
  // Three decimals: near 1.0, two would round a loss (0.996) into a tie.
  if (script) lines.push(`script ÷ ours     ${(script.wallMs / ours.wallMs).toFixed(3)} (wall time, ${Math.round(script.wallMs)} ÷ ${Math.round(ours.wallMs)} ms), CPU ours ÷ script ${(ours.cpuMs / script.cpuMs).toFixed(3)}`);
  lines.push(
    `ideal bound      ${seconds(bound.ms)}  (max of ${Object.entries(bound.parts).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(", ")})`,
    `efficiency       ${(bound.ms / ours.wallMs).toFixed(3)}`,
    `requests         ${ours.server.requests} (${ours.server.rejected429} answered 429 = ${pct(ours.server.rejected429 / Math.max(1, ours.server.requests))}, ${ours.retries} retries)`,
    `calls/service    ${(ours.calls / s.services).toFixed(2)} (expected 21 with the fixture data)`,
  );
  if (s.rpm) lines.push(`RPM quota used   ${pct(ours.server.answered / (s.rpm * minutes))} (${ours.server.answered} answered in ${seconds(ours.wallMs)} at ${s.rpm}/min)`);
  if (s.tpm) lines.push(`TPM quota used   ${pct(tokens / (s.tpm * minutes))} (${tokens} tokens billed in ${seconds(ours.wallMs)} at ${s.tpm}/min)`);
  const figures = {
    scenario: { ...s, data: undefined },
    idealBoundMs: Math.round(bound.ms),
    efficiency: Number((bound.ms / ours.wallMs).toFixed(3)),
    ours: sideFigures(ours),
    ...(script ? { aiSdk: sideFigures(script), scriptOverOurs: Number((script.wallMs / ours.wallMs).toFixed(3)) } : {}),
    ...(s.rpm ? { rpmQuotaUsed: Number((ours.server.answered / (s.rpm * minutes)).toFixed(4)) } : {}),
    ...(s.tpm ? { tpmQuotaUsed: Number((tokens / (s.tpm * minutes)).toFixed(4)) } : {}),
  };
  return { lines, figures };
}

async function cachedReport(services: number, data: string, dir: string): Promise<Report> {
  const r = await cachedRerun(services, data, dir);
  const floorMs = r.floor.readParseMs + r.floor.writeMs;
  const figures = { services, entries: r.entries, cachedCalls: r.rerun.cachedCalls, rerunMs: Math.round(r.rerun.wallMs), unstorageMs: Math.round(r.unstorage.wallMs), ratio: Number((r.rerun.wallMs / r.unstorage.wallMs).toFixed(3)), floorReadParseMs: Math.round(r.floor.readParseMs), floorWriteMs: Math.round(r.floor.writeMs) };
  const lines = [
    `cached rerun of ${services} services (${r.rerun.cachedCalls} cached calls, ${r.rerun.liveCalls} live; fs cache of ${r.entries} entries)`,
    `rerun (ours)     ${seconds(r.rerun.wallMs)}  CPU ${seconds(r.rerun.cpuMs)}  peak RSS ${r.rerun.peakRssMiB} MiB`,
    `unstorage alone  ${seconds(r.unstorage.wallMs)}  CPU ${seconds(r.unstorage.cpuMs)}  peak RSS ${r.unstorage.peakRssMiB} MiB`,
    `ours ÷ unstorage ${(r.rerun.wallMs / r.unstorage.wallMs).toFixed(2)}`,
    `one-thread floor ${seconds(floorMs)}  (${(floorMs / r.unstorage.wallMs).toFixed(2)}× unstorage, start-up left out: reading and parsing the entries ${seconds(r.floor.readParseMs)}, writing the output ${seconds(r.floor.writeMs)})`,
  ];
  return { lines, figures };
}

async function rssReport(counts: number[], data: string, dir: string): Promise<Report> {
  const lines = ["peak RSS with the synthetic model, cache off"];
  const runs: Array<{ services: number; peakRssMiB: number; wallMs: number; ok: number }> = [];
  for (const n of counts) {
    const r = await syntheticRun(n, data, dir);
    runs.push({ services: n, peakRssMiB: r.peakRssMiB, wallMs: Math.round(r.wallMs), ok: r.ok });
    lines.push(`${String(n).padStart(6)} services  ${String(r.peakRssMiB).padStart(4)} MiB  (${seconds(r.wallMs)}, CPU ${seconds(r.cpuMs)}, ${r.ok} written)`);
  }
  return { lines, figures: { runs } };
}

/** `--workers 1,2,4`: the same services through a BullMQ queue worked by that many processes. */
async function workersMode(args: { workers: string; services?: string; latency?: string; concurrency?: string; rpm?: string; "server-rpm"?: string; json?: boolean; data?: string }, dir: string): Promise<number> {
  const services = positive("services", args.services, 20)!;
  const latency = positive("latency", args.latency, 200)!;
  const concurrency = positive("concurrency", args.concurrency, 16)!;
  const serverRpm = positive("server-rpm", args["server-rpm"]);
  const server = await spawnServer({ latencyMs: latency, rpm: serverRpm, windowMs: 10_000 });
  try {
    const input = writeServices(join(dir, "services.jsonl"), services);
    const counts = args.workers.split(",").map((n) => positive("workers", n)!);
    return await printWorkersBench({ counts, dir, input, server, concurrency, rpm: positive("rpm", args.rpm, serverRpm), serverRpm, services, latency, json: args.json, data: args.data });
  } finally {
    await server.stop();
  }
}

async function listReport(runs: number): Promise<Report> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await measure(["bun", join(import.meta.dir, "index.ts"), "list"], { cwd: process.cwd() })).wallMs);
  const mean = times.reduce((a, b) => a + b, 0) / runs;
  return { lines: [`bun scripts/index.ts list: mean ${(mean / 1000).toFixed(3)} s, min ${(Math.min(...times) / 1000).toFixed(3)} s over ${runs} runs (target < 0.12 s)`], figures: { meanMs: Math.round(mean), minMs: Math.round(Math.min(...times)), runs } };
}

const task = defineTask({
  meta: taskMeta.bench,
  args: {
    services: { type: "string", description: "Generated services (default 20)" },
    latency: { type: "string", description: "Server latency per call in ms (default 200)" },
    concurrency: { type: "string", description: "Client concurrency (default 16)" },
    rpm: { type: "string", description: "Client RPM limit (default: the server's)" },
    tpm: { type: "string", description: "Client TPM limit (default: the server's)" },
    "server-rpm": { type: "string", description: "Server-side RPM limit, enforced over 10 s windows" },
    "server-tpm": { type: "string", description: "Server-side TPM limit, enforced over 10 s windows" },
    "fault-every": { type: "string", description: "Answer every Nth request with a 500 (and every N+1th with a 429)" },
    compare: { type: "boolean", description: "Also run the hand-written AI SDK script (bench/ai-sdk.ts) on the same scenario" },
    cached: { type: "string", description: "Instead: time a fully cached rerun of N services against reading its entries with unstorage alone" },
    rss: { type: "string", description: "Instead: peak RSS of runs of N services with the synthetic model (comma-separated counts)" },
    list: { type: "boolean", description: "Instead: time `bun scripts/index.ts list` (10 runs)" },
    data: { type: "string", description: "Data folder (default fixtures/data)" },
    workers: { type: "string", description: "Worker process counts to compare on a BullMQ queue, e.g. 1,2,4 (needs redis-server; --concurrency is per worker)" },
    json: { type: "boolean", description: "Print the figures as one JSON object" },
    verbose: sharedArgs.verbose,
    quiet: sharedArgs.quiet,
  },
  async run({ args }) {
    const data = resolve(args.data ?? join(import.meta.dir, "..", "fixtures", "data"));
    const dir = mkdtempSync(join(tmpdir(), "sa-bench-"));
    try {
      if (args.workers !== undefined) return await workersMode({ ...args, workers: args.workers }, dir);
      let report: Report;
      if (args.cached !== undefined) report = await cachedReport(positive("cached", args.cached)!, data, dir);
      else if (args.rss !== undefined) report = await rssReport(args.rss.split(",").map((n) => positive("rss", n)!), data, dir);
      else if (args.list) report = await listReport(10);
      else {
        const serverRpm = positive("server-rpm", args["server-rpm"]);
        const serverTpm = positive("server-tpm", args["server-tpm"]);
        const scenario: Scenario = {
          services: positive("services", args.services, 20)!,
          latencyMs: positive("latency", args.latency, 200)!,
          concurrency: positive("concurrency", args.concurrency, 16)!,
          rpm: positive("rpm", args.rpm, serverRpm),
          tpm: positive("tpm", args.tpm, serverTpm),
          serverRpm,
          serverTpm,
          faultEvery: positive("fault-every", args["fault-every"]),
          data,
        };
        const sides = [await runSide("ours", scenario, dir)];
        if (args.compare) sides.push(await runSide("ai-sdk", scenario, dir));
        report = scenarioReport(scenario, sides);
      }
      void writeStdout(args.json ? `${JSON.stringify(report.figures)}\n` : `${report.lines.join("\n")}\n`);
      return 0;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
