#!/usr/bin/env bun
/**
 * The floor a cached rerun is measured against: every entry of an fs cache folder read with
 * unstorage alone (its fs-lite driver, no validation, no pipeline). Prints the entries read.
 *
 *   bun bench/unstorage-read.ts .sa/cache
 */
import { createStorage } from "unstorage";
import fsLite from "unstorage/drivers/fs-lite";

const storage = createStorage({ driver: fsLite({ base: process.argv[2] ?? ".sa/cache" }) });
const keys = await storage.getKeys();
let read = 0;
// As many reads in flight as a run keeps (a window of services, each with its calls).
const inFlight = 64;
let next = 0;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (next < keys.length) {
      const value = await storage.getItem(keys[next++]!);
      if (value !== null) read++;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ entries: read })}\n`);
