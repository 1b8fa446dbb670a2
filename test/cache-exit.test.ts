import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCacheStorage } from "../lib/cache.ts";
import { deadPid, root, tempDir } from "./helpers.ts";

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

test("a temp file a killed run left for an entry is removed when the entry is written again; a live writer's is kept", async () => {
  const { dir, cleanup } = tempDir();
  const live = Bun.spawn(["sleep", "30"]);
  try {
    const base = join(dir, "cache");
    const folder = join(base, "default/mapping/SVC001");
    mkdirSync(folder, { recursive: true });
    const dead = join(folder, `abc.${await deadPid()}.0a1b2c3d.tmp`);
    const writing = join(folder, `abc.${live.pid}.4e5f6a7b.tmp`);
    const other = join(folder, `abd.${await deadPid()}.0a1b2c3d.tmp`);
    for (const path of [dead, writing, other]) writeFileSync(path, '{"v":1,"answer":"ha');
    const storage = await createCacheStorage({ driver: "fs", base });
    await storage.setItem("default:mapping:SVC001:abc", { v: 1, answer: "paid for" });
    expect(filesUnder(base).sort()).toEqual([join(folder, "abc"), other, writing].sort());
  } finally {
    live.kill();
    cleanup();
  }
});
