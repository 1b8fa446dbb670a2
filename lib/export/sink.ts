import { createWriteStream, rmSync } from "node:fs";
import { once } from "node:events";
import { PassThrough, type Writable } from "node:stream";
import { commitTemp, tempPathFor } from "../atomic-write.ts";
import { SAError } from "../errors.ts";
import { checkOutputWritable, removeStaleTemps } from "../output-claim.ts";
import { onStdoutClosed, stdoutStream } from "../stdout.ts";

/** Where an export is written as it goes: a temp file renamed into place at the end, or stdout. */
export interface Sink {
  path: string;
  stream: Writable;
  /** Buffers small pieces and waits when the stream asks it to (backpressure). */
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): void;
}

const CHUNK = 1 << 16;

/** stdout behind a pass-through; when the reader goes away (EPIPE) the pass-through fails, so no write waits for ever. */
function toStdoutStream(): PassThrough {
  const pass = new PassThrough();
  pass.pipe(stdoutStream(), { end: false });
  const removeWatch = onStdoutClosed(() => pass.destroy(new SAError("E_INTERRUPTED", "the reader of --output - went away (EPIPE)")));
  pass.once("close", removeWatch);
  return pass;
}

export function openSink(path: string): Sink {
  const toStdout = path === "-";
  const temp = tempPathFor(path);
  // A folder where the file goes, a parent that is a file, no permission: named now, not at the rename.
  if (!toStdout) checkOutputWritable(path);
  // An export stopped by Ctrl-C, SIGTERM or a crash left its temp file: it goes now.
  if (!toStdout) removeStaleTemps(path);
  // stdout is never ended, so a writer that waits for "finish" (exceljs) gets a pass-through.
  const stream: Writable = toStdout ? toStdoutStream() : createWriteStream(temp);
  // A process that exits before the commit (Ctrl-C, SIGTERM: lib/signals.ts exits 130 or 143) takes its temp file with it.
  const removeTemp = () => rmSync(temp, { force: true });
  if (!toStdout) process.once("exit", removeTemp);
  let pending: string[] = [];
  let size = 0;
  const flush = async () => {
    if (!pending.length) return;
    const text = pending.join("");
    pending = [];
    size = 0;
    if (!stream.write(text)) await once(stream, "drain");
  };
  return {
    path,
    stream,
    async write(text) {
      pending.push(text);
      size += text.length;
      if (size >= CHUNK) await flush();
    },
    async commit() {
      await flush();
      if (toStdout) {
        if (!stream.writableEnded) stream.end();
        if (!(stream as PassThrough).readableEnded) await once(stream, "end");
        return;
      }
      // A writer that pipes into the stream (the XLSX zip) ends it itself.
      if (!stream.writableEnded) stream.end();
      if (!stream.writableFinished) await once(stream, "finish");
      commitTemp(temp, path);
      process.off("exit", removeTemp);
    },
    abort() {
      if (toStdout) return;
      stream.destroy();
      removeTemp();
      process.off("exit", removeTemp);
    },
  };
}
