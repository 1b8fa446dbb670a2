import { accessSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, statSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { staleTempPid } from "./atomic-write.ts";
import { SAError } from "./errors.ts";
import { breakStaleLock, lockAgeMs, lockOwner, readLock, tryLock, UNREADABLE_STALE_MS, unlock } from "./file-lock.ts";
import type { Log } from "./log.ts";
import { ownerGone, pidAlive } from "./process-alive.ts";
import { fsReason } from "./fs-reason.ts";

/**
 * A run owns its output: `<output>.lock` names the process that writes it. The lock is created
 * with O_EXCL (`lib/file-lock.ts`), which only one process can win; it is stale when its
 * process is gone from this host, and then taken over. Released on every exit path, `kill -9`
 * aside (that is what the stale rule is for).
 */
export interface OutputClaim {
  release(): void;
}

export const lockOwnerSchema = z.looseObject({
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  task: z.string().optional(),
  runId: z.string().optional(),
});
export type LockOwner = z.infer<typeof lockOwnerSchema>;

const outputLockPath = (output: string) => `${output}.lock`;

/**
 * The file an output path names: a symlink's target (even one not made yet), else the path as it
 * is. The final rewrite renames a file over it, which would replace the link itself; and two runs
 * through two links to one file must meet at one lock.
 */
export function outputFile(output: string): string {
  if (output === "-") return output;
  try {
    if (!lstatSync(output).isSymbolicLink()) return output;
  } catch {
    return output; // not there yet
  }
  try {
    return realpathSync(output);
  } catch {
    return resolve(dirname(output), readlinkSync(output));
  }
}


const unwritable = (output: string, reason: string, cause?: unknown) =>
  new SAError("E_USAGE", `--output ${output}: cannot be written (${reason})`, { cause });

/**
 * Everything that would stop the output from being written, found before the first call: a
 * folder where the file should be, a parent that is a file, no write permission. A missing
 * folder is created. (Root passes permission checks; the lock file is then the real probe.)
 */
export function checkOutputWritable(output: string): void {
  const kind = existsSync(output) ? statSync(output) : undefined;
  if (kind?.isDirectory()) throw unwritable(output, "it is a folder");
  // The file is written beside it and renamed into place: over /dev/null that rename would replace the device (as root, for every program).
  if (kind && !kind.isFile()) {
    throw new SAError("E_USAGE", `--output ${output}: cannot be written (not a regular file: a device, a pipe or a socket, which the rename into place would replace); give a file, or --output - and redirect stdout`);
  }
  const dir = dirname(output);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw unwritable(output, `cannot create folder ${dir}: ${fsReason(error)}`, error);
  }
  if (!statSync(dir).isDirectory()) throw unwritable(output, `${dir} is a file, not a folder`);
  try {
    accessSync(dir, constants.W_OK);
    if (existsSync(output)) accessSync(output, constants.W_OK);
  } catch (error) {
    throw unwritable(output, fsReason(error), error);
  }
}

function readOwner(lock: string): LockOwner | undefined {
  try {
    return lockOwnerSchema.safeParse(JSON.parse(readLock(lock) ?? "")).data;
  } catch {
    return undefined;
  }
}

/** Creates the lock file only if none exists; returns false when another holds it. */
function tryCreate(lock: string, owner: LockOwner, output: string): boolean {
  try {
    return tryLock(lock, `${JSON.stringify(owner)}\n`);
  } catch (error) {
    throw unwritable(output, `cannot create ${lock}: ${fsReason(error)}`, error);
  }
}

const heldBy = (output: string, lock: string, owner: LockOwner | undefined) => {
  const who = owner ? `${owner.task ?? "a run"}${owner.runId ? ` ${owner.runId}` : ""} (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt})` : "another run (its lock file is unreadable)";
  return new SAError("E_USAGE", `--output ${output} is in use by ${who}; wait for it to finish, or remove ${lock} if that process is gone`);
};

/**
 * A lock naming this process's own pid on this host, taken before this process started, was left
 * by an earlier process that had the same pid: killed, then its container restarted, where pids
 * start again from the same low numbers. `ownerGone` cannot see that (the pid is alive: it is us).
 */
const ownPidReused = (owner: LockOwner) => owner.pid === process.pid && owner.host === hostname() && Date.parse(owner.startedAt) < performance.timeOrigin;

/** A lock whose content cannot be read for a while (a crash between create and write) is stale. */
const unreadableFor = (lock: string, ms: number) => (lockAgeMs(lock) ?? Number.POSITIVE_INFINITY) > ms;

/** Whether the output's lock, held by `owner` (undefined: its content cannot be read), was left by a process that is gone. */
const staleClaim = (lock: string, owner: LockOwner | undefined) => (owner ? ownerGone(owner) || ownPidReused(owner) : unreadableFor(lock, UNREADABLE_STALE_MS));

function acquire(output: string, owner: LockOwner, log: Log): void {
  const lock = outputLockPath(output);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(lock, owner, output)) return;
    const current = readOwner(lock);
    const stale = staleClaim(lock, current);
    if (!stale) {
      if (!current && attempt < 2) Bun.sleepSync(50); // just created, not yet written
      else throw heldBy(output, lock, current);
      continue;
    }
    // Judged again under the break lock: a lock another process took over meanwhile is alive, and the next attempt finds it.
    const broken = breakStaleLock(lock, () => existsSync(lock) && staleClaim(lock, readOwner(lock)));
    if (broken) log.warn(`--output ${output}: taking over the lock of ${current ? `pid ${current.pid} on ${current.host}, which is gone` : "an unreadable lock file"}`);
  }
  throw heldBy(output, lock, readOwner(lock));
}

/** Temp files of the final rewrite or of an export (`<output>.<pid>.tmp`) whose process is gone. */
export function removeStaleTemps(output: string, log?: Log): void {
  const dir = dirname(output);
  for (const name of readdirSync(dir)) {
    const pid = staleTempPid(output, name);
    if (!pid || pid === process.pid || pidAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      log?.warn(`--output ${output}: removed ${name}, left by process ${pid} that is gone`);
    } catch {
      // Gone already.
    }
  }
}

/**
 * Claims a file output for this process: checks it can be written, takes its lock (exit 2 naming
 * the owner when another live run holds it) and removes temp files that dead runs left. `-`
 * (stdout) needs no claim.
 */
export function claimOutput(output: string, options: { task: string; runId: string; log: Log }): OutputClaim {
  if (output === "-") return { release: () => {} };
  checkOutputWritable(output);
  const owner: LockOwner = lockOwner({ task: options.task, runId: options.runId });
  acquire(output, owner, options.log);
  removeStaleTemps(output, options.log);
  const lock = outputLockPath(output);
  const release = () => {
    process.off("exit", release);
    const current = readOwner(lock);
    if (current?.pid === process.pid && current.runId === options.runId) unlock(lock);
  };
  // Any exit that skips the normal path (a second Ctrl-C, process.exit elsewhere) still releases.
  process.on("exit", release);
  return { release };
}
