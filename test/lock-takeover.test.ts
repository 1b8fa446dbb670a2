import { describe, expect, test } from "bun:test";
import { closeSync, existsSync, readFileSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { deadPid, fixtureData, makeServices, openWhenRead, root, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";

/**
 * Two processes that find the same dead owner's lock must not both take it. The race: A reads the
 * lock (a dead pid), B breaks it and takes it, then A removes B's live lock and takes it too. Made
 * by construction here: the lock file is a FIFO, so A's read of it waits until the test has played
 * B (lock removed, a live lock of its own in its place) and only then hands A the dead owner.
 */

/** Plays B while A is reading the lock: B's live lock replaces it, then A reads the dead owner. */
async function takeOverWhileRead(lock: string, mine: Record<string, unknown>): Promise<string> {
  const fd = await openWhenRead(lock);
  unlinkSync(lock);
  const content = `${JSON.stringify(mine)}\n`;
  writeFileSync(lock, content, { flag: "wx" });
  const gone = { pid: await deadPid(), host: hostname(), startedAt: new Date(Date.now() - 60_000).toISOString(), task: "run", runId: "20260101T000000-dead" };
  writeSync(fd, `${JSON.stringify(gone)}\n`);
  closeSync(fd);
  return content;
}

describe("a stale lock taken over by another process meanwhile", () => {
  test("run leaves the output to the process that took the dead run's lock first: exit 2, that lock kept", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const lock = join(dir, "out.jsonl.lock");
      Bun.spawnSync(["mkfifo", lock]);
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--dry-run"], { cwd: dir, baseURL: "http://127.0.0.1:9/v1" });
      const mine = await takeOverWhileRead(lock, { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), task: "run", runId: "20260101T000001-live" });
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      expect(code).toBe(2);
      expect(stderr).toContain("is in use by run 20260101T000001-live");
      expect(existsSync(lock) && readFileSync(lock, "utf8")).toBe(mine);
    } finally {
      cleanup();
    }
  });

  test("the ledger's lock is not taken from the process that broke it first", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ledger = join(dir, "usage.json");
      const lock = `${ledger}.lock`;
      Bun.spawnSync(["mkfifo", lock]);
      const script = `const { withLedgerLock } = await import(${JSON.stringify(join(root, "lib/ledger.ts"))}); await withLedgerLock(${JSON.stringify(ledger)}, () => console.log("inside"));`;
      const proc = Bun.spawn(["bun", "-e", script], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      let stdout = "";
      const reading = (async () => {
        for await (const chunk of proc.stdout) stdout += new TextDecoder().decode(chunk);
      })();
      const mine = await takeOverWhileRead(lock, { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
      // A that took the lock says so at once; a waiting A says nothing while the test holds it.
      await until(() => stdout.includes("inside"), "the other process", 1000).catch(() => {});
      const heldWhileMine = stdout.includes("inside");
      const keptWhileMine = existsSync(lock) && readFileSync(lock, "utf8") === mine;
      unlinkSync(lock);
      expect(await proc.exited).toBe(0);
      await reading;
      expect({ heldWhileMine, keptWhileMine }).toEqual({ heldWhileMine: false, keptWhileMine: true });
      expect(stdout).toBe("inside\n");
      expect(existsSync(`${lock}.break`)).toBe(false);
    } finally {
      cleanup();
    }
  });
});
