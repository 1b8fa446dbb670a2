import { SAError } from "./errors.ts";
import { fsReason } from "./fs-reason.ts";

/** The errors of a disk that takes no more writes. */
const diskCodes = new Set(["ENOSPC", "EDQUOT", "EROFS", "EIO"]);

/**
 * A failed write of the tool's own files (an output, a journal, a quarantine, an export) as one
 * line, E_WRITE; undefined for any other error. `after` ends the line: what was done about it.
 */
export function diskError(error: unknown, after: string): SAError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof SAError || !code || !diskCodes.has(code)) return undefined;
  const path = (error as NodeJS.ErrnoException).path;
  return new SAError("E_WRITE", `cannot write ${path ?? "to the disk"}: ${fsReason(error)}; ${after}`, { cause: error });
}
