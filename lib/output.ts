import { appendFileSync, closeSync, existsSync, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { commitTemp, tempPathFor } from "./atomic-write.ts";
import { SAError } from "./errors.ts";
import { fsReason } from "./fs-reason.ts";
import { evolutionSchema, type ServiceEvolution } from "./schema/evolution.ts";
import { canonicalJson, isJson, lineBytes, truncatePartialLine } from "./jsonl.ts";
import { writeStdout } from "./stdout.ts";
import { fastCheckOf } from "./zod-fast-check.ts";
import { gapsOf } from "./pipeline/gaps.ts";
import { formatIssues } from "./zod-error.ts";
import { pythonLineKey, writtenByPython } from "./python-line.ts";
import { withoutBom } from "./utf8-text.ts";

/**
 * An evolution counts as complete when it has every plateau and every catalogue (by field) asked
 * for, and names no gap (a part left empty by an answer that stayed invalid, lib/pipeline/gaps.ts).
 */
export function isComplete(evolution: ServiceEvolution, plateauCount: number, fields: string[]): boolean {
  if (evolution.plateaus.length !== plateauCount || gapsOf(evolution.meta.models)) return false;
  return fields.every((field) => evolution.meta.mapping_types.includes(field));
}

/** Where a line records the fingerprint of the inputs it was made from (see lib/fingerprint.ts). */
export const fingerprintOf = (evolution: ServiceEvolution): string | undefined => {
  const value = evolution.meta.models?.fingerprint;
  return typeof value === "string" ? value : undefined;
};

/** What resume compares a line by: its fingerprint, or for a line the Python tool wrote (none), its `python:` key. */
function resumeKeyOf(e: ServiceEvolution): string | undefined {
  const fingerprint = fingerprintOf(e);
  if (fingerprint || !writtenByPython(e.meta)) return fingerprint;
  return pythonLineKey({ service: e.service, catalogueHash: e.meta.catalogue_hash, mappingTypes: e.meta.mapping_types, models: e.meta.models });
}

export interface EvolutionWriter {
  /** Services already complete in the output, with the fingerprint of their line's inputs (a `python:` key for the Python tool's lines). */
  readonly done: Map<string, string | undefined>;
  /** Resolves once the line is written (for stdout: taken by the pipe, so a slow reader slows us). */
  write(evolution: ServiceEvolution): void | Promise<void>;
  /** Rewrites the file atomically in input order; lines of services not in the input stay, after. */
  finish(inputOrder: Iterable<string>): void;
}

interface LineRef {
  offset: number;
  length: number;
  complete: boolean;
}

/** Calls `onLine` for each non-empty line of a file, with its 1-based number, byte offset and length (lib/jsonl.ts `lineBytes`). */
function scanLines(path: string, onLine: (text: string, at: { line: number; offset: number; length: number }) => void): void {
  if (!existsSync(path)) return;
  let line = 0;
  for (const { bytes, offset } of lineBytes(path)) {
    line++;
    // A byte-order mark an editor added is no part of the first line: the rewrite leaves it out.
    const bom = offset === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    if (bytes.length > bom) onLine(bytes.toString("utf8", bom), { line, offset: offset + bom, length: bytes.length - bom });
  }
}

// A line is encoded into one reused buffer (UTF-8 is at most 3 bytes per UTF-16 unit): one pass
// gives its bytes and its length, where measuring it and then writing the text took two.
const encoder = new TextEncoder();
const KEEP_SCRATCH = 4 * 1024 * 1024;
let scratch = new Uint8Array(256 * 1024);

/**
 * Appends `text` and a newline with one write, as appendFileSync would; what a short write left out
 * follows. The newline is put in the buffer after the text, not added to the text (which would copy
 * a line of tens of kilobytes once more). Returns the bytes of the text, without the newline.
 */
function appendLine(fd: number, text: string): number {
  let target = scratch;
  if (target.length < text.length * 3 + 1) {
    target = new Uint8Array(text.length * 3 + 1);
    if (target.length <= KEEP_SCRATCH) scratch = target;
  }
  const bytes = encoder.encodeInto(text, target).written;
  target[bytes] = 0x0a;
  for (let done = 0; done <= bytes; ) done += writeSync(fd, target, done, bytes + 1 - done);
  return bytes;
}

/** The byte ranges to copy, each line with its newline; lines next to each other in the file make one range. */
function copyRanges(lines: LineRef[]): Array<{ offset: number; length: number }> {
  const ranges: Array<{ offset: number; length: number }> = [];
  for (const line of lines) {
    const last = ranges.at(-1);
    if (last && last.offset + last.length === line.offset) last.length += line.length + 1;
    else ranges.push({ offset: line.offset, length: line.length + 1 });
  }
  return ranges;
}

/** Copies byte ranges of `source` to the end of `target` through one buffer; a last line without its newline gets one. */
function copyInto(source: number, target: number, ranges: Array<{ offset: number; length: number }>): void {
  const buffer = Buffer.alloc(1 << 20);
  for (const { offset, length } of ranges) {
    for (let done = 0; done < length; ) {
      const n = readSync(source, buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (n === 0) {
        writeSync(target, "\n");
        break;
      }
      writeSync(target, buffer, 0, n);
      done += n;
    }
  }
}

// Lines we wrote pass the compiled check as they are; anything else is parsed by zod as before.
// (Compiled on first use: a run with no output yet never needs it.)
function parse(line: string): { evolution: ServiceEvolution } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { reason: `invalid JSON (${(error as Error).message})` };
  }
  if (fastCheckOf(evolutionSchema)?.(value)) return { evolution: value as ServiceEvolution };
  const result = evolutionSchema.safeParse(value);
  return result.success ? { evolution: result.data } : { reason: formatIssues(result.error) };
}

/** A line of an existing output that is not an evolution: the rewrite leaves it out, so it is handed over first. */
export interface ForeignLine {
  line: number;
  text: string;
  reason: string;
}

/**
 * JSONL output of evolutions. Lines are appended as services complete (one write per line, so
 * an interrupted run leaves whole lines), and the file is rewritten in input order at the end,
 * so two runs give identical files. `-` streams to stdout in completion order.
 */
export function createEvolutionWriter(path: string, options: { fresh: boolean; plateauCount: number; /** The catalogues' fields. */ sets: string[]; onTruncate?: (bytes: number) => void; onForeign?: (foreign: ForeignLine) => void }): EvolutionWriter {
  const done = new Map<string, string | undefined>();
  if (path === "-") {
    return { done, write: (e) => writeStdout(`${canonicalJson(e)}\n`), finish: () => {} };
  }
  mkdirSync(dirname(path), { recursive: true });
  if (options.fresh && existsSync(path)) unlinkSync(path);
  assertOutputFile(path);
  const cut = truncatePartialLine(path);
  if (cut > 0) options.onTruncate?.(cut);
  // The output exists from the start, so a run that exits before its end (a second Ctrl-C) still leaves a valid, empty file.
  if (!existsSync(path)) appendFileSync(path, "");
  const complete = (e: ServiceEvolution) => isComplete(e, options.plateauCount, options.sets);
  // Where each service's line is, so the final rewrite needs no parsing: among the lines already
  // in the file (parsed once, here, for resume) a complete line wins over an older incomplete one;
  // a line this run writes wins over them all.
  const refs = new Map<string, LineRef>();
  const note = (id: string, ref: LineRef) => {
    if (!refs.has(id) || ref.complete || !refs.get(id)!.complete) refs.set(id, ref);
  };
  scanLines(path, (text, { line, offset, length }) => {
    const result = parse(text);
    if ("reason" in result) return options.onForeign?.({ line, text, reason: result.reason });
    const parsed = result.evolution;
    const ref = { offset, length, complete: complete(parsed) };
    // The last complete line of a service wins, as in `finish`.
    if (ref.complete) done.set(parsed.service.service_id, resumeKeyOf(parsed));
    note(parsed.service.service_id, ref);
  });
  let size = existsSync(path) ? statSync(path).size : 0;
  // One descriptor for the run's appends (opening the file for each line costs more than the write).
  let fd: number | undefined;
  return {
    done,
    write(evolution) {
      const text = canonicalJson(evolution);
      fd ??= openSync(path, "a");
      let length: number;
      try {
        length = appendLine(fd, text);
      } catch (error) {
        // A full disk took part of the line: what it took goes, so the output stays whole lines.
        ftruncateSync(fd, size);
        throw error;
      }
      // This run's line wins, even with gaps: an earlier line was made from other inputs (else the service was skipped).
      refs.set(evolution.service.service_id, { offset: size, length, complete: complete(evolution) });
      size += length + 1;
    },
    finish(inputOrder) {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      rewriteInOrder(path, refs, inputOrder);
    },
  };
}

/**
 * Refuses a file that holds lines but not one evolution: another file named by mistake, which the
 * final rewrite would replace. The first evolution line ends the check (one line, on a resume). A
 * last line cut short (no newline, not JSON) is left out: a crash during the first write leaves only that.
 */
function assertOutputFile(path: string): void {
  if (!existsSync(path)) return;
  const size = statSync(path).size;
  let line = 0;
  let first: { line: number; reason: string } | undefined;
  for (const { bytes, offset } of lineBytes(path)) {
    line++;
    const text = withoutBom(bytes.toString("utf8"));
    if (!text.trim()) continue;
    const result = parse(text);
    if (!("reason" in result)) return;
    const cutShort = offset + bytes.length === size && !isJson(text);
    if (!cutShort) first ??= { line, reason: result.reason };
  }
  if (first) throw new SAError("E_USAGE", `--output ${path}: line ${first.line} is not an evolution (${first.reason}), and no line is: it looks like another file, so it is left as it is; name a new file, or start this one over with --fresh`);
}

/** Rewrites the file atomically with its lines in input order; lines of services not in the input stay, after. */
function rewriteInOrder(path: string, refs: Map<string, LineRef>, inputOrder: Iterable<string>): void {
  // The engine's Set is used as it is: a copy of one with tens of thousands of ids is megabytes.
  const inInput = inputOrder instanceof Set ? (inputOrder as ReadonlySet<string>) : new Set(inputOrder);
  const lines: LineRef[] = [];
  for (const id of inInput) if (refs.has(id)) lines.push(refs.get(id)!);
  for (const [id, ref] of refs) if (!inInput.has(id)) lines.push(ref);
  if (!existsSync(path)) appendFileSync(path, ""); // nothing finished: the output is an empty, valid file
  const ranges = copyRanges(lines);
  // Already in input order, with nothing superseded: the rewrite would copy the file as it is.
  const fileSize = statSync(path).size;
  if (ranges.length === 0 ? fileSize === 0 : ranges.length === 1 && ranges[0]!.offset === 0 && ranges[0]!.length === fileSize) return;
  const temp = tempPathFor(path);
  try {
    copyToTemp(path, temp, ranges);
    commitTemp(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error;
    throw new SAError("E_WRITE", `--output ${path}: cannot be rewritten in input order (${fsReason(error)}); it is left as it was, its lines in the order they were written`, { cause: error });
  }
}

function copyToTemp(path: string, temp: string, ranges: Array<{ offset: number; length: number }>): void {
  const source = openSync(path, "r");
  let target: number | undefined;
  try {
    target = openSync(temp, "w");
    fchmodSync(target, fstatSync(source).mode & 0o7777); // the new file keeps the old one's permissions
    copyInto(source, target, ranges);
  } finally {
    closeSync(source);
    if (target !== undefined) closeSync(target);
  }
}
