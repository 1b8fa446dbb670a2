/**
 * stdout as a pipe: a reader may be slower than we write (backpressure) or may go away (EPIPE).
 * Bun drops what is still buffered when the process exits, so every task ends with
 * `flushStdout()`, and results written line by line wait for each write to be taken.
 */

let closed = false;
const closedHandlers = new Set<() => void>();

let watching = false;

/**
 * Listens for the reader going away. Without a listener an EPIPE would be an uncaught error: a
 * crash, not a stop. Called by everything here before stdout is first touched, not when this
 * module loads: making process.stdout loads node's streams, milliseconds a run's first request
 * need not wait for. Write to stdout only through this module.
 */
export function watchStdout(): void {
  if (watching) return;
  watching = true;
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = error.code === "EPIPE" || error.code === "ERR_STREAM_DESTROYED" || closed;
    if (closed) for (const handler of closedHandlers) handler();
  });
}

/** process.stdout, watched: for what pipes into it (an export to `-`). */
export function stdoutStream(): NodeJS.WriteStream {
  watchStdout();
  return process.stdout;
}

/** Whether the reader of stdout has gone away. */
export const stdoutClosed = () => closed;

/** Calls `handler` once stdout's reader goes away; returns a function that removes it. */
export function onStdoutClosed(handler: () => void): () => void {
  watchStdout();
  closedHandlers.add(handler);
  return () => closedHandlers.delete(handler);
}

/**
 * Writes and resolves once the bytes are handed to the OS, so a slow reader slows the writer
 * rather than the process's memory growing. After the reader has gone, writes are dropped.
 */
export function writeStdout(text: string | Uint8Array): Promise<void> {
  watchStdout();
  // Once a flush has ended stdout (the process is exiting), a late line is dropped, not an error.
  if (closed || flushing || process.stdout.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    process.stdout.write(text, () => resolve());
  });
}

let flushing: Promise<void> | undefined;

/**
 * Waits until everything written to stdout has left the process. Call it before exiting. A flush
 * already under way (a second Ctrl-C's, the run's own end) is waited for, not taken as done:
 * stdout is then ended but not finished, and exiting would cut the line its reader is taking.
 */
export function flushStdout(): Promise<void> {
  watchStdout();
  const out = process.stdout;
  if (closed || out.writableFinished) return Promise.resolve();
  // The same flush for every caller here: a stream on a file never reports itself ended, and a
  // second end() there never calls back. (A task's bundle has its own copy of this module: the
  // stream's flags cover a flush that copy began.)
  return (flushing ??= new Promise((resolve) => {
    // The reader going away ends the wait; a late write after the end (dropped) does not.
    const failed = (error: NodeJS.ErrnoException) => {
      if (error.code === "ERR_STREAM_WRITE_AFTER_END") return;
      out.off("error", failed);
      resolve();
    };
    out.on("error", failed);
    if (out.writableEnded) out.once("finish", () => resolve());
    else out.end(() => resolve());
  }));
}
