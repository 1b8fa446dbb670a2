import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, scriptEnv, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** Runs a shell pipeline in `cwd` with the scripts' test environment; returns its stdout. */
async function shell(command: string, cwd: string, baseURL: string): Promise<{ stdout: string; stderr: string; code: number }> {
  const proc = Bun.spawn(["bash", "-c", command], { cwd, env: scriptEnv({ baseURL }), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

describe("--output - through a pipe", () => {
  test("a slow reader gets every byte: the same size as the file output, the same lines (run and map)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(12));
      const args = `--input ${q(input)} --data ${q(fixtureData)} --quiet`;
      const file = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url });
      expect(file.code).toBe(0);
      const size = statSync(join(dir, "out.jsonl")).size;
      expect(size).toBeGreaterThan(64 * 1024 * 2);
      // The acceptance pipeline, as written in the issue; the answers come from the cache.
      const counted = await shell(`bun ${q(join(root, "scripts/run.ts"))} ${args} --output - | (sleep 1; cat) | wc -c`, dir, server.url);
      expect(Number(counted.stdout.trim())).toBe(size);
      const piped = await shell(`set -o pipefail; bun ${q(join(root, "scripts/run.ts"))} ${args} --output - | (sleep 1; cat) > piped.jsonl`, dir, server.url);
      expect(piped.code).toBe(0);
      const sorted = (path: string) => readFileSync(join(dir, path), "utf8").trim().split("\n").sort();
      expect(sorted("piped.jsonl")).toEqual(sorted("out.jsonl"));
      // map streams through the same writer.
      expect((await runScript("map", ["--input", "out.jsonl", "--output", "mapped.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const mapped = await shell(`bun ${q(join(root, "scripts/map.ts"))} --input out.jsonl --data ${q(fixtureData)} --quiet --output - | (sleep 1; cat) | wc -c`, dir, server.url);
      expect(Number(mapped.stdout.trim())).toBe(statSync(join(dir, "mapped.jsonl")).size);
    } finally {
      cleanup();
    }
  });

  test("a reader that goes away (EPIPE) stops the run like SIGTERM: exit 141, no crash, the ledger says interrupted", async () => {
    const slow = startTestServer({ latencyMs: 40 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(8));
      const command = `bun ${q(join(root, "scripts/run.ts"))} --input ${q(input)} --data ${q(fixtureData)} --output - --concurrency 4 | head -c 100 > /dev/null; echo "exit=\${PIPESTATUS[0]}"`;
      const result = await shell(command, dir, slow.url);
      const code = Number(/exit=(\d+)/.exec(result.stdout)?.[1]);
      expect([141, 143]).toContain(code);
      expect(result.stderr).not.toContain("unexpected error");
      expect(result.stderr).toContain("stdout closed (EPIPE)");
      expect(slow.requests.length).toBeLessThan(8 * 21); // it stopped rather than running on
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("interrupted");
      expect(run.stopReason).toContain("EPIPE");
      expect(run.totals.liveCalls).toBe(slow.answered);
      // The journal was folded: nothing left to recover.
      const journal = join(dir, ".sa/journal");
      expect(existsSync(journal) ? readdirSync(journal) : []).toEqual([]);
    } finally {
      cleanup();
      await slow.stop();
    }
  });

  test("a --json summary or report to a reader already gone is no crash (every task writes stdout through lib/stdout.ts)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      // `true` has exited long before the run writes its summary: the write meets EPIPE.
      const run = await shell(`bun ${q(join(root, "scripts/run.ts"))} --input ${q(input)} --data ${q(fixtureData)} --output out.jsonl --json --quiet | true; echo "exit=\${PIPESTATUS[0]}"`, dir, server.url);
      expect(run.stdout.trim()).toBe("exit=0");
      expect(run.stderr).not.toContain("EPIPE");
      expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
      // A report task: its exit code is its own (check says 1 when it finds something), never a crash.
      const check = await shell(`bun ${q(join(root, "scripts/check.ts"))} --input out.jsonl --data ${q(fixtureData)} | true; echo "exit=\${PIPESTATUS[0]}"`, dir, server.url);
      expect(check.stderr).not.toContain("EPIPE");
      expect(check.stdout.trim()).toMatch(/^exit=[01]$/);
    } finally {
      cleanup();
    }
  });

  test("export flushes stdout through a slow pipe too", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(12));
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      await runScript("export", ["--input", "out.jsonl", "--output", "report.html"], { cwd: dir });
      const size = statSync(join(dir, "report.html")).size;
      expect(size).toBeGreaterThan(64 * 1024);
      const counted = await shell(`bun ${q(join(root, "scripts/export.ts"))} --input out.jsonl --output - --format html --quiet | (sleep 1; cat) | wc -c`, dir, server.url);
      expect(Number(counted.stdout.trim())).toBe(size);
    } finally {
      cleanup();
    }
  });

  test("export to a reader that goes away (EPIPE) stops at once with exit 141, in every format", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(12));
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      for (const format of ["md", "json", "html", "xlsx"]) {
        // Each report is larger than a pipe holds, so writes are still waiting when `head` leaves.
        const command = `timeout 20 bun ${q(join(root, "scripts/export.ts"))} --input out.jsonl --output - --format ${format} | head -c 10 > /dev/null; echo "exit=\${PIPESTATUS[0]}"`;
        const result = await shell(command, dir, server.url);
        expect({ format, stdout: result.stdout.trim() }).toEqual({ format, stdout: "exit=141" });
        expect(result.stderr).toContain("went away (EPIPE)");
        expect(result.stderr).not.toContain("unexpected error");
      }
    } finally {
      cleanup();
    }
  }, 90_000);
});

/**
 * Runs `body` as a script with lib/stdout.ts's and lib/signals.ts's functions imported, through the
 * shell `command` (given the script's path); returns what the shell printed. The script first
 * writes one line of 200,000 bytes, more than a pipe holds.
 */
async function stdoutChild(body: string, command: (child: string) => string): Promise<string> {
  const { dir, cleanup } = tempDir();
  try {
    const child = join(dir, "child.ts");
    const imports = `import { flushStdout, writeStdout } from ${JSON.stringify(join(root, "lib/stdout.ts"))};\nimport { exitOnSignal } from ${JSON.stringify(join(root, "lib/signals.ts"))};\n`;
    writeFileSync(child, `${imports}void writeStdout("x".repeat(200_000) + "\\n");\n${body}`);
    return (await shell(command(q(child)), dir, server.url)).stdout;
  } finally {
    cleanup();
  }
}

describe("flushStdout", () => {
  test("a second flush, while the first still waits on a slow reader, waits too: exiting after it loses no byte", async () => {
    // The second Ctrl-C and the run's own end both flush; the later one used to see stdout ended
    // (not yet finished) and let the process exit with a line half written.
    const printed = await stdoutChild("void flushStdout();\nawait flushStdout();\nprocess.exit(0);\n", (child) => `bun ${child} | (sleep 1; wc -c)`);
    expect(Number(printed.trim())).toBe(200_001);
  });

  test("flushing twice with stdout redirected to a file (whose stream never says it ended) returns, and the bytes are all there", async () => {
    const printed = await stdoutChild("await flushStdout();\nawait flushStdout();\nprocess.exit(0);\n", (child) => `timeout 10 bun ${child} > out.txt; echo "exit=$?"; wc -c < out.txt`);
    expect(printed).toContain("exit=0");
    expect(Number(printed.trim().split("\n").at(-1))).toBe(200_001);
  });

  test("a line written after the flush began (a service finishing as the second Ctrl-C exits) is dropped, and the flush still waits", async () => {
    const printed = await stdoutChild('const flushed = flushStdout();\nvoid writeStdout("a late line\\n");\nawait flushed;\nprocess.exit(0);\n', (child) => `bun ${child} | (sleep 1; wc -c)`);
    expect(Number(printed.trim())).toBe(200_001);
  });

  test("Ctrl-C once the run's own handlers are gone (its last steps) finishes the line being taken, then exits 130", async () => {
    const body = 'exitOnSignal();\nsetTimeout(() => process.kill(process.pid, "SIGINT"), 50);\nsetTimeout(() => {}, 10_000);\n';
    const printed = await stdoutChild(body, (child) => `bun ${child} | (sleep 1; wc -c); echo "exit=\${PIPESTATUS[0]}"`);
    expect(printed).toContain("exit=130");
    expect(Number(printed.trim().split("\n")[0])).toBe(200_001);
  });
});
