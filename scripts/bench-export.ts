#!/usr/bin/env bun
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SAError } from "../lib/errors.ts";
import { formats } from "../lib/export/export.ts";
import { formatBytes, formatCount } from "../lib/format.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { sharedArgs } from "./_args.ts";
import { writeStdout } from "../lib/stdout.ts";

const root = resolve(import.meta.dir, "..");
const GiB = 1024 ** 3;

interface Measure {
  format: string;
  peakRssBytes: number;
  wallSeconds: number;
  fileBytes: number;
  underOneGiB: boolean;
}

async function exec(command: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn(command, { cwd, stdout: "pipe", stderr: "pipe" });
  const [, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}

/** The generated services and their evolutions from the synthetic model, cache off. */
async function evolutionsFor(services: number, dir: string, data: string): Promise<string> {
  const input = join(dir, "services.jsonl");
  const lines = Array.from({ length: services }, (_, i) => JSON.stringify({ service_id: `S${String(i + 1).padStart(6, "0")}`, name: `Service ${i + 1}`, description: `A generated service number ${i + 1}.`, jobs_to_be_done: [`Job ${i + 1}`] }));
  writeFileSync(input, `${lines.join("\n")}\n`);
  const output = join(dir, "evolutions.jsonl");
  const run = await exec(["bun", join(root, "scripts/run.ts"), "--model", "synthetic:demo", "--input", input, "--output", output, "--data", data, "--cache-mode", "off", "--quiet"], dir);
  if (run.code !== 0) throw new SAError("E_USAGE", `bench-export: the run failed (exit ${run.code}): ${run.stderr.trim().split("\n").at(-1)}`);
  return output;
}

/** One export under `/usr/bin/time -v`: its peak resident set size and wall time. */
async function measure(input: { format: string; evolutions: string; dir: string; data: string }): Promise<Measure> {
  const output = join(input.dir, `export.${input.format}`);
  // time writes its report to a file: the stderr pipe it shares with bun is non-blocking, and a
  // report written there can be cut short (time then exits 1).
  const report = join(input.dir, `time.${input.format}.txt`);
  const result = await exec(["/usr/bin/time", "-o", report, "-v", "bun", join(root, "scripts/export.ts"), "--input", input.evolutions, "--output", output, "--data", input.data, "--quiet"], input.dir);
  if (result.code !== 0) throw new SAError("E_USAGE", `bench-export: export to ${input.format} failed (exit ${result.code}): ${result.stderr.trim().split("\n")[0]}`);
  const timed = readFileSync(report, "utf8");
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timed)?.[1] ?? Number.NaN) * 1024;
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/.exec(timed)?.[1] ?? "0";
  const wallSeconds = wall.split(":").reduce((s, part) => s * 60 + Number(part), 0);
  return { format: input.format, peakRssBytes: rss, wallSeconds, fileBytes: statSync(output).size, underOneGiB: rss < GiB };
}

interface BenchPlan {
  dir: string;
  services: number;
  chosen: string[];
  evolutions?: string;
  data?: string;
  json?: boolean;
  kept: boolean;
  log: { info(message: string): void };
}

/** Generates (or takes) the evolutions, measures each export in `dir`, and prints the figures. */
async function benchIn(plan: BenchPlan): Promise<number> {
  const { dir, log } = plan;
  const data = resolve(plan.data ?? join(root, "fixtures/data"));
  log.info(`bench-export: ${plan.evolutions ? `exporting ${plan.evolutions}` : `generating ${formatCount(plan.services)} services`} in ${dir}${plan.kept ? "" : " (removed at the end; --dir keeps it)"}`);
  const evolutions = plan.evolutions ? resolve(plan.evolutions) : await evolutionsFor(plan.services, dir, data);
  const results: Measure[] = [];
  for (const format of plan.chosen) results.push(await measure({ format, evolutions, dir, data }));
  if (plan.json) await writeStdout(`${JSON.stringify({ evolutions, evolutionsBytes: statSync(evolutions).size, results })}\n`);
  else {
    const lines = results.map((r) => `${r.format.padEnd(6)}${formatBytes(r.peakRssBytes).padStart(12)}${`${r.wallSeconds.toFixed(1)} s`.padStart(10)}${formatBytes(r.fileBytes).padStart(12)}  ${r.underOneGiB ? "under 1 GiB" : "OVER 1 GiB"}`);
    await writeStdout(`input ${evolutions} (${formatBytes(statSync(evolutions).size)})\nformat   peak RSS      wall        file\n${lines.join("\n")}\n`);
  }
  return results.every((r) => r.underOneGiB) ? 0 : 1;
}

const task = defineTask({
  meta: taskMeta["bench-export"],
  args: {
    services: { type: "string", description: "Generated services (default 10000)" },
    formats: { type: "string", description: `Comma-separated formats (default xlsx,html; all for ${formats.join(",")})` },
    evolutions: { type: "string", description: "Export this evolutions file instead of generating one" },
    dir: { type: "string", description: "Working folder, kept (default: a new temporary folder, removed at the end)" },
    data: { type: "string", description: "Data folder (default fixtures/data)" },
    json: { type: "boolean", description: "Print the figures as one JSON object" },
    verbose: sharedArgs.verbose,
    quiet: sharedArgs.quiet,
  },
  async run({ args, log }) {
    if (!existsSync("/usr/bin/time")) throw new SAError("E_USAGE", "bench-export needs GNU time at /usr/bin/time (apt-get install time)");
    const services = Number(args.services ?? 10_000);
    if (!Number.isInteger(services) || services < 1) throw new SAError("E_USAGE", `--services: expected a whole number, got "${args.services}"`);
    const chosen = (args.formats ?? "xlsx,html") === "all" ? [...formats] : (args.formats ?? "xlsx,html").split(",");
    const unknown = chosen.filter((f) => !(formats as readonly string[]).includes(f));
    if (unknown.length) throw new SAError("E_USAGE", `--formats: unknown "${unknown[0]}" (known: ${formats.join(", ")}, all)`);
    // A folder of our own (10,000 services leave about 2 GB of evolutions and exports) goes at the end; --dir keeps its files.
    const dir = resolve(args.dir ?? mkdtempSync(join(tmpdir(), "sa-bench-export-")));
    mkdirSync(dir, { recursive: true });
    try {
      return await benchIn({ dir, services, chosen, evolutions: args.evolutions, data: args.data, json: args.json, log, kept: args.dir !== undefined });
    } finally {
      if (args.dir === undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
