import { accessSync, constants, createReadStream, existsSync, openSync, readSync, closeSync, fstatSync, ftruncateSync, statSync, writeSync, type Stats } from "node:fs";
import { SAError } from "./errors.ts";
import { arrayItemLines, syntaxErrorLine } from "./json-position.ts";
import { withoutBom } from "./utf8-text.ts";

export interface InputRecord {
  /** 1-based line number in the file (where the item starts, in a JSON array file). */
  line: number;
  value?: unknown;
  /** Why the line is not JSON. */
  error?: string;
  /** The line as read, when it is not JSON (for the quarantine). */
  text?: string;
}

/** Fails early, with exit code 2, for an input that cannot be read at all. */
export function assertReadable(path: string): void {
  if (path === "-") return;
  if (!existsSync(path)) throw new SAError("E_INPUT_UNREADABLE", `input ${path}: file not found`);
  try {
    const stats = statSync(path);
    if (!stats.isFile() && !isStream(stats)) throw new SAError("E_INPUT_UNREADABLE", `input ${path}: not a file`);
    accessSync(path, constants.R_OK);
  } catch (error) {
    if (error instanceof SAError) throw error;
    throw new SAError("E_INPUT_UNREADABLE", `input ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
  }
}

/** A named pipe (a shell's `<(...)`) or a device (`/dev/stdin`): read once, front to back, as stdin is. */
const isStream = (stats: Stats) => stats.isFIFO() || stats.isCharacterDevice() || stats.isSocket();

/** Whether an input can be read only once (`-`, a pipe, a device): a reader that needs two passes keeps a copy. */
export const readOnce = (path: string) => path === "-" || isStream(statSync(path));

/**
 * stdin's lines, or a pipe's (node:readline, which waits for input without blocking the run); a
 * file's are read without streams (`fileLines`).
 */
function inputLines(path: string): AsyncIterable<string> {
  if (path !== "-") assertReadable(path);
  if (path !== "-" && !isStream(statSync(path))) return fileLines(path);
  const { createInterface } = require("node:readline") as typeof import("node:readline");
  const input = path === "-" ? process.stdin : createReadStream(path);
  return createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
}

const CHUNK = 64 * 1024;

/**
 * Each line of a file, split at `\n` (left out) and with its byte offset, read a chunk at a time so
 * a file of any size is never held whole. Empty lines count; the last line needs no newline. A
 * line's bytes may be a view of the read buffer: use them before asking for the next line.
 */
export function* lineBytes(path: string): Generator<{ bytes: Buffer; offset: number }> {
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.allocUnsafe(CHUNK);
    let pending: Buffer[] = [];
    let lineStart = 0;
    let position = 0;
    for (let n = readSync(fd, chunk, 0, CHUNK, position); n > 0; n = readSync(fd, chunk, 0, CHUNK, position)) {
      let from = 0;
      for (let i = chunk.indexOf(0x0a, 0); i >= 0 && i < n; i = chunk.indexOf(0x0a, i + 1)) {
        const part = chunk.subarray(from, i);
        yield { bytes: pending.length ? Buffer.concat([...pending, part]) : part, offset: lineStart };
        pending = [];
        from = i + 1;
        lineStart = position + from;
      }
      if (from < n) pending.push(Buffer.from(chunk.subarray(from, n)));
      position += n;
    }
    const rest = Buffer.concat(pending);
    if (rest.length) yield { bytes: rest, offset: lineStart };
  } finally {
    closeSync(fd);
  }
}

/**
 * A file's lines as node:readline gives them (`\n`, `\r\n` and a lone `\r` end a line; the last
 * line needs no end). Plain reads (`lineBytes`), not a stream: loading node's streams costs a run
 * ~10 ms before its first request. A line is decoded whole, so a character is never cut; the
 * byte-order mark is kept, as a stream's decoder keeps it (readRecords drops it).
 */
export async function* fileLines(path: string): AsyncGenerator<string> {
  for (const { bytes } of lineBytes(path)) {
    const text = bytes.toString("utf8");
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line.includes("\r")) yield* line.split("\r");
    else yield line;
  }
}

/** A file read whole: a JSON array, or one pretty-printed JSON object. */
interface WholeFile {
  kind: "array" | "object";
  lines: string[];
  /** The line of its `[` or `{`. */
  start: number;
}

/**
 * The whole-file form a first line starts: `[` a JSON array; a line of only `{` one object spread
 * over lines (what `JSON.stringify(x, null, 2)`, `jq .` and Python's `json.dump(indent=)` write),
 * never a JSONL line, whose object closes on its own line.
 */
const wholeFileKind = (text: string): WholeFile["kind"] | undefined => (text.startsWith("[") ? "array" : text === "{" ? "object" : undefined);

/**
 * Streams JSONL records one line at a time, so a large input never sits in memory.
 * A file whose first character is `[` is a JSON array, and one whose first line is only `{` one
 * pretty-printed object: each is read whole. With `strictUtf8` (a services file, which people
 * export from other tools) a line holding U+FFFD is a bad line.
 */
export async function* readRecords(path: string, options: { strictUtf8?: boolean } = {}): AsyncGenerator<InputRecord> {
  const strict = options.strictUtf8 ?? false;
  const lines = inputLines(path);
  let lineNo = 0;
  let whole: WholeFile | undefined;
  let seenContent = false;
  try {
    for await (const line of lines) {
      lineNo++;
      // A UTF-8 byte-order mark (Excel, Notepad) is not part of the first line's JSON.
      const raw = lineNo === 1 ? withoutBom(line) : line;
      if (whole) {
        whole.lines.push(strict ? assertArrayText(path, lineNo, raw) : raw);
        continue;
      }
      const text = raw.trim();
      if (!text) continue;
      const kind = seenContent ? undefined : wholeFileKind(text);
      if (kind) {
        whole = { kind, lines: [strict ? assertArrayText(path, lineNo, raw) : raw], start: lineNo };
        continue;
      }
      seenContent = true;
      if (strict && text.includes(REPLACEMENT)) {
        yield { line: lineNo, error: notUtf8(raw), text: raw };
        continue;
      }
      try {
        yield { line: lineNo, value: JSON.parse(text) };
      } catch (error) {
        yield { line: lineNo, error: text === "{" ? SPREAD_OBJECT : `invalid JSON (${(error as Error).message})`, text: raw };
      }
    }
  } catch (cause) {
    if (cause instanceof SAError) throw cause;
    throw new SAError("E_INPUT_UNREADABLE", `input ${path}: ${(cause as Error).message}`, { cause });
  }
  if (whole?.kind === "array") yield* arrayRecords(path, whole.lines.join("\n"), whole.start);
  if (whole?.kind === "object") yield objectRecord(path, whole.lines.join("\n"), whole.start);
}

/** A line holding only `{`: a pretty-printed object, where JSONL wants one object per line. */
const SPREAD_OBJECT = "invalid JSON: a line with only \"{\", an object spread over several lines; JSONL holds one object per line (`jq -c . FILE` writes it so)";

/**
 * U+FFFD is what a decoder puts for bytes that are not UTF-8 (a Latin-1 or UTF-16 export): such a
 * services line is refused, not sent to the model with its letters replaced. (JSON text is UTF-8,
 * RFC 8259.) Evolutions are not checked: there the mark can be an answer's own text.
 */
const REPLACEMENT = "\uFFFD";
const notUtf8 = (line: string) => `not UTF-8 text (column ${line.indexOf(REPLACEMENT) + 1}); save the file as UTF-8`;

/** A line of a JSON array input, as it is; one that is not UTF-8 makes the whole array unreadable, as a syntax error does. */
function assertArrayText(path: string, lineNo: number, line: string): string {
  if (line.includes(REPLACEMENT)) throw new SAError("E_INPUT_UNREADABLE", `input ${path}:${lineNo}: ${notUtf8(line)}`);
  return line;
}

/**
 * The items of a JSON array input, each named by the line where it starts (`firstLine`: the line
 * of its `[`). The lines are found only when one is asked for (a bad item): a second pass over a
 * large array costs half as much again as parsing it.
 */
function* arrayRecords(path: string, text: string, firstLine: number): Generator<InputRecord> {
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch (cause) {
    const line = syntaxErrorLine(text);
    throw new SAError("E_INPUT_UNREADABLE", `input ${path}${line ? `:${line + firstLine - 1}` : ""}: invalid JSON array (${(cause as Error).message})`, { cause });
  }
  if (!Array.isArray(items)) throw new SAError("E_INPUT_UNREADABLE", `input ${path}: expected a JSON array`);
  let lines: number[] | undefined;
  const lineOf = (index: number) => ((lines ??= arrayItemLines(text))[index] ?? index + 1) + firstLine - 1;
  for (const [index, value] of items.entries()) {
    yield {
      get line() {
        return lineOf(index);
      },
      value,
    };
  }
}

/**
 * One pretty-printed object, as the one record of its file (named by the line of its `{`). One
 * that is not valid JSON as a whole (several objects, one after another, as `jq .` writes a JSONL
 * file; a JSONL file whose first object alone is spread) is one error naming the line at fault.
 */
function objectRecord(path: string, text: string, firstLine: number): InputRecord {
  try {
    return { line: firstLine, value: JSON.parse(text) };
  } catch (cause) {
    const line = syntaxErrorLine(text);
    const where = `input ${path}${line ? `:${line + firstLine - 1}` : ""}`;
    // What comes before the line at fault is whole: another value starts there.
    const another = line !== undefined && line > 1 && isJson(text.split("\n").slice(0, line - 1).join("\n"));
    const what = another ? "a second JSON object starts here" : `a pretty-printed JSON object that is not valid JSON (${(cause as Error).message})`;
    throw new SAError("E_INPUT_UNREADABLE", `${where}: ${what}; objects spread over several lines are not JSONL, which holds one object per line (\`jq -c . FILE\` writes it so)`, { cause });
  }
}

/** Canonical JSON: keys sorted at every depth, so equal data gives equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(typeof value === "object" && value !== null && builtInOrder.has(value) ? value : sortKeys(value));
}

/** Values their builder made in canonical order (see `markCanonical`): written without a walk. */
const builtInOrder = new WeakSet<object>();

/**
 * Marks a value whose builder made every object in it with sorted keys, at every depth, so that
 * `canonicalJson` writes it as it is: on a large line the walk that checks the order costs as much
 * as writing it. The builder keeps that promise, and so does anything that changes the value
 * later (with `canonical`); a test walks what the builder makes.
 */
export function markCanonical<T extends object>(value: T): T {
  builtInOrder.add(value);
  return value;
}

/** The value with its keys sorted at every depth: itself when it already is, else a copy. */
export const canonical = <T>(value: T): T => sortKeys(value) as T;

const isPlain = (value: object) => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

/**
 * The value with every object's keys in sorted order. What is already in order is returned as it
 * is, not copied (JSON.stringify drops undefined values either way); an array or object is copied
 * only when something in it had to change. An evolution is built in key order, so the common case
 * is a walk that checks each object's keys as it goes (`for...in`, no key array) and copies nothing.
 */
function sortKeys(value: unknown): unknown {
  if (!value || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const sorted = sortKeys(value[i]);
      if (!out && sorted !== value[i]) out = value.slice(0, i);
      out?.push(sorted);
    }
    return out ?? value;
  }
  const source = value as Record<string, unknown>;
  if (!isPlain(source)) return sortedCopy(source);
  let previous: string | undefined;
  for (const key in source) {
    if (previous !== undefined && previous > key) return sortedCopy(source);
    const v = source[key];
    const sorted = sortKeys(v);
    if (sorted !== v) return sortedCopy(source, key, sorted);
    previous = key;
  }
  return source;
}

/** A copy of an object with its keys sorted, each value sorted too (`known`: one already done). */
function sortedCopy(source: Record<string, unknown>, knownKey?: string, known?: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source).sort()) {
    const sorted = key === knownKey ? known : sortKeys(source[key]);
    if (sorted !== undefined) out[key] = sorted;
  }
  return out;
}

/**
 * A `kill -9` can leave half a line at the end of a JSONL file. Cut the file back to its
 * last newline so appending starts clean. Returns the bytes removed. A last line that is whole
 * JSON and lacks only its newline (an editor saved it so) is kept: it gets its newline instead.
 */
export function truncatePartialLine(path: string): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, "r+");
  try {
    const size = fstatSync(fd).size;
    const keep = afterLastNewline(fd, size);
    if (keep === size) return 0;
    if (isJson(readRange(fd, keep, size))) {
      writeSync(fd, "\n", size);
      return 0;
    }
    ftruncateSync(fd, keep);
    return size - keep;
  } finally {
    closeSync(fd);
  }
}

/** The offset just after the last newline of a file (0 when it has none), read backwards a chunk at a time. */
function afterLastNewline(fd: number, size: number): number {
  const chunk = Buffer.alloc(Math.min(size, 1 << 20));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const n = readSync(fd, chunk, 0, end - start, start);
    const idx = chunk.subarray(0, n).lastIndexOf(0x0a);
    if (idx >= 0) return start + idx + 1;
    end = start;
  }
  return 0;
}

function readRange(fd: number, start: number, end: number): string {
  const bytes = Buffer.alloc(end - start);
  for (let done = 0; done < bytes.length; ) done += readSync(fd, bytes, done, bytes.length - done, start + done);
  return bytes.toString("utf8");
}

/** Whether `text` parses as JSON. */
export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
