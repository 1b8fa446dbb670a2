import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createStorage } from "unstorage";
import fsLite from "unstorage/drivers/fs-lite";
import { createCacheStorage } from "../../lib/cache.ts";
import { tempDir } from "../helpers.ts";

const dir = tempDir("sa-cache-fs-read-");
afterAll(() => dir.cleanup());

// Our fs driver reads and parses entries itself (lib/cache-fs.ts): what a read gives must be what
// unstorage's fs-lite driver and its `destr` give for the same bytes.
test.each([
  ["an entry", '{"v":1,"answer":{"a":[1,2]},"note":"é"}'],
  ["a __proto__ key", '{"__proto__":{"x":1},"a":1}'],
  ["an escaped __proto__ key", '{"\\u005f_proto__":{"x":1},"a":1}'],
  ["a constructor key", '{"constructor":{"prototype":{"x":1}},"a":1}'],
  ["a \\u escape", '{"a":"\\u0041"}'],
  ["a truncated entry", '{"v":1,"answer":{"x":'],
  ["leading whitespace", '  {"a":1}'],
  ["an array", "[1,2]"],
  ["a number", "123"],
  ["a string", '"text"'],
  ["true", "true"],
  ["plain text", "hello"],
])("%s", async (_name, raw) => {
  writeFileSync(join(dir.dir, "entry"), raw);
  mkdirSync(join(dir.dir, "folder"), { recursive: true });
  const ours = await createCacheStorage({ driver: "fs", base: dir.dir });
  const theirs = createStorage({ driver: fsLite({ base: dir.dir }) });
  expect(await ours.getItem("entry")).toEqual(await theirs.getItem("entry"));
  expect(await ours.getItem("missing")).toBeNull();
  expect(await ours.getItem("folder")).toBeNull();
});

// The call cache reads the fs driver directly (no unstorage on a hit): what a lookup gives, and
// what it warns, must be what the same lookup through unstorage's fs-lite driver gives.
const entry = { v: 1, answer: { a: 1 }, usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 2, reasoningTokens: 0 }, model: "m", provider: "p", createdAt: "2026-01-01T00:00:00.000Z", expiresAt: null, request: { stage: "features", serviceId: "S1" } };
test.each([
  ["an entry", JSON.stringify(entry)],
  ["an expired entry", JSON.stringify({ ...entry, expiresAt: "2020-01-01T00:00:00.000Z" })],
  ["an entry with a __proto__ key", JSON.stringify({ ...entry, request: { ...entry.request, note: "__proto__" } })],
  ["an entry of another shape", JSON.stringify({ ...entry, usage: {} })],
  ["a truncated entry", JSON.stringify(entry).slice(0, 40)],
  ["plain text", "hello"],
])("call cache lookup of %s: the same as through unstorage", async (_name, raw) => {
  const { createCallCache } = await import("../../lib/cache.ts");
  mkdirSync(join(dir.dir, "ns", "features"), { recursive: true });
  writeFileSync(join(dir.dir, "ns", "features", "S1"), raw);
  const lookups = [await createCacheStorage({ driver: "fs", base: dir.dir }), createStorage({ driver: fsLite({ base: dir.dir }) })].map(async (storage) => {
    const warnings: string[] = [];
    const log = { warn: (m: string) => warnings.push(m), debug: () => {}, info: () => {}, error: () => {} } as never;
    const cache = createCallCache(storage, { mode: "read", log });
    return { hit: await cache.lookup("ns:features:S1"), missing: await cache.lookup("ns:features:S2"), folder: await cache.lookup("ns:features"), warnings };
  });
  const [ours, theirs] = await Promise.all(lookups);
  expect(ours).toEqual(theirs!);
  expect(ours!.hit !== undefined).toBe(_name === "an entry" || _name === "an entry with a __proto__ key");
  expect(ours!.warnings.length).toBe(_name === "an entry of another shape" || _name === "a truncated entry" || _name === "plain text" ? 1 : 0);
});

// An entry's path is the base and the key's parts; a key with dots goes through path.join (its
// parts are checked for `.` and `..` by the call cache), one without is joined by hand: both must
// find the file fs-lite finds, and no other.
test.each([
  ["np:features:S1:h1", ["np", "features", "S1", "h1"]],
  ["np:features:v1.2:h1", ["np", "features", "v1.2", "h1"]],
  ["np:features:a.b.c:h.2", ["np", "features", "a.b.c", "h.2"]],
])("the fs driver reads %s from the file fs-lite reads", async (key, parts) => {
  const { createCallCache } = await import("../../lib/cache.ts");
  mkdirSync(join(dir.dir, ...parts.slice(0, -1)), { recursive: true });
  writeFileSync(join(dir.dir, ...parts), JSON.stringify({ ...entry, answer: { key } }));
  const log = { warn: () => {}, debug: () => {}, info: () => {}, error: () => {} } as never;
  const ours = createCallCache(await createCacheStorage({ driver: "fs", base: dir.dir }), { mode: "read", log });
  const theirs = createCallCache(createStorage({ driver: fsLite({ base: dir.dir }) }), { mode: "read", log });
  const hit = ours.lookup(key);
  expect(hit instanceof Promise).toBe(false); // the driver's own read, not unstorage's
  expect((hit as { answer: unknown } | undefined)?.answer).toEqual({ key });
  expect(hit).toEqual(await theirs.lookup(key));
  // A sibling's key, and the base with a trailing separator, find only their own files.
  expect(ours.lookup(`${key}x`)).toBeUndefined();
  const slashed = createCallCache(await createCacheStorage({ driver: "fs", base: `${dir.dir}/` }), { mode: "read", log });
  expect(slashed.lookup(key)).toEqual(hit);
});
