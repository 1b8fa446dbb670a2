import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { measure, type Measured } from "./child.ts";
import { spawnServer, type ServerStats } from "./server.ts";

const root = join(import.meta.dir, "..");

export interface Scenario {
  services: number;
  latencyMs: number;
  concurrency: number;
  /** Client limits (ours only: the AI SDK script has none). */
  rpm?: number;
  tpm?: number;
  serverRpm?: number;
  serverTpm?: number;
  faultEvery?: number;
  data: string;
}

export interface SideResult extends Measured {
  side: "ours" | "ai-sdk";
  server: ServerStats;
  /** Calls the run made (from our --json summary; the server's answered count for the script). */
  calls: number;
  retries: number;
  status: string;
}

export function writeServices(path: string, count: number): string {
  const line = (i: number) => JSON.stringify({ service_id: `B${i + 1}`, name: `Bench service ${i + 1}`, description: `Generated service ${i + 1}.`, jobs_to_be_done: ["Get things done"] });
  writeFileSync(path, Array.from({ length: count }, (_, i) => `${line(i)}\n`).join(""));
  return path;
}

function oursCommand(dir: string, s: Scenario): string[] {
  writeFileSync(
    join(dir, "service-ambitions.config.json"),
    JSON.stringify({
      dataDir: s.data,
      model: "openai:gpt-4o-mini",
      cacheMode: "off",
      concurrency: s.concurrency,
      ...(s.rpm ? { rpm: s.rpm } : {}),
      ...(s.tpm ? { tpm: s.tpm } : {}),
      cache: { driver: "memory" },
      retry: { attempts: 6, baseMs: 100, capMs: 2000 },
    }),
  );
  return ["bun", join(root, "scripts", "run.ts"), "--input", "services.jsonl", "--output", "out.jsonl", "--json", "--quiet"];
}

const aiSdkCommand = (s: Scenario) => ["bun", join(root, "bench", "ai-sdk.ts"), "--input", "services.jsonl", "--output", "out.jsonl", "--data", s.data, "--concurrency", String(s.concurrency)];

/** One side of a scenario against a fresh test server, in a folder of its own. */
export async function runSide(side: SideResult["side"], s: Scenario, dir: string): Promise<SideResult> {
  const work = join(dir, side);
  mkdirSync(work, { recursive: true });
  writeServices(join(work, "services.jsonl"), s.services);
  const server = await spawnServer({ latencyMs: s.latencyMs, rpm: s.serverRpm, tpm: s.serverTpm, windowMs: 10_000, faultEvery: s.faultEvery });
  try {
    const cmd = side === "ours" ? oursCommand(work, s) : aiSdkCommand(s);
    const run = await measure(cmd, { cwd: work, env: { OPENAI_API_KEY: "sk-bench-local", OPENAI_BASE_URL: server.url } });
    const stats = await server.stats();
    if (side === "ai-sdk") return { ...run, side, server: stats, calls: stats.answered, retries: stats.requests - stats.answered, status: run.code === 0 ? "ok" : `exit ${run.code}` };
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1) || "{}") as { status?: string; totals?: { liveCalls: number; retries: number } };
    return { ...run, side, server: stats, calls: summary.totals?.liveCalls ?? 0, retries: summary.totals?.retries ?? 0, status: summary.status ?? `exit ${run.code}: ${run.stderr.trim().split("\n").at(-1)}` };
  } finally {
    await server.stop();
  }
}

/** The best any client could do: the longest of the critical path, the concurrency, RPM and TPM bounds. */
export function idealBound(s: Scenario, calls: number, tokens: number) {
  const parts = {
    "critical path": 3 * s.latencyMs,
    "calls×latency÷concurrency": (calls * s.latencyMs) / s.concurrency,
    ...(s.rpm ? { "calls÷RPM": (calls / s.rpm) * 60_000 } : {}),
    ...(s.tpm ? { "tokens÷TPM": (tokens / s.tpm) * 60_000 } : {}),
  };
  return { ms: Math.max(...Object.values(parts)), parts };
}
