import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { ownerGone } from "./process-alive.ts";

/**
 * The one lock mechanism: a lock file created with O_EXCL (`open(…, "wx")`), which only one
 * process can win, holding who took it. Used by the output's lock (`<output>.lock`, held for a
 * whole run) and the ledger's (`<ledger>.lock`, held for one read-modify-write). Hand-written
 * rather than `proper-lockfile`: that package locks with a folder and cannot say who holds it,
 * and the output lock must name its owner's pid and host.
 */

/** Who holds a lock: `{pid, host, startedAt}` plus what the caller adds. */
export const lockOwner = (extra: Record<string, unknown> = {}) => ({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...extra });

/**
 * Creates the lock file with `content` only if none exists. Returns false when another holds
 * it; any other failure (no permission, a parent that is a file) throws.
 */
export function tryLock(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, content);
  } catch (error) {
    // A full disk took the file but not its owner: an empty lock would hold everyone off until it went stale.
    closeSync(fd);
    unlock(path);
    throw error;
  }
  closeSync(fd);
  return true;
}

/** Removes a lock file; one already gone (released or broken by another) is fine. */
export function unlock(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** The lock file's content, or undefined when it is gone or unreadable. */
export function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** How long ago the lock file was last written; undefined when it is gone. */
export function lockAgeMs(path: string): number | undefined {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Removes the lock at `path` if it is still stale, as `stale` judges it now. Two processes that
 * both found the same dead owner's lock must not both remove "it": the second would remove the
 * lock the first has taken meanwhile, and both would hold it. So a removal is made holding
 * `<path>.break` (O_EXCL), after judging the lock again: a lock taken meanwhile is alive and
 * stays. A break file left by a process killed mid-break (gone from this host) is removed, and
 * the caller tries again. Returns whether the lock was removed.
 */
export function breakStaleLock(path: string, stale: () => boolean): boolean {
  const breaker = `${path}.break`;
  if (!tryLock(breaker, `${JSON.stringify(lockOwner())}\n`)) {
    if (ownerOf(breaker, ownerGone) ?? (lockAgeMs(breaker) ?? 0) > 5000) unlock(breaker);
    return false;
  }
  try {
    if (!stale()) return false;
    unlock(path);
    return true;
  } finally {
    unlock(breaker);
  }
}

/** `judge` applied to the owner recorded in a lock file; undefined when it is gone, not yet written, or names no pid. */
function ownerOf(path: string, judge: (owner: { pid?: number; host?: string }) => boolean): boolean | undefined {
  try {
    const owner = JSON.parse(readLock(path) ?? "");
    return typeof owner?.pid === "number" ? judge(owner) : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a lock file may hold no owner that can be read: it is written the moment it is created. */
export const UNREADABLE_STALE_MS = 5000;

/**
 * A lock older than `staleMs`, whose owner is gone from this host (`kill -9` while holding it), or
 * whose owner cannot be read for `UNREADABLE_STALE_MS` (a crash between create and write, or
 * garbage), was left behind.
 */
function isStale(path: string, staleMs: number): boolean {
  const age = lockAgeMs(path) ?? 0;
  const gone = ownerOf(path, ownerGone);
  // An owner not yet written (just created) is not gone.
  return age > staleMs || (gone ?? age > UNREADABLE_STALE_MS);
}

/**
 * Runs `fn` holding `path`, waiting (a few ms at a time, `attempts` times) while another holds
 * it. A lock older than `staleMs`, or whose process is gone from this host, was left by a crashed
 * process and is broken. `held` makes the error thrown when the lock never comes free.
 */
export async function withLock<T>(path: string, fn: () => T, options: { staleMs: number; attempts: number; held: () => Error }): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; !tryLock(path, `${JSON.stringify(lockOwner())}\n`); attempt++) {
    if (isStale(path, options.staleMs)) breakStaleLock(path, () => isStale(path, options.staleMs));
    if (attempt > options.attempts) throw options.held();
    await sleep(5 + Math.random() * 20);
  }
  try {
    return fn();
  } finally {
    unlock(path);
  }
}
