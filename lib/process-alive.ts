import { hostname } from "node:os";

/** Whether a process with this id runs on this machine (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A process recorded as `{pid, host}` is known to be gone only when it ran on this machine and no
 * such process exists now. On another host it cannot be told, so it counts as alive.
 */
export const ownerGone = (owner: { pid?: number; host?: string }): boolean =>
  owner.pid !== undefined && owner.host === hostname() && owner.pid !== process.pid && !pidAlive(owner.pid);
