import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { CallRecord } from "./ledger.ts";

/**
 * A run's append-only journal, `<ledger dir>/journal/<runId>.jsonl`: a header line, one line per
 * answered (or failed) call as it happens, and an end line when the run stops. The ledger is
 * written whole and only now and then; the journal is what makes a run's totals survive a
 * `kill -9`. It is folded into the ledger when the run ends, or when the ledger is next read.
 */
export interface Journal {
  readonly path: string;
  append(call: CallRecord): void;
  /** Records how the run ended, for a process that must exit before it can write the ledger. */
  end(status: string, reason: string | null): void;
  /** The ledger now holds everything: the journal goes. */
  remove(): void;
}

export const journalHeaderSchema = z.looseObject({
  type: z.literal("run"),
  runId: z.string(),
  task: z.string(),
  startedAt: z.string(),
  pid: z.number().int(),
  host: z.string(),
});
export type JournalHeader = z.infer<typeof journalHeaderSchema>;

const count = z.number().int().min(0);
/** The parts of a call the totals are summed from. */
export const journalCallSchema = z.looseObject({
  type: z.literal("call"),
  stage: z.string(),
  model: z.string(),
  cache: z.enum(["hit", "live", "failed", "skipped"]),
  inputTokens: count,
  cachedInputTokens: count,
  outputTokens: count,
  reasoningTokens: count,
  retries: count,
  costUsd: z.number().nullable(),
  savedCostUsd: z.number().nullable(),
});

export const journalEndSchema = z.object({ type: z.literal("end"), status: z.string(), reason: z.string().nullable(), at: z.string() });

const HIT_BATCH = 256;
const HIT_DELAY_MS = 200;

export const journalDir = (ledgerPath: string) => join(dirname(ledgerPath), "journal");
export const journalPath = (ledgerPath: string, runId: string) => join(journalDir(ledgerPath), `${runId}.jsonl`);

/**
 * Cache hits cost nothing, and a cached rerun makes thousands a second: their lines are written
 * in batches (at most HIT_BATCH lines, or HIT_DELAY_MS late). A kill loses at most that many hit
 * counts, never a live call: any other line first writes what waits, then itself.
 */
function hitBatches(write: (text: string) => void) {
  let lines: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const text = lines.join("");
    lines = [];
    write(text);
  };
  return {
    add(text: string) {
      lines.push(text);
      if (lines.length >= HIT_BATCH) flush();
      else timer ??= setTimeout(flush, HIT_DELAY_MS).unref();
    },
    flush,
    drop() {
      if (timer) clearTimeout(timer);
      lines = [];
    },
  };
}

/**
 * Opens the file on the first line, so a run that never makes a call leaves no journal. Each
 * line (or batch of hit lines) is one `write` on a file opened for appending: a kill leaves whole lines, and at most a
 * torn last one, which the reader skips.
 */
export function createJournal(path: string, header: Omit<JournalHeader, "type" | "pid" | "host"> & Record<string, unknown>): Journal {
  let fd: number | undefined;
  let removed = false;
  const write = (text: string) => {
    if (removed) return;
    if (fd === undefined) {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, "a");
      writeSync(fd, `${JSON.stringify({ type: "run", ...header, pid: process.pid, host: hostname() })}\n`);
    }
    writeSync(fd, text);
  };
  const hits = hitBatches(write);
  const line = (value: { type: string; cache?: string } & Record<string, unknown>) => {
    if (value.cache === "hit") return hits.add(`${JSON.stringify(value)}\n`);
    hits.flush();
    write(`${JSON.stringify(value)}\n`);
  };
  return {
    path,
    append(call) {
      // `{ type: "call", ...call }` as text, without copying the record first.
      const text = `{"type":"call",${JSON.stringify(call).slice(1)}\n`;
      if (call.cache === "hit") return hits.add(text);
      hits.flush();
      write(text);
    },
    end: (status, reason) => line({ type: "end", status, reason, at: new Date().toISOString() }),
    remove() {
      hits.drop();
      removed = true;
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      if (existsSync(path)) unlinkSync(path);
    },
  };
}

export interface JournalContents {
  header?: JournalHeader;
  calls: CallRecord[];
  end?: z.infer<typeof journalEndSchema>;
  /** Lines that could not be read (1-based), each with why: the calls they held are not counted. */
  unreadable: Array<{ line: number; reason: string }>;
}

/** Reads a journal; a torn or foreign line is skipped (a kill can cut the last one) and listed in `unreadable`. */
export function readJournal(path: string): JournalContents {
  const contents: JournalContents = { calls: [], unreadable: [] };
  for (const [index, text] of readFileSync(path, "utf8").split("\n").entries()) {
    if (!text.trim()) continue;
    let value: { type?: unknown } & Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      contents.unreadable.push({ line: index + 1, reason: "not JSON" });
      continue;
    }
    if (value?.type === "call") {
      const call = journalCallSchema.safeParse(value);
      if (call.success) contents.calls.push(call.data as unknown as CallRecord);
      else contents.unreadable.push({ line: index + 1, reason: "not a call record" });
    }
    else if (value?.type === "run") contents.header = journalHeaderSchema.safeParse(value).data;
    else if (value?.type === "end") contents.end = journalEndSchema.safeParse(value).data;
  }
  return contents;
}
