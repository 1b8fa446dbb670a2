import { existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { readJournal, journalDir, type JournalContents } from "./journal.ts";
import { readLedger, updateLedger, type Ledger, type RunRecord } from "./ledger.ts";
import type { Log } from "./log.ts";
import { ownerGone } from "./process-alive.ts";
import { createRecorder } from "./recorder.ts";

/** A run record with its totals summed from the journal's calls. */
function fromJournal(journal: JournalContents, base: RunRecord | undefined, runId: string): RunRecord {
  const recorder = createRecorder();
  for (const call of journal.calls) recorder.record(call);
  const header = journal.header;
  return recorder.snapshot({
    task: header?.task ?? "run",
    startedAt: header?.startedAt ?? new Date(0).toISOString(),
    finishedAt: null,
    status: "running",
    stopReason: null,
    ...base,
    ...(header ? { pid: header.pid, host: header.host } : {}),
    runId,
  });
}

/** How a run that is no longer running ended, or undefined while it may still run. */
function ending(run: RunRecord, journal: JournalContents | undefined, journalFile?: string): Pick<RunRecord, "status" | "finishedAt" | "stopReason"> | undefined {
  if (journal?.end) return { status: journal.end.status as RunRecord["status"], finishedAt: journal.end.at, stopReason: journal.end.reason };
  if (!ownerGone(run)) return undefined;
  const last = journalFile ? statSync(journalFile).mtime : new Date();
  return { status: "crashed", finishedAt: last.toISOString(), stopReason: `process ${run.pid} on ${run.host} ended without finishing the run (killed or crashed)` };
}

/** One warning for a journal's lines that could not be read (a disk error, an edit): the calls they held are not in the ledger. */
function unreadableNote(file: string, journal: JournalContents): string | undefined {
  const [first] = journal.unreadable;
  if (!first) return undefined;
  const lines = journal.unreadable.slice(0, 10).map((u) => u.line).join(", ");
  return `ledger: journal ${file}:${first.line}: ${first.reason}; ${journal.unreadable.length} line(s) could not be read (lines ${lines}${journal.unreadable.length > 10 ? ", ..." : ""}), so the ledger may miss the calls they held`;
}

/** Folds one journal into the ledger; returns whether the journal can go. `notes` gets a warning for its unreadable lines. */
function foldJournal(ledger: Ledger, file: string, runId: string, notes: Map<string, string>): boolean {
  const index = ledger.runs.findIndex((r) => r.runId === runId);
  const existing = index >= 0 ? ledger.runs[index] : undefined;
  // The run wrote its final record: that record is complete and the journal is left over.
  if (existing && existing.status !== "running") return true;
  if (!existsSync(file)) return false; // another reader folded it a moment ago
  const journal = readJournal(file);
  const note = unreadableNote(file, journal);
  if (note) notes.set(file, note);
  const run = fromJournal(journal, existing, runId);
  const end = ending(run, journal, file);
  Object.assign(run, end);
  if (index >= 0) ledger.runs[index] = run;
  else ledger.runs.push(run);
  return end !== undefined;
}

const journalsOf = (ledgerPath: string) => {
  const dir = journalDir(ledgerPath);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => n.endsWith(".jsonl")).map((n) => ({ file: join(dir, n), runId: n.slice(0, -".jsonl".length) }));
};

/**
 * Brings the ledger up to date before it is read: folds every run's journal into its totals,
 * and marks `crashed` a run left `running` by a process that is gone. Journals of runs that
 * ended are removed; those of live runs stay. Returns how many runs were marked as ended.
 * A run bringing the ledger up to date for itself names its own run (`self`): its journal is
 * not read, since the run saves its own record right after (on a cached rerun that journal
 * already holds thousands of lines by then).
 */
export async function recoverLedger(ledgerPath: string, log?: Log, self?: string): Promise<number> {
  const journals = journalsOf(ledgerPath).filter((j) => j.runId !== self);
  const stale = (ledger: Ledger) => ledger.runs.filter((r) => r.status === "running" && ownerGone(r));
  if (journals.length === 0 && (!existsSync(ledgerPath) || stale(readLedger(ledgerPath)).length === 0)) return 0;
  let ended = 0;
  const done: string[] = [];
  // By file: the update may run more than once (another writer held the ledger).
  const notes = new Map<string, string>();
  await updateLedger(ledgerPath, (ledger) => {
    const running = new Set(ledger.runs.filter((r) => r.status === "running").map((r) => r.runId));
    for (const { file, runId } of journals) if (foldJournal(ledger, file, runId, notes)) done.push(file);
    for (const run of stale(ledger)) Object.assign(run, ending(run, undefined));
    ended = ledger.runs.filter((r) => r.status === "crashed" && (running.has(r.runId) || journals.some((j) => j.runId === r.runId))).length;
  });
  for (const file of done) {
    try {
      unlinkSync(file);
    } catch {
      // Another reader folded it first.
    }
  }
  for (const note of notes.values()) log?.warn(note);
  if (ended) log?.warn(`ledger: ${ended} run(s) left running by a process that is gone are marked crashed (their totals come from their journals)`);
  return ended;
}
