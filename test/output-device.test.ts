import { describe, expect, test } from "bun:test";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** A null device made in `dir` (root only), standing in for /dev/null so the machine's own is never at risk. */
function nullDevice(dir: string): string | undefined {
  const path = join(dir, "null");
  return Bun.spawnSync(["mknod", path, "c", "1", "3"], { stderr: "ignore" }).exitCode === 0 ? path : undefined;
}

const evolutions = join(root, "fixtures/python/evolutions.jsonl");

// Every task writes its file to a temporary one renamed into place: over a device (as root, over
// /dev/null itself) that rename replaced the device with a regular file for every program on the machine.
describe("--output naming a device (/dev/null, /dev/full) or a pipe", () => {
  const cases: Array<[string, (input: string, device: string) => string[]]> = [
    ["run", (input, device) => ["--model", "synthetic:demo", "--input", input, "--output", device, "--data", fixtureData]],
    ["map", (_input, device) => ["--model", "synthetic:demo", "--input", evolutions, "--output", device, "--data", fixtureData]],
    ["export", (_input, device) => ["--input", evolutions, "--output", device, "--format", "csv"]],
    ["diff", (_input, device) => [evolutions, evolutions, "--format", "md", "--output", device]],
    ["preflight", (input, device) => ["--model", "synthetic:demo", "--input", input, "--data", fixtureData, "--output", device]],
  ];
  for (const [task, args] of cases) {
    test.skipIf(process.getuid?.() !== 0)(`${task}: exit 2 in one line naming it, and the device is left a device`, async () => {
      const { dir, cleanup } = tempDir();
      try {
        const device = nullDevice(dir);
        if (!device) return console.warn("skipped: mknod is not allowed here");
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
        const result = await runScript(task, args(input, device), { cwd: dir });
        expect(lstatSync(device).isCharacterDevice()).toBe(true);
        expect(result.code).toBe(2);
        const said = result.stderr.trim().split("\n").filter((line) => !line.startsWith("ℹ"));
        expect(said).toEqual([`✖ --output ${device}: cannot be written (not a regular file: a device, a pipe or a socket, which the rename into place would replace); give a file, or --output - and redirect stdout`]);
      } finally {
        cleanup();
      }
    }, 30_000);
  }
});
