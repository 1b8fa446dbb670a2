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
