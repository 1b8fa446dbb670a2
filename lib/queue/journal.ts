import { AsyncLocalStorage } from "node:async_hooks";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { z } from "zod";
import { journalCallSchema, type Journal } from "../journal.ts";
import type { CallRecord } from "../ledger.ts";
import type { Quarantine, QuarantineEntry } from "../quarantine.ts";
import { redact } from "../redact.ts";
import type { QueueKeys } from "./connection.ts";
import type { QueueJob } from "./job.ts";
import { createJournalPusher } from "./journal-push.ts";

/**
 * The job a worker is on, so each call it journals names the coordinator's run. `lost` aborts once
 * the job is no longer this worker's (its lock in Redis is gone): its calls not yet sent are refused (lib/queue/lost-guard.ts).
 */
export const currentJob = new AsyncLocalStorage<{ runId: string; jobId: string; budgetUsd?: number; limits?: QueueJob["limits"]; lost?: AbortSignal }>();

/** A run's usage over every worker, as its shared counters stand. */
export interface SharedUsage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
}

export interface RedisJournal extends Journal {
  /** Resolves once every call appended so far is in Redis (a job completes only after this). */
  flush(): Promise<void>;
  /** The worker's quarantine, each entry also journalled for the coordinator (its count, and `--strict`). */
  quarantine(own: Quarantine): Quarantine;
}

/**
 * A worker's journal: each call is one entry on a Redis list shared by every worker of the
 * queue, so the coordinator's run record counts them all; each call's cost is added to its run's
 * shared spend counter, which every worker's hard budget is checked against.
 */
export function createRedisJournal(client: Redis, keys: Pick<QueueKeys, "journal" | "spend" | "usage">, counted?: { onSpend(runId: string, spent: number): void; onUsage(runId: string, usage: SharedUsage, call: SharedUsage): void }): RedisJournal {
  let pending: Promise<unknown> = Promise.resolve();
  const worker = `${hostname()}:${process.pid}`;
  // Each entry's id lets a coordinator count an entry pushed again (after Redis lost the list) once.
  let seq = 0;
  const id = () => `${worker}:${++seq}`;
  const pusher = createJournalPusher(client, keys.journal);
  client.on("ready", () => void pusher.check().catch(() => {}));
  return {
    path: `redis:${keys.journal}`,
    append(call: CallRecord) {
      const job = currentJob.getStore();
      const entry = JSON.stringify({ type: "call", ...call, runId: job?.runId ?? null, jobId: job?.jobId ?? null, worker, id: id() });
      const pushed = pusher.push(entry);
      const cost = call.cache === "live" ? (call.costUsd ?? 0) : 0;
      const spent = job && cost > 0 ? client.incrbyfloat(keys.spend(job.runId), cost).then((total) => counted?.onSpend(job.runId, Number(total))) : undefined;
      const used = job && call.cache !== "hit" ? countUsage(client, keys.usage(job.runId), call).then((usage) => counted?.onUsage(job.runId, usage, callUsage(call))) : undefined;
      pending = Promise.all([pending, pushed, spent, used]).catch(() => {});
    },
    end: () => {},
    remove: () => {},
    flush: async () => {
      await pending;
    },
    quarantine: (own) => ({
      add(entry) {
        own.add(entry);
        const job = currentJob.getStore();
        const pushed = pusher.push(redact(JSON.stringify({ type: "quarantine", entry, runId: job?.runId ?? null, jobId: job?.jobId ?? null, worker, id: id() })));
        pending = Promise.all([pending, pushed]).catch(() => {});
      },
      get count() {
        return own.count;
      },
      path: own.path,
    }),
  };
}

/** What one call adds to its run's shared counters: each request it sent (retries too), and a live call's tokens (a failed one: none). */
const callUsage = (call: CallRecord): SharedUsage => {
  const requests = 1 + call.retries;
  return call.cache === "live" ? { requests, inputTokens: call.inputTokens, outputTokens: call.outputTokens } : { requests, inputTokens: 0, outputTokens: 0 };
};

/** Adds a call's requests (and a live call's tokens) to the run's shared counters; their new totals. */
async function countUsage(client: Redis, key: string, call: CallRecord): Promise<SharedUsage> {
  const adds = callUsage(call);
  const results = await client.multi().hincrby(key, "requests", adds.requests).hincrby(key, "inputTokens", adds.inputTokens).hincrby(key, "outputTokens", adds.outputTokens).exec();
  const [requests, inputTokens, outputTokens] = (results ?? []).map(([, value]) => Number(value));
  return { requests: requests ?? 0, inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 };
}

const entrySchema = journalCallSchema.extend({ serviceId: z.string(), runId: z.string().nullable().optional() });
const quarantinedSchema = z.object({ type: z.literal("quarantine"), entry: z.looseObject({ kind: z.enum(["input", "answer", "mapping", "service"]), reason: z.string() }) });
const ownerSchema = z.object({ runId: z.string().nullable().optional(), jobId: z.string().nullable().optional(), id: z.string().optional() });

/** One journal entry: a call or what a worker quarantined, with its place in the list and the run and job it was made for. */
export interface JournalEntry {
  index: number;
  /** The worker's id for it (older workers gave none). */
  id?: string;
  runId: string | null;
  jobId: string | null;
  call?: CallRecord;
  quarantined?: QuarantineEntry;
}

/** Entries from `from` on: calls, and what workers quarantined; a foreign or torn entry is skipped. */
async function readRedisJournal(client: Redis, key: string, from: number): Promise<{ entries: JournalEntry[]; next: number }> {
  const raw = await client.lrange(key, from, -1);
  const entries: JournalEntry[] = [];
  raw.forEach((text, i) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    const owner = ownerSchema.safeParse(value);
    const at = { index: from + i, id: owner.data?.id, runId: owner.data?.runId ?? null, jobId: owner.data?.jobId ?? null };
    const parsed = entrySchema.safeParse(value);
    if (parsed.success) return void entries.push({ ...at, call: parsed.data as unknown as CallRecord });
    const held = quarantinedSchema.safeParse(value);
    if (held.success) entries.push({ ...at, quarantined: held.data.entry as QuarantineEntry });
  });
  return { entries, next: from + raw.length };
}

/** A mark kept next to the journal: a new one means the list was lost and started again. */
async function journalEpoch(client: Redis, key: string): Promise<string> {
  await client.set(`${key}:epoch`, crypto.randomUUID(), "NX");
  return (await client.get(`${key}:epoch`)) ?? "";
}

export interface JournalReaderOptions {
  /** Whether an entry is this run's to count: its own calls, and those made for its jobs while no coordinator was attached. */
  owns(entry: Pick<JournalEntry, "runId" | "jobId">): boolean;
  record(call: CallRecord): void;
  quarantine?(entry: QuarantineEntry): void;
}

/**
 * The coordinator's side: folds the calls journalled since the last coordinator stopped reading
 * (`<key>:read`; calls workers made while none was attached included) into its run's recorder.
 * Several coordinators may read one queue's journal at once: each counts only the entries it
 * owns, and claims each one first (a bit per entry in `<key>:counted`), so no entry is counted by
 * two runs. Entries not owned yet are kept and weighed again (a job enqueued later may own them).
 * Reads run one at a time, since two reads from the same offset would count the same calls twice.
 */
export async function createJournalReader(client: Redis, key: string, options: JournalReaderOptions): Promise<{ pull(): Promise<void> }> {
  const [length, read] = await Promise.all([client.llen(key), client.get(`${key}:read`)]);
  let at = read === null ? length : Math.min(Number(read) || 0, length);
  let epoch = await journalEpoch(client, key);
  let unowned: JournalEntry[] = [];
  const counted = new Set<string>();
  let pulling: Promise<void> = Promise.resolve();
  const pull = async () => {
    const now = await journalEpoch(client, key);
    // Redis lost its data (a restart without persistence, `queue clean`): the list starts again from 0.
    if (now !== epoch) [epoch, at, unowned] = [now, 0, []];
    const { entries, next } = await readRedisJournal(client, key, at);
    at = next;
    const candidates = [...unowned, ...entries];
    const owned = candidates.filter((entry) => options.owns(entry));
    unowned = candidates.filter((entry) => !options.owns(entry));
    const claims = owned.length ? await owned.reduce((multi, entry) => multi.setbit(`${key}:counted`, entry.index, 1), client.multi()).exec() : [];
    owned.forEach((entry, i) => {
      if (claims?.[i]?.[1] !== 0) return; // counted already, by this run or another
      // Pushed again by its worker after Redis lost the list, having been counted before.
      if (entry.id !== undefined && counted.has(entry.id)) return;
      if (entry.id !== undefined) counted.add(entry.id);
      if (entry.call) options.record(entry.call);
      if (entry.quarantined) options.quarantine?.(entry.quarantined);
    });
    await client.set(`${key}:read`, at);
  };
  return { pull: () => (pulling = pulling.catch(() => {}).then(pull)) };
}
