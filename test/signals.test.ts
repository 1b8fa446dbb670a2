import { describe, expect, test } from "bun:test";
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, openWhenRead, root, runScript, scriptEnv, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

const lines = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : []);
const journals = (dir: string) => (existsSync(join(dir, ".sa/journal")) ? readdirSync(join(dir, ".sa/journal")) : []);

/** Reads a non-blocking descriptor until its writers are gone. */
async function readToEnd(fd: number): Promise<string> {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
      await Bun.sleep(10);
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  closeSync(fd);
  return Buffer.concat(chunks).toString("utf8");
}

/** Takes a lock file as lib/file-lock.ts does (O_EXCL), waiting while its owner holds it. */
async function takeLock(path: string): Promise<void> {
  await until(() => {
    try {
      closeSync(openSync(path, "wx"));
      return true;
    } catch {
      return false;
    }
  }, `${path} to be free`);
}

describe("a signal at the edges of a run", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} while run is still starting (reading its config) exits ${code}, rather than dying by the signal`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
        const fifo = join(dir, "config.json");
        Bun.spawnSync(["mkfifo", fifo]);
        const proc = spawnScript("run", ["--config", fifo, "--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: "http://127.0.0.1:9/v1" });
        const fd = await openWhenRead(fifo);
        proc.kill(signal);
        // Should the signal wait for the read, the end of the config lets it go on.
        const eof = setTimeout(() => closeSync(fd), 3000);
        await proc.exited;
        clearTimeout(eof);
        expect(proc.signalCode).toBeNull();
        expect(proc.exitCode).toBe(code);
      } finally {
        cleanup();
      }
    });
  }

  for (const [task, signal, code] of [["run", "SIGINT", 130], ["map", "SIGTERM", 143]] as const) {
    test(`${task} --json stopped by ${signal} while starting still prints its one --json object, saying interrupted`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1)); // never read: the signal comes first
        const fifo = join(dir, "config.json");
        Bun.spawnSync(["mkfifo", fifo]);
        const proc = spawnScript(task, ["--config", fifo, "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: "http://127.0.0.1:9/v1" });
        const fd = await openWhenRead(fifo);
        proc.kill(signal);
        const eof = setTimeout(() => closeSync(fd), 3000);
        const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
        clearTimeout(eof);
        expect(exitCode).toBe(code);
        expect(stdout.endsWith("\n")).toBe(true);
        expect(stdout.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual([{ status: "interrupted", exitCode: code, stopReason: `${signal} received before the run began` }]);
      } finally {
        cleanup();
      }
    });
  }

  test("a signal once every service is written (the final rewrite and ledger record) exits 130 with the lock released and the ledger's record complete", async () => {
    const server = startTestServer({ latencyMs: 50 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const ledger = join(dir, ".sa/usage.json");
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      // After the run's first ledger record, hold the ledger's lock: its final record then waits for it.
      await until(() => existsSync(ledger), "the first ledger record");
      await takeLock(`${ledger}.lock`);
      await until(() => lines(join(dir, "out.jsonl")).length === 2, "both services");
      await Bun.sleep(300);
      proc.kill("SIGINT");
      await Bun.sleep(300);
      unlinkSync(`${ledger}.lock`);
      await proc.exited;
      expect(proc.signalCode).toBeNull();
      expect(proc.exitCode).toBe(130);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
      const run = readLedger(ledger).runs[0]!;
      // The work was done when the signal came: the record says so, with every call.
      expect(run.status).toBe("ok");
      expect(run.totals.liveCalls).toBe(server.answered);
      expect(lines(join(dir, "out.jsonl")).map((l) => JSON.parse(l).service.service_id)).toEqual(["SVC001", "SVC002"]);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a signal during the final in-order rewrite: the rewrite completes, then exit 130 with the run recorded as interrupted", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { lines: evolutions } = await syntheticEvolutions(dir);
      // Services not in the input, before it: the rewrite copies some 60 MB, so it can be caught in the act.
      const padding = "x".repeat(120_000);
      const others = Array.from({ length: 500 }, (_, i) => {
        const e = structuredClone(evolutions[i % evolutions.length]!);
        e.service.service_id = `Z${String(i).padStart(4, "0")}`;
        e.service.name = `${e.service.name} ${padding}`;
        return e;
      });
      writeJsonl(join(dir, "out.jsonl"), others);
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const proc = spawnScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--cache-mode", "off"], { cwd: dir });
      const temp = join(dir, `out.jsonl.${proc.pid}.tmp`);
      await until(() => existsSync(temp) || proc.exitCode !== null, "the rewrite's temp file", 60_000);
      proc.kill("SIGINT");
      await proc.exited;
      expect(proc.exitCode).toBe(130);
      const ids = lines(join(dir, "out.jsonl")).map((l) => JSON.parse(l).service.service_id);
      expect(ids).toHaveLength(501);
      expect(ids[0]).toBe("SVC001");
      expect(existsSync(temp)).toBe(false);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("interrupted");
      expect(run.services).toMatchObject({ ok: 1 });
    } finally {
      cleanup();
    }
  }, 60_000);

  test("Ctrl-C while the input is stdin still open (a terminal, a producer not done): the run stops waiting for it, finishes and exits 130", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const [service] = makeServices(1);
      const proc = Bun.spawn(["bun", join(root, "scripts/run.ts"), "--input", "-", "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, env: scriptEnv({ baseURL: server.url }), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      proc.stdin.write(`${JSON.stringify(service)}\n`);
      proc.stdin.flush();
      await until(() => lines(join(dir, "out.jsonl")).length === 1, "the first service");
      proc.kill("SIGINT");
      const ended = await Promise.race([proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!ended) proc.kill("SIGKILL");
      expect(ended).toBe(true);
      expect(proc.exitCode).toBe(130);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
      expect(readLedger(join(dir, ".sa/usage.json")).runs[0]).toMatchObject({ status: "interrupted", services: { ok: 1 } });
    } finally {
      cleanup();
      await server.stop();
    }
  }, 30_000);

  test("two quick Ctrl-Cs before any service is done: an empty output, the --json summary, and the ledger file itself says interrupted with the answered calls", async () => {
    const server = startTestServer({ latencyMs: 300 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const ledger = join(dir, ".sa/usage.json");
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "4", "--json"], { cwd: dir, baseURL: server.url });
      // The descriptions are answered; the features are in flight; no service can be complete yet.
      await until(() => server.answered >= 2 && existsSync(ledger), "the descriptions");
      await Bun.sleep(50);
      proc.kill("SIGINT");
      await Bun.sleep(50);
      proc.kill("SIGINT");
      const stdout = await new Response(proc.stdout).text();
      await proc.exited;
      expect(proc.exitCode).toBe(130);
      // --json still ends with its one summary object.
      expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "interrupted", exitCode: 130, stopReason: expect.stringContaining("a second signal") });
      expect(readFileSync(join(dir, "out.jsonl"), "utf8")).toBe("");
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
      // Read as it is on disk, before anything folds the journal into it.
      const run = readLedger(ledger).runs[0]!;
      expect(run.status).toBe("interrupted");
      expect(run.stopReason).toContain("a second signal stopped the run at once");
      expect(run.totals.liveCalls).toBeGreaterThanOrEqual(2);
      expect(run.totals.liveCalls).toBeLessThanOrEqual(server.answered);
      expect(journals(dir)).toEqual([]);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("--output - interrupted", () => {
  test("two quick Ctrl-Cs while stdout's reader is taking a line: it still gets whole lines only", async () => {
    const server = startTestServer({ latencyMs: 20 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(30));
      const fifo = join(dir, "stdout.fifo");
      Bun.spawnSync(["mkfifo", fifo]);
      // A reader that takes nothing until the signals: the pipe fills and the run waits in the middle of a line.
      const idle = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeEnd = openSync(fifo, constants.O_WRONLY);
      const proc = Bun.spawn(["bun", join(root, "scripts/run.ts"), "--input", input, "--output", "-", "--data", fixtureData, "--concurrency", "8"], { cwd: dir, env: scriptEnv({ baseURL: server.url }), stdout: writeEnd, stderr: "pipe" });
      closeSync(writeEnd);
      await until(() => server.answered >= 200, "the pipe to fill");
      proc.kill("SIGINT");
      await Bun.sleep(50);
      proc.kill("SIGINT");
      await Bun.sleep(200);
      const text = await readToEnd(idle);
      await proc.exited;
      expect(proc.exitCode).toBe(130);
      for (const line of text.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
      expect(text.endsWith("\n")).toBe(true);
      expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(64 * 1024); // the pipe was full at the signals
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("export interrupted", () => {
  test("Ctrl-C stops an XLSX export at once, the earlier file untouched; the temp file it left goes at the next export", async () => {
    const { dir, cleanup } = tempDir("sa-export-signal-");
    try {
      const { path: few, lines: evolutions } = await syntheticEvolutions(dir);
      // Enough services that the XLSX takes seconds to write.
      const many = Array.from({ length: 1000 }, (_, i) => {
        const e = structuredClone(evolutions[i % evolutions.length]!);
        e.service.service_id = `X${String(i).padStart(4, "0")}`;
        return e;
      });
      const input = writeJsonl(join(dir, "many.jsonl"), many);
      writeFileSync(join(dir, "report.xlsx"), "the earlier report");
      const proc = spawnScript("export", ["--input", input, "--output", "report.xlsx"], { cwd: dir });
      const temps = () => readdirSync(dir).filter((n) => n.endsWith(".tmp"));
      await until(() => temps().length > 0 || proc.exitCode !== null, "the export's temp file");
      expect(proc.exitCode).toBeNull(); // still writing
      const signalled = Date.now();
      proc.kill("SIGINT");
      const code = await proc.exited;
      // At once: not when the workbook is done (a listener would only run then).
      expect(Date.now() - signalled).toBeLessThan(1000);
      expect(code).toBe(130);
      expect(readFileSync(join(dir, "report.xlsx"), "utf8")).toBe("the earlier report");
      const again = await runScript("export", ["--input", few, "--output", "report.xlsx"], { cwd: dir });
      expect(again.code).toBe(0);
      expect(temps()).toEqual([]);
      expect(readFileSync(join(dir, "report.xlsx")).subarray(0, 2).toString()).toBe("PK");
    } finally {
      cleanup();
    }
  }, 60_000);
});

describe("preflight stopped while a check waits", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} while --online waits on the model list: exit ${code}, and --json's one object says so`, async () => {
      let asked = 0;
      const silent = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        idleTimeout: 0,
        async fetch() {
          asked++;
          await Bun.sleep(10_000);
          return Response.json({ object: "list", data: [] });
        },
      });
      const { dir, cleanup } = tempDir();
      try {
        writeJsonl(join(dir, "services.jsonl"), makeServices(1));
        const proc = spawnScript("preflight", ["--input", "services.jsonl", "--data", fixtureData, "--online", "--json"], { cwd: dir, baseURL: `http://127.0.0.1:${silent.port}/v1` });
        await until(() => asked > 0, "the model list request");
        proc.kill(signal);
        const [stdout, exit] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
        expect(exit).toBe(code);
        expect(stdout.trim().split("\n")).toHaveLength(1);
        expect(JSON.parse(stdout)).toEqual({ ok: false, status: "interrupted", exitCode: code });
      } finally {
        cleanup();
        silent.stop(true);
      }
    });
  }
});
