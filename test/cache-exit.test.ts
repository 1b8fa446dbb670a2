import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root, tempDir } from "./helpers.ts";

const filesUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

test("a cache write under way when the process exits (a second Ctrl-C) is finished, not lost or left as a temp file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = join(dir, "cache");
    // The exit comes in the same turn as the write, before any of its steps: the case of an answer
    // paid for and validated when the second Ctrl-C's process.exit runs.
    const script = `
      const { createCacheStorage } = await import(${JSON.stringify(join(root, "lib/cache.ts"))});
      const storage = await createCacheStorage({ driver: "fs", base: ${JSON.stringify(base)} });
      void storage.setItem("default:mapping:SVC001:abc", { v: 1, answer: "paid for" });
      process.exit(130);`;
    const proc = Bun.spawn(["bun", "-e", script], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(130);
    const files = filesUnder(base);
    expect(files).toEqual([join(base, "default/mapping/SVC001/abc")]);
    expect(JSON.parse(readFileSync(files[0]!, "utf8"))).toEqual({ v: 1, answer: "paid for" });
  } finally {
    cleanup();
  }
});
