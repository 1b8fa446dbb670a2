import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fixtureData, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

let dir: string;
let cleanup: () => void;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-cache-stats-"));
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
  const run = await runScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir });
  expect(run.code).toBe(0);
});
afterAll(() => cleanup());

const cache = (...args: string[]) => runScript("cache", args, { cwd: dir });

describe("cache stats and clear; usage", () => {
  test("stats shows the store, each namespace, the total with readable sizes, and the oldest and newest entries", async () => {
    const json = JSON.parse((await cache("stats", "--json")).stdout);
    expect(json.store).toBe("fs .sa/cache");
    expect(json.total.entries).toBe(42);
    expect(json.total.bytes).toBe(json.namespaces.reduce((n: number, s: { bytes: number }) => n + s.bytes, 0));
    expect(Date.parse(json.oldest.at)).toBeLessThanOrEqual(Date.parse(json.newest.at));
    expect(json.newest.key).toMatch(/^default:/);
    const text = (await cache("stats")).stdout;
    expect(text).toContain("store   fs .sa/cache");
    expect(text).toMatch(/total\s+42\s+\d+(\.\d+)? KiB/);
    expect(text).toMatch(/oldest  \d{4}-\d\d-\d\dT/);
    expect(text).toMatch(/hit rate of the last run/);
  });

  test("the store is named without credentials; sizes and counts read as people read them", async () => {
    const { describeStore } = await import("../lib/cache-stats.ts");
    const { formatBytes, formatCount } = await import("../lib/format.ts");
    expect(describeStore({ driver: "redis", url: "redis://user:s3cret@cache.internal:6379/0?password=x", base: "sa" })).toBe("redis redis://cache.internal:6379/0 (prefix sa)");
    expect(describeStore({ driver: "memory" })).toBe("memory");
    expect([formatBytes(512), formatBytes(1536), formatBytes(5 * 1024 ** 3), formatCount(1234567)]).toEqual(["512 B", "1.50 KiB", "5.00 GiB", "1,234,567"]);
  });

  test("usage: thousands separators, and --format md gives Markdown tables", async () => {
    const text = (await runScript("usage", [], { cwd: dir })).stdout;
    expect(text).toMatch(/total\s+42\s+0\s+0\s+\d{1,3}(,\d{3})+/);
    const md = (await runScript("usage", ["--format", "md"], { cwd: dir })).stdout;
    expect(md).toMatch(/^### Usage: run /);
    expect(md).toContain("| stage");
    expect(md).toMatch(/\| total +\| +42 \|/);
    expect((await runScript("usage", ["--format", "pdf"], { cwd: dir })).code).toBe(2);
  });

  test("clear: a script must say --yes; on a terminal it asks, and only y clears", async () => {
    const refused = await cache("clear");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    const ask = async (answer: string) => {
      const command = ["bun", join(root, "scripts/cache.ts"), "clear"].join(" ");
      // `script` gives the command a pseudo-terminal; the answer is typed into it.
      const proc = Bun.spawn(["script", "-q", "-e", "-c", command, "/dev/null"], { cwd: dir, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      await Bun.sleep(1500);
      proc.stdin.write(`${answer}\n`);
      await proc.stdin.end();
      const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
      return { out, code };
    };
    const no = await ask("n");
    expect(no.out).toContain("Remove all 42 entries from fs .sa/cache? [y/N]");
    expect(no.code).toBe(1);
    expect(JSON.parse((await cache("stats", "--json")).stdout).total.entries).toBe(42);
    const yes = await ask("y");
    expect(yes.code).toBe(0);
    expect(yes.out).toContain("removed 42 entries");
    expect(JSON.parse((await cache("stats", "--json")).stdout).total.entries).toBe(0);
  });
});
