/** Why the file system refused an operation, in words: by its error code, else the code and message. */
const reasons: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "read-only file system",
  ENOTDIR: "a parent is a file, not a folder",
  EEXIST: "a parent is a file, not a folder",
  EISDIR: "it is a folder",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EIO: "input/output error",
};

export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return reasons[code ?? ""] ?? `${code ?? "error"}: ${(error as Error).message}`;
}
