import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, onSmallDisk, runScript, writeJsonl } from "./helpers.ts";

/** Each line of a JSONL file parsed; throws on a line cut short. */
function parsedLines(path: string): unknown[] {
  const text = readFileSync(path, "utf8");
  if (text !== "" && !text.endsWith("\n")) throw new Error(`${path} ends without a newline: a line was cut short`);
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

const args = (input: string, output: string) => ["--model", "synthetic:demo", "--input", input, "--output", output, "--data", fixtureData, "--json"];
const env = { SA_CACHE__DRIVER: "memory" };

// Each evolution of the fixture data is about 60 KB: the disks below hold two or three of them.
describe("an output on a disk that fills up", () => {
  test.skipIf(process.getuid?.() !== 0)("the line the disk cut short is taken back: the output stays valid JSONL, no temporary file is left, one line and exit 1", async () => {
    await onSmallDisk(200, async ({ dir, disk }) => {
      writeFileSync(join(disk, "filler"), Buffer.alloc(64 * 1024));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(6));
      const output = join(disk, "out.jsonl");
      const result = await runScript("run", args(input, output), { cwd: dir, env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("no space left on the device");
      expect(result.stderr).not.toContain("unexpected error");
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr.split("\n").filter((l) => l.startsWith("✖"))).toHaveLength(1);
      expect(parsedLines(output).length).toBeGreaterThan(0);
      expect(readdirSync(disk).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    });
  });

  test.skipIf(process.getuid?.() !== 0)("a final rewrite in input order that finds no room leaves the output as it was, in one line, exit 1, with the run's ledger record", async () => {
    await onSmallDisk(256, async ({ dir, disk }) => {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const first = await runScript("run", args(input, join(dir, "first.jsonl")), { cwd: dir, env });
      expect(first.code).toBe(0);
      // The same services, complete, in reverse order: the rerun pays for nothing and only rewrites.
      const reversed = `${readFileSync(join(dir, "first.jsonl"), "utf8").trim().split("\n").reverse().join("\n")}\n`;
      const output = join(disk, "out.jsonl");
      writeFileSync(output, reversed);
      try {
        writeFileSync(join(disk, "filler"), Buffer.alloc(256 * 1024 - reversed.length - 8 * 1024));
      } catch {
        // full: what is left is less than the copy needs
      }
      const result = await runScript("run", args(input, output), { cwd: dir, env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("no space left on the device");
      expect(result.stderr).not.toContain("unexpected error");
      expect(result.stderr.split("\n").filter((l) => l.startsWith("✖"))).toHaveLength(1);
      expect(readFileSync(output, "utf8")).toBe(reversed);
      expect(readdirSync(disk).filter((n) => n.endsWith(".tmp"))).toEqual([]);
      const ledger = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")) as { runs: Array<{ status: string }> };
      expect(ledger.runs.at(-1)?.status).toBe("failed");
    });
  });
});

describe("a quarantine on a disk that fills up", () => {
  test.skipIf(process.getuid?.() !== 0)("a bad line that cannot be quarantined stops the run as a full disk: one line naming the quarantine file, exit 1 (E_WRITE), not the input blamed; the quarantine keeps whole lines", async () => {
    await onSmallDisk(64, async ({ dir, disk }) => {
      writeFileSync(join(disk, "filler"), Buffer.alloc(56 * 1024));
      const [first, ...rest] = makeServices(3);
      const input = writeJsonl(join(dir, "in.jsonl"), [first, `{"service_id": "BAD", "note": "${"x".repeat(20_000)}"`, ...rest]);
      const result = await runScript("run", [...args(input, join(dir, "out.jsonl")), "--concurrency", "1"], { cwd: dir, env: { ...env, SA_QUARANTINE_DIR: join(disk, "q") } });
      expect(result.code).toBe(1);
      const said = result.stderr.split("\n").filter((l) => l.startsWith("✖"));
      expect(said.at(-1)).toStartWith(`✖ quarantine ${join(disk, "q")}/`);
      expect(said.at(-1)).toContain("cannot be written (no space left on the device)");
      expect(result.stderr).not.toContain("ENOSPC");
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ exitCode: 1, code: "E_WRITE" });
      for (const name of readdirSync(join(disk, "q"))) parsedLines(join(disk, "q", name));
    });
  });
});
