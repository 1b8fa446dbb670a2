import { randomHex } from "./hash.ts";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { pidAlive } from "./process-alive.ts";

/**
 * The one way a file is replaced: write a temp file next to it, then rename it over the target.
 * A rename within one folder is atomic, so a reader (or a crash) sees the old file or the new
 * one, never half of either. Hand-written rather than `write-file-atomic`: the output rewrite and
 * the exports stream into the temp file, which that package's whole-buffer API cannot do, and
 * leftover temps must carry the writer's pid so the next run can tell they are stale.
 */

/**
 * The temp file a streaming writer fills before `commitTemp`: `<path>.<pid>.tmp`, the name
 * `staleTempPid` recognises. One writer per path per process.
 */
export const tempPathFor = (path: string) => `${path}.${process.pid}.tmp`;

/** A temp name of its own for each write, for paths several writers may replace at once. */
const uniqueTempFor = (path: string) => `${path}.${process.pid}.${randomHex(4)}.tmp`;

/** The pid in `name` when it is a temp file of `path` (as `tempPathFor` names them), else undefined. */
export function staleTempPid(path: string, name: string): number | undefined {
  const prefix = `${basename(path)}.`;
  if (!name.startsWith(prefix) || !name.endsWith(".tmp")) return undefined;
  const pid = name.slice(prefix.length, -".tmp".length);
  return /^\d+$/.test(pid) ? Number(pid) : undefined;
}

/**
 * Removes the temp files of `path` (`<path>.<pid>.<hex>.tmp`) left by processes that are gone: a
 * `kill -9` in the middle of a write. Called after writing `path` again (a cache entry the killed
 * run never finished is a miss, answered and written anew), so no folder listing costs a hit.
 */
export async function removeDeadTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    const pid = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.startsWith(prefix) ? name.slice(prefix.length) : "")?.[1];
    if (pid && Number(pid) !== process.pid && !pidAlive(Number(pid))) await rm(join(dirname(path), name), { force: true });
  }
}

/** Moves a finished temp file over `path`; the temp is removed if the rename fails. */
export function commitTemp(temp: string, path: string): void {
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Replaces `path` with `data` atomically, creating its folder. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = uniqueTempFor(path);
  try {
    writeFileSync(temp, data);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  commitTemp(temp, path);
}

/** `writeFileAtomic`s under way: finished at once if the process exits first (see `finishOnExit`). */
const pending = new Map<string, { path: string; data: string | Uint8Array }>();

/**
 * A process that exits while writes are under way (a second Ctrl-C calls `process.exit`) finishes
 * them first, synchronously: a cache entry is an answer already paid for, which a rerun would
 * otherwise pay for again, and its temp file would stay behind for good.
 */
function finishOnExit(): void {
  for (const [temp, { path, data }] of pending) {
    try {
      writeFileAtomicSync(path, data);
    } catch {
      // Exiting: what cannot be written now is a miss for the next run.
    }
    rmSync(temp, { force: true });
  }
  pending.clear();
}

/** `writeFileAtomicSync` without blocking: for the cache, where many writes run at once. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = uniqueTempFor(path);
  if (pending.size === 0 && !process.listeners("exit").includes(finishOnExit)) process.on("exit", finishOnExit);
  pending.set(temp, { path, data });
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    // The write's own error is the one to report: removing a temp under a path that is not a
    // folder fails too (Bun says EFAULT), and must not take its place.
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  } finally {
    pending.delete(temp);
  }
}
