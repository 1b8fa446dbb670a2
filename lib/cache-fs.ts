import { readFileSync } from "node:fs";
import { basename, join, resolve, sep } from "node:path";
import fsLite from "unstorage/drivers/fs-lite";
import { defineDriver, type StorageValue } from "unstorage";
import { removeDeadTemps, writeFileAtomic } from "./atomic-write.ts";

const isTemp = (path: string) => basename(path).endsWith(".tmp");

/**
 * A JSON object parsed here, so unstorage's `destr` hands it on as it is instead of scanning the
 * text for prototype-polluting keys first (a measurable share of a cached rerun). Only text that
 * cannot hold such a key (no `__proto__`, no `constructor`, no `\u` escape), where `destr` would
 * call JSON.parse and nothing else; any other text, and text that is not JSON, go to `destr` as before.
 */
function parsedEntry(text: string): StorageValue {
  if (text[0] !== "{" || text.includes("__proto__") || text.includes("constructor") || text.includes("\\u")) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * unstorage's fs-lite driver with atomic writes: each entry is written to a temporary file and
 * renamed into place, so a crash or two runs writing the same key never leave half an entry.
 * (unstorage's own fs drivers write in place.)
 *
 * Entries are read synchronously. An entry is a small file, and Bun's asynchronous readFile costs
 * the main thread more than a synchronous read does, without overlapping it with other work
 * (measured on a cached rerun of 21,000 entries): a cached rerun is faster this way. Reading a
 * service's entry folders ahead on a worker thread was measured too (texts, or bytes moved to the
 * main thread): on the shared 2-core machine the rerun was no faster and its peak RSS 35-40 MiB higher.
 */
export default defineDriver((options: { base?: string; readOnly?: boolean } = {}) => {
  if (!options.base) throw new Error("[unstorage] [fs] Missing required option `base`.");
  const base = resolve(options.base);
  const inner = fsLite({ ...options, base, ignore: isTemp });
  const root = base.endsWith(sep) ? base : base + sep;
  // A key without dots has no `.` or `..` part to resolve: its path is the base and its parts.
  const path = (key: string) => (key.includes(".") ? join(base, key.replace(/:/g, "/")) : root + key.replaceAll(":", sep));
  const atomicWrite = async (key: string, value: string | Uint8Array) => {
    if (options.readOnly) return;
    await writeFileAtomic(path(key), value);
    // A run killed while writing this entry left its temp file; this write replaces what it was for.
    await removeDeadTemps(path(key));
  };
  // fs-lite's own key check: no `..` segment.
  const traverses = /\.\.:|\.\.$/;
  const getItem = (key: string) => {
    if (traverses.test(key)) return inner.getItem(key, {});
    try {
      return parsedEntry(readFileSync(path(key), "utf8"));
    } catch (error) {
      // A missing entry (or a folder's key) is no entry, as fs-lite has it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "EISDIR") return null;
      throw error;
    }
  };
  return {
    ...inner,
    name: "fs",
    options: { ...options, base },
    getItem,
    /** The same read, named so the call cache can skip unstorage for it (lib/cache.ts). */
    getItemSync: getItem,
    setItem: (key: string, value: string) => atomicWrite(key, value),
    setItemRaw: (key: string, value: Uint8Array) => atomicWrite(key, value),
  };
});
