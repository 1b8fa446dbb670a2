import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { tryLock } from "../lib/file-lock.ts";
import { fixtureData, makeServices, onSmallDisk, root, runScript, scriptEnv, tempDir, writeJsonl } from "./helpers.ts";

/** What a script wired into a Makefile or CI step relies on: exit codes, one JSON object on stdout, one clear line on stderr. */

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ latencyMs: 1 });
});
afterAll(() => server.stop());

const oneJson = (stdout: string) => {
  const lines = stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
};

describe("preflight --json in a job's log", () => {
  test("no --input at all is exit 2, as run exits, not 1 as for a bad line", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const args = ["--model", "synthetic:demo", "--data", fixtureData];
      const run = await runScript("run", [...args, "--output", "out.jsonl"], { cwd: dir });
      expect(run.code).toBe(2);
      const preflight = await runScript("preflight", [...args, "--json"], { cwd: dir });
      expect(preflight.code).toBe(2);
      expect(oneJson(preflight.stdout).checks).toContainEqual({ name: "input", ok: false, detail: "no --input given", code: "E_USAGE" });
    } finally {
      cleanup();
    }
  });

  test("a failed check is named on stderr too, not only in the JSON on stdout", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const bad = await runScript("preflight", ["--json", "--concurrency", "abc"], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(oneJson(bad.stdout).ok).toBe(false);
      expect(bad.stderr.trim().split("\n")).toEqual(['✖ config: --concurrency: expected a positive whole number, got "abc"']);

      const input = join(root, "fixtures/services-with-bad-lines.jsonl");
      const lines = await runScript("preflight", ["--json", "--quiet", "--input", input, "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(lines.code).toBe(1);
      expect(oneJson(lines.stdout).ok).toBe(false);
      expect(lines.stderr).toContain(`✖ ${input}:2: invalid JSON`);
      expect(lines.stderr).toContain(`✖ ${input}:3: name:`);

      const good = await runScript("preflight", ["--json", "--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(good.code).toBe(0);
      expect(oneJson(good.stdout).ok).toBe(true);
      expect(good.stderr).toBe("");
    } finally {
      cleanup();
    }
  });
});

describe("preflight --output", () => {
  test("writes the report to the file (the --json object with --json, which stdout still gets); a file that cannot be written is exit 2", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const common = ["--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData, "--model", "synthetic:demo"];
      const json = await runScript("preflight", [...common, "--json", "--output", "out/preflight.json"], { cwd: dir });
      expect(json.code).toBe(0);
      expect(oneJson(json.stdout).ok).toBe(true);
      expect(JSON.parse(readFileSync(join(dir, "out/preflight.json"), "utf8"))).toEqual(JSON.parse(json.stdout));
      const text = await runScript("preflight", [...common, "-o", "preflight.txt"], { cwd: dir });
      expect(text.code).toBe(0);
      expect(text.stdout).toBe("");
      expect(readFileSync(join(dir, "preflight.txt"), "utf8")).toEndWith("preflight passed\n");
      writeFileSync(join(dir, "afile"), "x\n");
      const bad = await runScript("preflight", [...common, "--json", "-o", "afile/preflight.json"], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(oneJson(bad.stdout)).toMatchObject({ status: "error", code: "E_USAGE" });
      expect(bad.stderr).toContain("✖ --output afile/preflight.json: cannot be written");
    } finally {
      cleanup();
    }
  });
});

describe("config and SA_* variables under flags, in every task", () => {
  test("check: SA_STRICT and config strict make warnings fail, as --strict does (run and map read them already)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      // Two findings, both warnings with this severity.
      const input = join(root, "fixtures/review/check-two-findings.jsonl");
      const severity = { checks: { severity: { "missing-role": "warning" } } };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(severity));
      const plain = await runScript("check", ["--input", input, "--json"], { cwd: dir });
      const summary = oneJson(plain.stdout);
      expect(summary.warnings).toBeGreaterThan(0);
      expect(summary.errors).toBe(0);
      expect(plain.code).toBe(0);
      const env = await runScript("check", ["--input", input, "--json"], { cwd: dir, env: { SA_STRICT: "true" } });
      expect(env.code).toBe(1);
      expect(oneJson(env.stdout).strict).toBe(true);
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ ...severity, strict: true }));
      const file = await runScript("check", ["--input", input, "--json"], { cwd: dir });
      expect(file.code).toBe(1);
      expect(oneJson(file.stdout).strict).toBe(true);
    } finally {
      cleanup();
    }
  });
});

/** Whether the process catches SIGTERM yet (Linux: the SigCgt mask in /proc). */
const catchesSigterm = (pid: number) => {
  const mask = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
  return (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
};

describe("--json when a task is interrupted", () => {
  test.each([
    ["export", ["--input", "-", "--output", "out.csv"]],
    ["check", ["--input", "-"]],
    ["diff", ["-", join(root, "fixtures/review/diff-old.jsonl")]],
  ])("%s: SIGTERM while it reads is exit 143 with one JSON object on stdout", async (task, args) => {
    const { dir, cleanup } = tempDir();
    try {
      // stdin stays open: the task waits on its input until the signal.
      const proc = Bun.spawn(["bun", join(root, "scripts", `${task}.ts`), ...(args as string[]), "--json"], { cwd: dir, env: scriptEnv({}), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const deadline = Date.now() + 3_000;
      while (!catchesSigterm(proc.pid) && Date.now() < deadline) await Bun.sleep(20);
      await Bun.sleep(100);
      proc.kill("SIGTERM");
      const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(143);
      expect(oneJson(stdout)).toEqual({ status: "interrupted", exitCode: 143, stopReason: "SIGTERM received" });
    } finally {
      cleanup();
    }
  });
});

describe("stdin read once", () => {
  test("map --input - --service-file - is exit 2 with one line at once (it spun forever reading stdin a second time)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const proc = Bun.spawn(["bun", join(root, "scripts/map.ts"), "--input", "-", "--service-file", "-", "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, env: scriptEnv({}), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 4000);
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      expect(code).toBe(2);
      expect(oneJson(stdout)).toMatchObject({ status: "error", code: "E_USAGE" });
      expect(stderr.trim()).toBe("✖ --service-file - and --input - cannot both read stdin: give one of them as a file");
    } finally {
      cleanup();
    }
  });
});

describe("a cache store that cannot be reached", () => {
  test("batch list names the store in one line, exit 1 (E_CACHE), as cache stats does (it said 'unexpected error: Reached the max retries')", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { SA_CACHE__DRIVER: "redis", SA_CACHE__URL: "redis://127.0.0.1:9" };
      const result = await runScript("batch", ["list", "--json"], { cwd: dir, env });
      expect(result.code).toBe(1);
      expect(oneJson(result.stdout)).toMatchObject({ status: "error", exitCode: 1, code: "E_CACHE" });
      expect(result.stderr.trim()).toBe("✖ batch list: redis redis://127.0.0.1:9 failed (connect ECONNREFUSED 127.0.0.1:9)");
      const stats = await runScript("cache", ["stats", "--json"], { cwd: dir, env });
      expect(stats.code).toBe(1);
      expect(stats.stderr.trim()).toBe("✖ cache stats: redis redis://127.0.0.1:9 failed (connect ECONNREFUSED 127.0.0.1:9)");
    } finally {
      cleanup();
    }
  });
});

describe("export to stdout", () => {
  test("--json with --output - is exit 2 with one line, and only the error object on stdout: a summary line would corrupt the CSV, XLSX or HTML", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(root, "fixtures/python/evolutions.jsonl");
      for (const format of ["csv", "xlsx", "html"]) {
        const result = await runScript("export", ["--input", input, "--output", "-", "--format", format, "--json"], { cwd: dir });
        expect(result.code).toBe(2);
        expect(oneJson(result.stdout)).toMatchObject({ status: "error", exitCode: 2, code: "E_USAGE" });
        expect(result.stderr.trim()).toBe("✖ --json needs --output FILE: with --output - its summary would land inside the export");
      }
      const csv = await runScript("export", ["--input", input, "--output", "-", "--format", "csv"], { cwd: dir });
      expect(csv.code).toBe(0);
      expect(csv.stdout.replace(/^\uFEFF/, "").startsWith("service_id,")).toBe(true);
      const file = await runScript("export", ["--input", input, "--output", "out.csv", "--json"], { cwd: dir });
      expect(file.code).toBe(0);
      expect(oneJson(file.stdout)).toMatchObject({ format: "csv", files: ["out.csv"] });
    } finally {
      cleanup();
    }
  });
});

describe("a run whose books cannot be kept", () => {
  test.each(["run", "map"])("%s: a ledger folder that cannot be made is exit 2 with one line, before any call", async (task) => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "state"), "a file where the state folder should be\n");
      const input = task === "run" ? writeJsonl(join(dir, "in.jsonl"), makeServices(2)) : join(root, "fixtures/python/evolutions.jsonl");
      const before = server.requests.length;
      const env = { SA_LEDGER__PATH: join(dir, "state/usage.json") };
      const result = await runScript(task, ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url, env });
      expect(result.code).toBe(2);
      expect(oneJson(result.stdout)).toMatchObject({ status: "error", exitCode: 2, code: "E_CONFIG" });
      const errors = result.stderr.split("\n").filter((l) => l.startsWith("✖"));
      expect(errors).toEqual([`✖ ledger ${env.SA_LEDGER__PATH}: folder ${join(dir, "state")} cannot be written (a parent is a file, not a folder); run from a writable folder or set ledger.path (SA_LEDGER__PATH)`]);
      expect(server.requests.length).toBe(before);
      expect(existsSync(join(dir, "out.jsonl"))).toBe(false);
    } finally {
      cleanup();
    }
  });

  test("a quarantine folder that cannot be made is exit 2 with one line, before any call", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "q"), "a file\n");
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url, env: { SA_QUARANTINE_DIR: "q/runs" } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("✖ quarantineDir q/runs: cannot be written (a parent is a file, not a folder)");
      expect(server.requests.length).toBe(before);
    } finally {
      cleanup();
    }
  });
});

describe("a disk that fills up during a run", () => {
  test.skipIf(process.getuid?.() !== 0)("stops the run with one line and exit 1, before paying for every other service; no stack trace", async () => {
    await onSmallDisk(200, async ({ dir, disk }) => {
      // Room for the start-up probe and a few journal lines, not for ten services.
      writeFileSync(join(disk, "filler"), Buffer.alloc(150 * 1024));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(10));
      const before = server.requests.length;
      const env = { SA_CACHE__DRIVER: "memory" };
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "2", "--json"], { cwd: disk, baseURL: server.url, env });
      expect(result.code).toBe(1);
      expect(oneJson(result.stdout)).toMatchObject({ status: "error", exitCode: 1, code: "E_WRITE" });
      expect(result.stderr).toContain("✖ cannot write to the disk: no space left on the device; stopped before paying for more calls");
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toContain("ENOSPC: no space left on device, write\n");
      expect(server.requests.length - before).toBeLessThan(10 * 21);
      // The ledger's lock is not left behind empty: the next run is not told another holds it.
      expect(existsSync(join(disk, ".sa/usage.json.lock"))).toBe(false);
    });
  });

  test.skipIf(process.getuid?.() !== 0)("export: a full disk is one line naming it, exit 1 (E_WRITE), and the file it replaces is left as it was", async () => {
    await onSmallDisk(64, async ({ dir, disk }) => {
      writeFileSync(join(disk, "report.csv"), "the last good export\n");
      const evolutions = join(dir, "evolutions.jsonl");
      const line = readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n")[0]!;
      const one = JSON.parse(line);
      // Far more than 64 KiB of CSV.
      writeFileSync(evolutions, Array.from({ length: 400 }, (_, i) => JSON.stringify({ ...one, service: { ...one.service, service_id: `S${i}` } })).join("\n") + "\n");
      const result = await runScript("export", ["--input", evolutions, "--output", join(disk, "report.csv"), "--json"], { cwd: dir });
      expect(result.code).toBe(1);
      expect(oneJson(result.stdout)).toMatchObject({ status: "error", exitCode: 1, code: "E_WRITE" });
      expect(result.stderr.trim()).toBe(`✖ cannot write to the disk: no space left on the device; ${join(disk, "report.csv")} is left as it was`);
      expect(readFileSync(join(disk, "report.csv"), "utf8")).toBe("the last good export\n");
    });
  });

  test.skipIf(process.getuid?.() !== 0)("a lock file whose owner cannot be written is not left behind, empty, to hold off the next run", async () => {
    await onSmallDisk(64, ({ disk }) => {
      try {
        writeFileSync(join(disk, "filler"), Buffer.alloc(128 * 1024));
      } catch {
        // full now: a new file is still made, its first byte is not written
      }
      expect(() => tryLock(join(disk, "usage.json.lock"), '{"pid":1}\n')).toThrow("ENOSPC");
      expect(existsSync(join(disk, "usage.json.lock"))).toBe(false);
    });
  });
});

/** `dir` mounted read-only over itself (root only); undefined where mounting is not allowed. */
function mountReadOnly(dir: string): (() => void) | undefined {
  if (Bun.spawnSync(["mount", "--bind", dir, dir], { stderr: "ignore" }).exitCode !== 0) return undefined;
  if (Bun.spawnSync(["mount", "-o", "remount,ro,bind", dir], { stderr: "ignore" }).exitCode !== 0) {
    Bun.spawnSync(["umount", dir]);
    return undefined;
  }
  return () => void Bun.spawnSync(["umount", dir]);
}

describe("a cache folder that cannot be written", () => {
  test.skipIf(process.getuid?.() !== 0)("run says once that this run's answers go uncached (not that only some entries do), reads what is there, and writes every service", async () => {
    const { dir, cleanup } = tempDir();
    let unmount: (() => void) | undefined;
    try {
      const args = (input: string, out: string) => ["--input", input, "--output", out, "--data", fixtureData, "--concurrency", "2"];
      expect((await runScript("run", args(writeJsonl(join(dir, "one.jsonl"), makeServices(1)), "one-out.jsonl"), { cwd: dir, baseURL: server.url })).code).toBe(0);
      unmount = mountReadOnly(join(dir, ".sa", "cache"));
      if (!unmount) return console.warn("skipped: a read-only bind mount cannot be made here");
      const result = await runScript("run", args(writeJsonl(join(dir, "two.jsonl"), makeServices(2)), "two-out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(readFileSync(join(dir, "two-out.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
      expect(result.stderr.match(/cache: the store \(fs [^\n]*\) cannot be written \([^\n]*read-only[^\n]*\); this run's answers go uncached, and a rerun pays for them again/g)).toHaveLength(1);
      expect(result.stderr).not.toContain("only such entries go uncached");
      expect(result.stderr).toMatch(/21 cached/);
    } finally {
      unmount?.();
      cleanup();
    }
  });
});

describe("a cache folder under a file (a cache_dir whose parent is a file)", () => {
  test("run says once that this run's answers go uncached, and preflight names the cause, not the temp file's cleanup", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "afile"), "");
      const env = { SA_CACHE__BASE: join(dir, "afile", "cache") };
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, env });
      expect(result.code).toBe(0);
      expect(result.stderr.match(/cache: the store \(fs [^\n]*\) cannot be written \([^\n]*\); this run's answers go uncached/g)).toHaveLength(1);
      expect(result.stderr).not.toContain("only such entries go uncached");
      const preflight = await runScript("preflight", ["--model", "synthetic:demo", "--input", input, "--data", fixtureData], { cwd: dir, env });
      const line = preflight.stdout.split("\n").find((l) => l.startsWith("✖ cache:"));
      expect(line).toContain("not a directory");
      expect(line).not.toContain("EFAULT");
    } finally {
      cleanup();
    }
  });
  test("with --cache-mode off a run touches no store, so preflight's cache check passes as the run does", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "afile"), "");
      const env = { SA_CACHE__BASE: join(dir, "afile", "cache") };
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const args = ["--model", "synthetic:demo", "--input", input, "--data", fixtureData, "--cache-mode", "off"];
      const run = await runScript("run", [...args, "--output", "out.jsonl"], { cwd: dir, env });
      expect(run.code).toBe(0);
      expect(run.stderr).not.toContain("cannot be written");
      const preflight = await runScript("preflight", args, { cwd: dir, env });
      expect(preflight.stdout).toContain(`✔ cache: off: a run reads and writes nothing in fs ${join(dir, "afile", "cache")}\n`);
      expect(preflight.code).toBe(0);
      // Batches are kept in the store even with the cache off: preflight --batch still probes it.
      const batch = await runScript("preflight", [...args, "--batch"], { cwd: dir, env });
      expect(batch.stdout).toContain("✖ cache:");
      expect(batch.code).toBe(1);
    } finally {
      cleanup();
    }
  });
});
