import { expect } from "bun:test";
import { constants, mkdtempSync, mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { readLedger } from "../lib/ledger.ts";
import { createLog, silentLog, type Log } from "../lib/log.ts";
import { createRuntime, type Runtime } from "../lib/runtime.ts";
import type { ConfigInput } from "../lib/schema/config.ts";

export const root = resolve(import.meta.dir, "..");
export const fixtureData = join(root, "fixtures", "data");
export const fixtureServices = join(root, "fixtures", "services.jsonl");
export const testKey = "sk-test-SECRET-0123456789abcdef";

/** A temporary folder, removed by the returned function. */
export function tempDir(prefix = "sa-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeJsonl(path: string, rows: unknown[]): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, rows.map((r) => `${typeof r === "string" ? r : JSON.stringify(r)}\n`).join(""));
  return path;
}

export function makeServices(n: number, prefix = "SVC"): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    service_id: `${prefix}${String(i + 1).padStart(3, "0")}`,
    name: `Service ${i + 1}`,
    description: `A generated service number ${i + 1}.`,
    jobs_to_be_done: [`Job ${i + 1}`],
  }));
}

/** A runtime for in-process tests: fixture data, a cache in `dir`, the local server's URL. */
export async function testRuntime(dir: string, options: { config?: ConfigInput; baseURL?: string; log?: Log; dryRun?: boolean; task?: string } = {}): Promise<Runtime> {
  const config = await loadConfig({
    cwd: dir,
    env: {},
    overrides: {
      dataDir: fixtureData,
      model: "openai:gpt-4o-mini",
      cache: { driver: "fs", base: join(dir, ".sa/cache") },
      quarantineDir: join(dir, ".sa/quarantine"),
      ledger: { path: join(dir, ".sa/usage.json") },
      retry: { attempts: 4, baseMs: 10, capMs: 200 },
      ...(options.config as Record<string, unknown>),
    },
  });
  return createRuntime({
    task: options.task ?? "run",
    config,
    log: options.log ?? silentLog,
    env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: options.baseURL },
    dryRun: options.dryRun,
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment a script runs with in tests: CI mode, the test key, the local server's URL. */
export function scriptEnv(options: { env?: Record<string, string | undefined>; baseURL?: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, CI: "true", OPENAI_API_KEY: testKey, OPENAI_BASE_URL: options.baseURL, ...options.env })) if (v !== undefined) env[k] = v;
  return env;
}

/** Starts a script as a user would and returns the process, to signal or kill it mid-run. */
export function spawnScript(script: string, args: string[], options: { cwd: string; env?: Record<string, string | undefined>; baseURL?: string }) {
  return Bun.spawn(["bun", join(root, "scripts", `${script}.ts`), ...args], { cwd: options.cwd, env: scriptEnv(options), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
}

/** Runs a script as a user would, in `cwd`, with the test key and the local server's URL. */
export async function runScript(script: string, args: string[], options: { cwd: string; env?: Record<string, string | undefined>; baseURL?: string }): Promise<CliResult> {
  const proc = spawnScript(script, args, options);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** The pid of a process that has already ended, so nothing runs under it. */
export async function deadPid(): Promise<number> {
  const proc = Bun.spawn(["true"]);
  await proc.exited;
  return proc.pid;
}

/** The error a promise rejects with (bun's `expect(promise).rejects` can misreport). */
export async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

/** Polls `ready` every 5 ms until it holds; throws naming `what` after `ms`. */
export async function until(ready: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/**
 * Ctrl-C on a run whose calls wait for their pace, once its first answer is in: it exits 130
 * within 10 s, sends nothing after the signal, and its ledger record counts the requests sent.
 */
export async function interruptWhilePaced(proc: ReturnType<typeof spawnScript>, server: { answered: number; requests: unknown[] }, dir: string): Promise<void> {
  await until(() => server.answered >= 1, "the first answer");
  await Bun.sleep(500);
  const sent = server.requests.length;
  const signalled = Date.now();
  proc.kill("SIGINT");
  expect(await proc.exited).toBe(130);
  expect(Date.now() - signalled).toBeLessThan(10_000);
  expect(server.requests.length).toBe(sent);
  const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
  expect(run.status).toBe("interrupted");
  expect(run.totals.requests).toBe(sent);
}

/**
 * Runs `body` with a tmpfs of `kb` KiB mounted at `disk`, inside a temporary folder `dir` (root
 * only); unmounted and removed after. Where mounting is not allowed it only warns, and `body` is not run.
 */
export async function onSmallDisk(kb: number, body: (where: { dir: string; disk: string }) => Promise<void> | void): Promise<void> {
  const { dir, cleanup } = tempDir();
  const disk = join(dir, "disk");
  mkdirSync(disk, { recursive: true });
  if (Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${kb}k`, "tmpfs", disk], { stderr: "ignore" }).exitCode !== 0) {
    cleanup();
    return console.warn("skipped: tmpfs cannot be mounted here");
  }
  try {
    await body({ dir, disk });
  } finally {
    Bun.spawnSync(["umount", disk]);
    cleanup();
  }
}

/** Opens a FIFO for writing once a reader has it open (a non-blocking open fails before that). */
export async function openWhenRead(fifo: string): Promise<number> {
  let fd: number | undefined;
  await until(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch {
      return false;
    }
  }, `${fifo} to be read`);
  return fd!;
}

export { createLog };

/**
 * Runs a task in a pseudo-terminal, as from a shell: `script` gives its stdout and stderr one
 * terminal, and "\x03" written to stdin is a Ctrl-C. CI is unset, the terminal 100 columns wide,
 * and the test server at `baseURL` answers with the test key.
 */
export function runInTerminal(task: string, args: string[], options: { cwd: string; baseURL: string }) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "CI") env[k] = v;
  Object.assign(env, { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: options.baseURL, COLUMNS: "100" });
  const command = ["bun", join(root, "scripts", `${task}.ts`), ...args].join(" ");
  return Bun.spawn(["script", "-q", "-e", "-c", command, "/dev/null"], { cwd: options.cwd, env, stdout: "pipe", stderr: "pipe", stdin: "pipe" });
}
