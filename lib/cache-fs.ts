import { basename, join, resolve } from "node:path";
import fsLite from "unstorage/drivers/fs-lite";
import { defineDriver } from "unstorage";
import { writeFileAtomic } from "./atomic-write.ts";

const isTemp = (path: string) => basename(path).endsWith(".tmp");

/**
 * unstorage's fs-lite driver with atomic writes: each entry is written to a temporary file and
 * renamed into place, so a crash or two runs writing the same key never leave half an entry.
 * (unstorage's own fs drivers write in place.)
 */
export default defineDriver((options: { base?: string; readOnly?: boolean } = {}) => {
  if (!options.base) throw new Error("[unstorage] [fs] Missing required option `base`.");
  const base = resolve(options.base);
  const inner = fsLite({ ...options, base, ignore: isTemp });
  const path = (key: string) => join(base, key.replace(/:/g, "/"));
  const atomicWrite = async (key: string, value: string | Uint8Array) => {
    if (!options.readOnly) await writeFileAtomic(path(key), value);
  };
  return {
    ...inner,
    name: "fs",
    options: { ...options, base },
    setItem: (key: string, value: string) => atomicWrite(key, value),
    setItemRaw: (key: string, value: Uint8Array) => atomicWrite(key, value),
  };
});
