import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { commitTemp, staleTempPid, tempPathFor, writeFileAtomic, writeFileAtomicSync } from "../lib/atomic-write.ts";
import { parseDuration } from "../lib/duration.ts";
import { readLock, tryLock, unlock, withLock } from "../lib/file-lock.ts";
import { guessPromptTokens, guessTokens } from "../lib/token-guess.ts";

const withDir = async (fn: (dir: string) => Promise<void> | void) => {
  const dir = mkdtempSync(join(tmpdir(), "sa-helpers-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe("parseDuration", () => {
  test.each([
    ["30d", 30 * 86_400_000],
    ["12h", 12 * 3_600_000],
    ["45m", 45 * 60_000],
    ["90s", 90_000],
    [" 1.5h ", 5_400_000],
  ])("%p is %p ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(["", "30", "d", "30w", "-1d", "1d2h"])("%p is not a duration", (text) => expect(parseDuration(text)).toBeUndefined());
});

describe("guessTokens", () => {
  test("about four characters a token, rounded up", () => {
    expect(guessTokens("")).toBe(0);
    expect(guessTokens("abcd")).toBe(1);
    expect(guessTokens("abcde")).toBe(2);
    expect(guessPromptTokens([{ content: "abc" }, { content: "de" }])).toBe(2);
  });
});

describe("atomic write", () => {
  test("replaces the file whole, creates its folder and leaves no temp file", () =>
    withDir(async (dir) => {
      const path = join(dir, "a", "b.json");
      writeFileAtomicSync(path, "one");
      await writeFileAtomic(path, "two");
      expect(readFileSync(path, "utf8")).toBe("two");
      expect(readdirSync(join(dir, "a"))).toEqual(["b.json"]);
    }));

  test("many writers of one path at once: the file is always one of their values", () =>
    withDir(async (dir) => {
      const path = join(dir, "entry.json");
      const values = Array.from({ length: 20 }, (_, i) => JSON.stringify({ i, pad: "x".repeat(10_000) }));
      await Promise.all(values.map((v) => writeFileAtomic(path, v)));
      expect(values).toContain(readFileSync(path, "utf8"));
      expect(readdirSync(dir)).toEqual(["entry.json"]);
    }));

  test("a streamed temp file is committed under the target's name, and its pid can be told", () =>
    withDir((dir) => {
      const path = join(dir, "out.jsonl");
      const temp = tempPathFor(path);
      expect(staleTempPid(path, temp.slice(dir.length + 1))).toBe(process.pid);
      expect(staleTempPid(path, "out.jsonl.12.ab.tmp")).toBeUndefined();
      expect(staleTempPid(path, "other.jsonl.12.tmp")).toBeUndefined();
      writeFileSync(temp, "line\n");
      commitTemp(temp, path);
      expect(readFileSync(path, "utf8")).toBe("line\n");
      expect(existsSync(temp)).toBe(false);
    }));
});

describe("file lock", () => {
  test("only one holder; the content names it; unlock frees it", () =>
    withDir((dir) => {
      const lock = join(dir, "x.lock");
      expect(tryLock(lock, "first")).toBe(true);
      expect(tryLock(lock, "second")).toBe(false);
      expect(readLock(lock)).toBe("first");
      unlock(lock);
      unlock(lock); // twice is fine
      expect(tryLock(lock, "third")).toBe(true);
    }));

  test("withLock makes concurrent holders take turns and records the holder", () =>
    withDir(async (dir) => {
      const lock = join(dir, "ledger.json.lock");
      let inside = 0;
      let most = 0;
      const holder = async () =>
        withLock(lock, () => {
          most = Math.max(most, ++inside);
          expect(JSON.parse(readLock(lock)!)).toMatchObject({ pid: process.pid, host: hostname() });
          inside--;
        }, { staleMs: 30_000, attempts: 2000, held: () => new Error("held") });
      await Promise.all(Array.from({ length: 10 }, holder));
      expect(most).toBe(1);
      expect(existsSync(lock)).toBe(false);
    }));

  test("a lock that never comes free is the caller's error; a stale one is broken", () =>
    withDir(async (dir) => {
      const lock = join(dir, "stuck.lock");
      writeFileSync(lock, "");
      const attempt = async (staleMs: number) => withLock(lock, () => "got it", { staleMs, attempts: 3, held: () => new Error("still held") });
      const error = await attempt(60_000).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toBe("still held");
      await Bun.sleep(20);
      expect(await attempt(10)).toBe("got it");
    }));
});
