import { describe, expect, test } from "bun:test";
import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

const lines = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : []);
const journals = (dir: string) => (existsSync(join(dir, ".sa/journal")) ? readdirSync(join(dir, ".sa/journal")) : []);

async function until(ready: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

/** Opens a FIFO for writing once a reader has it open (a non-blocking open fails before that). */
async function openWhenRead(fifo: string): Promise<number> {
  let fd: number | undefined;
  await until(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch {
      return false;
    }
  }, "the config to be opened");
  return fd!;
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

});
