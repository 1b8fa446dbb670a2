import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createConsola } from "consola";
import { readLedger } from "../lib/ledger.ts";
import { claimOutput } from "../lib/output-claim.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { deadPid, fixtureData, makeServices, root, runScript, scriptEnv, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ latencyMs: 5 });
});
afterAll(() => server.stop());

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const runArgs = (input: string, output: string) => ["--input", input, "--output", output, "--data", fixtureData];
/** The error lines a run printed (info lines aside): a user must see one clear line. */
const errors = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("✖"));
const lockOf = (owner: Record<string, unknown>) => JSON.stringify({ host: hostname(), startedAt: new Date().toISOString(), task: "run", runId: "someone-else", ...owner });

describe("a run owns its output", () => {
  test("two concurrent runs on one output: the second exits 2 at once, naming the owner; the provider sees one run's calls", async () => {
    const slow = startTestServer({ latencyMs: 60 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const first = spawnScript("run", [...runArgs(input, "out.jsonl"), "--concurrency", "4"], { cwd: dir, baseURL: slow.url });
      while (slow.requests.length === 0) await Bun.sleep(10);
      expect(JSON.parse(readFileSync(join(dir, "out.jsonl.lock"), "utf8"))).toMatchObject({ pid: first.pid, host: hostname() });
      const second = await runScript("run", runArgs(input, "out.jsonl"), { cwd: dir, baseURL: slow.url });
      expect(second.code).toBe(2);
      expect(first.exitCode).toBeNull(); // the first still runs: the second did not wait for it
      expect(second.stderr).toContain(`pid ${first.pid} on ${hostname()}`);
      expect(errors(second.stderr)).toHaveLength(1);
      expect(await first.exited).toBe(0);
      expect(slow.requests).toHaveLength(4 * 21);
      expect(lines(join(dir, "out.jsonl")).map((l) => l.service.service_id)).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
      // The refused run wrote nothing to the ledger; the first is there, complete.
      const runs = readLedger(join(dir, ".sa/usage.json")).runs;
      expect(runs).toHaveLength(1);
      expect(runs[0]!.totals.liveCalls).toBe(84);
    } finally {
      cleanup();
      await slow.stop();
    }
  });

  test("run and map refuse an output locked by a live process, before any call; a dead owner's lock is taken over", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      writeFileSync(join(dir, "out.jsonl.lock"), lockOf({ pid: process.pid }));
      const before = server.requests.length;
      const run = await runScript("run", runArgs(input, "out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`in use by run someone-else (pid ${process.pid} on ${hostname()}`);
      expect((await runScript("run", runArgs(input, "run.jsonl"), { cwd: dir, baseURL: server.url })).code).toBe(0);
      const map = await runScript("map", runArgs("run.jsonl", "out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(map.code).toBe(2);
      expect(map.stderr).toContain(`pid ${process.pid}`);
      expect(server.requests.length - before).toBe(42); // only the run on run.jsonl called the provider
      expect(existsSync(join(dir, "out.jsonl"))).toBe(false);

      const gone = await deadPid();
      writeFileSync(join(dir, "out.jsonl.lock"), lockOf({ pid: gone }));
      const takeover = await runScript("run", runArgs(input, "out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(takeover.code).toBe(0);
      expect(takeover.stderr).toContain(`taking over the lock of pid ${gone}`);
      expect(lines(join(dir, "out.jsonl"))).toHaveLength(2);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
    } finally {
      cleanup();
    }
  });

  test("two runs on different outputs sharing one cache and one ledger both finish", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const results = await Promise.all(["a", "b"].map((o) => runScript("run", [...runArgs(input, `${o}.jsonl`), "--quiet"], { cwd: dir, baseURL: server.url })));
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      expect(lines(join(dir, "a.jsonl"))).toHaveLength(2);
      expect(lines(join(dir, "b.jsonl"))).toHaveLength(2);
      const runs = readLedger(join(dir, ".sa/usage.json")).runs;
      expect(runs.map((r) => r.status)).toEqual(["ok", "ok"]);
      expect(runs.reduce((n, r) => n + r.totals.liveCalls + r.totals.cachedCalls, 0)).toBe(84);
    } finally {
      cleanup();
    }
  });

  test("a lock naming this process's own pid, taken before it started (a killed run, then a restarted container reusing pids), is taken over; a live run's with our pid is not", () => {
    const { dir, cleanup } = tempDir();
    try {
      const output = join(dir, "out.jsonl");
      const warnings: string[] = [];
      const log = createConsola({ reporters: [{ log: (entry) => void warnings.push(entry.args.join(" ")) }] });
      writeFileSync(`${output}.lock`, lockOf({ pid: process.pid, startedAt: "2020-01-01T00:00:00.000Z", runId: "before-the-restart" }));
      const claim = claimOutput(output, { task: "run", runId: "after-the-restart", log });
      expect(JSON.parse(readFileSync(`${output}.lock`, "utf8"))).toMatchObject({ pid: process.pid, runId: "after-the-restart" });
      expect(warnings.join("\n")).toContain(`taking over the lock of pid ${process.pid}`);
      // Taken since this process started: another run in this very process holds it.
      expect(() => claimOutput(output, { task: "run", runId: "a-second-run", log })).toThrow("in use by run after-the-restart");
      claim.release();
      expect(existsSync(`${output}.lock`)).toBe(false);
    } finally {
      cleanup();
    }
  });

  test("temp files of the final rewrite left by dead processes are removed on the next start; a live one's stays", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const gone = await deadPid();
      writeFileSync(join(dir, `out.jsonl.${gone}.tmp`), '{"half":');
      writeFileSync(join(dir, `out.jsonl.${process.pid}.tmp`), "in use");
      writeFileSync(join(dir, `other.jsonl.${gone}.tmp`), "not this output's");
      const result = await runScript("run", runArgs(input, "out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(existsSync(join(dir, `out.jsonl.${gone}.tmp`))).toBe(false);
      expect(existsSync(join(dir, `out.jsonl.${process.pid}.tmp`))).toBe(true);
      expect(existsSync(join(dir, `other.jsonl.${gone}.tmp`))).toBe(true);
      expect(lines(join(dir, "out.jsonl"))).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});

describe("an output that cannot be written is found before the first call", () => {
  test("a parent that is a file, and an output that is a folder: exit 2, one line naming the path and the reason", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      writeFileSync(join(dir, "notes.txt"), "a file");
      mkdirSync(join(dir, "folder"));
      const before = server.requests.length;
      const underFile = await runScript("run", runArgs(input, "notes.txt/out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(underFile.code).toBe(2);
      expect(errors(underFile.stderr)).toEqual([expect.stringMatching(/--output notes\.txt\/out\.jsonl: cannot be written \(.*a parent is a file/)]);
      const folder = await runScript("run", runArgs(input, "folder"), { cwd: dir, baseURL: server.url });
      expect(folder.code).toBe(2);
      expect(errors(folder.stderr)).toEqual([expect.stringContaining("--output folder: cannot be written (it is a folder)")]);
      const mapped = await runScript("map", runArgs(input, "folder"), { cwd: dir, baseURL: server.url });
      expect(mapped.code).toBe(2);
      for (const r of [underFile, folder, mapped]) expect(r.stderr).not.toContain("unexpected error");
      expect(server.requests.length).toBe(before);
    } finally {
      cleanup();
    }
  });

  test("a missing folder is created", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", runArgs(input, "new/deeper/out.jsonl"), { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(lines(join(dir, "new/deeper/out.jsonl"))).toHaveLength(1);
    } finally {
      cleanup();
    }
  });

  // Root passes every permission check: as root, the run is started as `nobody` (setpriv), so the
  // read-only folder is read-only for it too.
  const asRoot = process.getuid?.() === 0;
  const setpriv = Bun.which("setpriv");
  test.skipIf(asRoot && !setpriv)("a read-only folder: exit 2 with the reason, no call made", async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o777);
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      mkdirSync(join(dir, "locked"));
      chmodSync(join(dir, "locked"), 0o555);
      const before = server.requests.length;
      const asNobody = asRoot ? [setpriv!, "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
      const proc = Bun.spawn([...asNobody, "bun", join(root, "scripts/run.ts"), ...runArgs(input, "locked/out.jsonl")], {
        cwd: dir,
        env: { ...scriptEnv({ baseURL: server.url }), HOME: dir },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(code).toBe(2);
      expect(errors(stderr)).toEqual([expect.stringContaining("--output locked/out.jsonl: cannot be written (permission denied)")]);
      expect(server.requests.length).toBe(before);
      chmodSync(join(dir, "locked"), 0o755);
    } finally {
      cleanup();
    }
  });
});
