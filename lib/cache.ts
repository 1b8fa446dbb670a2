import { hasher, sha256Hex } from "./hash.ts";
import { builtinDrivers, createStorage, type Driver, type Storage, type StorageValue } from "unstorage";
import { z } from "zod";
import { SAError } from "./errors.ts";
import type { AnswerSource } from "./call-spec.ts";
import { callFields } from "./call-scope.ts";
import type { Log } from "./log.ts";
import { createHeldWrites, type HeldWrites, type Put } from "./cache-held.ts";
import { redactUrl } from "./redact.ts";
import { refusedPassword, watchConnectionErrors, type ErrorEmitter } from "./redis-errors.ts";
import type { CacheMode } from "./schema/config.ts";
import { fastCheckOf } from "./zod-fast-check.ts";

/** Bump when the entry shape or the key recipe changes: old entries then simply miss. */
export const CACHE_KEY_VERSION = 1;

const localDrivers: Record<string, () => Promise<{ default: (opts: any) => Driver }>> = {
  fs: () => import("./cache-fs.ts"),
  memory: () => import("unstorage/drivers/memory"),
  redis: () => import("unstorage/drivers/redis"),
};

// unstorage lists each driver twice (`azure-app-configuration`, `azureAppConfiguration`): named once, in kebab-case.
export const driverNames = () => [...new Set([...Object.keys(localDrivers), ...Object.keys(builtinDrivers)])].filter((name) => !/[A-Z]/.test(name)).sort();

export interface CacheConfig {
  driver: string;
  ttl?: number;
  [option: string]: unknown;
}

/** Nitro's idiom: `{ driver: "redis", url }` names a driver and passes the rest as its options. */
export async function createCacheStorage(config: CacheConfig): Promise<Storage> {
  const { driver: name, ttl, ...options } = config;
  const loader =
    localDrivers[name] ??
    (name in builtinDrivers ? () => import((builtinDrivers as Record<string, string>)[name]!) : undefined);
  if (!loader) throw new SAError("E_CONFIG", `cache.driver: unknown driver "${name}" (known: ${driverNames().join(", ")})`);
  let driver: Driver;
  let connection: StoreConnection | undefined;
  try {
    const mod = (await loader()) as { default: (opts: unknown) => Driver };
    // ioredis retries forever by default, and waits for ever on a server that stops answering; a
    // cache that cannot be reached must fail fast instead.
    // The fs driver keeps the default folder when only the driver is named (`SA_CACHE__DRIVER=fs` over a redis config).
    const defaults = name === "redis" ? { maxRetriesPerRequest: 2, connectTimeout: 5000, commandTimeout: 5000 } : name === "fs" ? { base: ".sa/cache" } : {};
    driver = mod.default({ ...defaults, ...options, ...(name === "redis" ? redisBase(options.base) : {}), ...(ttl ? { ttl } : {}) });
    // ioredis reports a lost connection as an 'error' event; unheard, it prints a stack per retry.
    // The cache reports failing operations itself, once, with the last of these as the reason.
    const client = (driver as { getInstance?: () => unknown }).getInstance?.() as (StoreConnection["client"] & Partial<ErrorEmitter>) | undefined;
    if (client && typeof client.on === "function") {
      const watched: StoreConnection = (connection = { client });
      watchConnectionErrors(client as ErrorEmitter, (error) => (watched.lastError = error));
    }
  } catch (cause) {
    throw new SAError("E_CONFIG", `cache.driver ${name}: ${(cause as Error).message}`, { cause });
  }
  const storage = createStorage({ driver });
  if (connection) connections.set(storage, connection);
  return storage;
}

/**
 * The redis driver joins its `base` to keys in unstorage's normal form (`/` and backslashes become `:`) but
 * strips it from listed keys as given: a base such as the Python tool's `cache_dir` path is passed
 * in normal form, so `cache stats`, `prune` and `clear` see the keys the run wrote.
 */
export const redisBase = (base: unknown): { base?: string } => (typeof base === "string" ? { base: base.replace(/[:/\\]/g, ":").replace(/^:|:$/g, "") } : {});

/** A store's connection, where the driver keeps one (redis), and its last error: why operations fail while it is down. */
interface StoreConnection {
  client: { status?: string };
  lastError?: Error;
}
const connections = new WeakMap<Storage, StoreConnection>();

/** Whether the store's connection is down (ioredis reconnecting), rather than the store refusing one operation. */
const connectionDown = (storage: Storage): boolean => {
  const connection = connections.get(storage);
  return connection !== undefined && connection.client.status !== "ready";
};

/**
 * Why an operation on the store failed: the connection's own error while it is down (ioredis only
 * says it gave up), or the password it refused (the command itself only says NOAUTH).
 */
export function storeFailure(storage: Storage, error: unknown): string {
  const lastError = connections.get(storage)?.lastError;
  const cause = connectionDown(storage) || refusedPassword(lastError) ? lastError : undefined;
  return (cause ?? (error as Error)).message;
}

const plain = /[A-Za-z0-9_-]/;
/** A part that `keyPart` leaves as it is: plain characters, dots only between two of them. */
const plainPart = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
/** Longest encoded part: a file name must stay well under 255 bytes with the fs driver's temp suffix. */
const MAX_PART = 120;

/**
 * One part of a `:`-separated key, valid in every driver and injective (distinct inputs never
 * share a key). Letters, digits, `_` and `-` stay; a `.` stays between two of those (so no part
 * is `.`, `..`, starts or ends with a dot: fs drivers refuse those); every other byte of the
 * UTF-8 text becomes `~XX`. A longer result keeps its start and ends with `~~` and a hash of the
 * whole input. Ordinary ids (`SVC-001`, `v1.2`) are unchanged.
 */
export function keyPart(text: string): string {
  if (text === "") return "~";
  if (text.length <= MAX_PART && plainPart.test(text)) return text;
  const chars = [...text];
  const encoded = chars
    .map((ch, i) => {
      if (plain.test(ch)) return ch;
      if (ch === "." && plain.test(chars[i - 1] ?? "") && plain.test(chars[i + 1] ?? "")) return ch;
      return [...Buffer.from(ch, "utf8")].map((b) => `~${b.toString(16).toUpperCase().padStart(2, "0")}`).join("");
    })
    .join("");
  if (encoded.length <= MAX_PART) return encoded;
  const head = encoded.slice(0, 80).replace(/~[0-9A-F]?$/, "");
  return `${head}~~${sha256Hex(text).slice(0, 32)}`;
}

export interface KeyParts {
  provider: string;
  baseURL: string;
  model: string;
  messages: Array<{ role: string; content: string }>;
  /** The response schema's digest (and any per-call pins), computed once per schema. */
  schema: string;
  temperature?: number;
  seed?: number;
  reasoningEffort?: string;
  maxOutputTokens?: number;
  stage: string;
}

// A run has one or two base URLs: each is parsed and redacted once, not once per call.
const redactedBases = new Map<string, string>();
const redactedBase = (url: string) => {
  let redacted = redactedBases.get(url);
  if (redacted === undefined) redactedBases.set(url, (redacted = redactUrl(url)));
  return redacted;
};

/** Texts at least this long are hashed through a memo: system prompts repeat in every call of a stage. */
const LONG_TEXT = 1024;
const digests = new Map<string, string>();
function textDigest(text: string): string {
  let digest = digests.get(text);
  if (digest === undefined) {
    if (digests.size >= 1000) digests.clear();
    digests.set(text, (digest = sha256Hex(text)));
  }
  return digest;
}
// A message object that repeats (a stage's system message is one object per run) keeps its digest.
const messageDigests = new WeakMap<object, string>();
function messageDigest(message: { content: string }): string {
  let digest = messageDigests.get(message);
  if (digest === undefined) messageDigests.set(message, (digest = textDigest(message.content)));
  return digest;
}

/**
 * The one hasher keys are hashed with, reused (`digest` leaves it empty): a key is hashed in one
 * synchronous go, and the message digests taken meanwhile use a hasher of their own (sha256Hex).
 */
const keyHasher = hasher("sha256");

/** The parts of a key that stay the same for every call of one model and stage. */
export type FixedKeyParts = Omit<KeyParts, "messages" | "schema">;

/**
 * sha256 of everything that changes the answer. Never includes secrets. A header of the small
 * parts, with each message's length, comes first; then each message text, or the sha256 of a
 * long one (its length says which), without building one large JSON string per call.
 * The header is JSON of { v, provider, baseURL, model, messages, schema, temperature, seed,
 * reasoningEffort, maxOutputTokens, stage }: the parts around `messages` and `schema` are written
 * once here, and each call writes only its own.
 */
export function cacheHasher(fixed: FixedKeyParts): (messages: KeyParts["messages"], schema: string) => string {
  const head = `${JSON.stringify({ v: CACHE_KEY_VERSION, provider: fixed.provider, baseURL: redactedBase(fixed.baseURL), model: fixed.model }).slice(0, -1)},"messages":`;
  const tail = `,${JSON.stringify({
    temperature: fixed.temperature ?? null,
    seed: fixed.seed ?? null,
    // Left out when unset, so keys made before these settings existed still match.
    reasoningEffort: fixed.reasoningEffort,
    maxOutputTokens: fixed.maxOutputTokens,
    stage: fixed.stage,
  }).slice(1)}`;
  return (messages, schema) => {
    let lengths = "";
    for (const m of messages) lengths += `${lengths ? "," : ""}[${JSON.stringify(m.role)},${m.content.length}]`;
    const hash = keyHasher.update(`${head}[${lengths}],"schema":${JSON.stringify(schema)}${tail}`);
    for (const m of messages) hash.update(m.content.length >= LONG_TEXT ? messageDigest(m) : m.content);
    return hash.digest("hex");
  };
}

export const cacheHash = (parts: KeyParts): string => cacheHasher(parts)(parts.messages, parts.schema);

// The namespace and stage parts repeat in every key of a run: encoded once each.
const fixedParts = new Map<string, string>();
const fixedPart = (text: string) => {
  let part = fixedParts.get(text);
  if (part === undefined) fixedParts.set(text, (part = keyPart(text)));
  return part;
};

// A service's id is encoded once for its calls (21 of them in a run), not once per call.
const idParts = new Map<string, string>();
const idPart = (serviceId: string) => {
  let part = idParts.get(serviceId);
  if (part === undefined) {
    if (idParts.size >= 4096) idParts.clear();
    idParts.set(serviceId, (part = keyPart(serviceId)));
  }
  return part;
};

export const cacheKey = (namespace: string, stage: string, serviceId: string, hash: string) =>
  `${fixedPart(namespace)}:${fixedPart(stage)}:${idPart(serviceId)}:${hash}`;

export const cacheEntrySchema = z.object({
  v: z.literal(CACHE_KEY_VERSION),
  answer: z.unknown().refine((v) => v !== undefined, "missing answer"),
  usage: z.object({ inputTokens: z.number(), cachedInputTokens: z.number(), outputTokens: z.number(), reasoningTokens: z.number() }),
  model: z.string(),
  provider: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable().default(null),
  request: z.looseObject({ stage: z.string(), serviceId: z.string() }),
  /** What validation dropped from the answer before it was stored: quarantined again on every hit. */
  dropped: z.object({ reason: z.string(), data: z.unknown() }).optional(),
});
export type CacheEntry = z.infer<typeof cacheEntrySchema>;

/**
 * The run that made an entry's answer and when. Every entry written from a live answer names its
 * run (`request.runId`); one without (an answer taken from the Python tool's cache by
 * --reuse-imported) is named `imported`, as the ledger names who answered it: the same on every run.
 */
export const entrySource = (entry: Pick<CacheEntry, "createdAt" | "request">): AnswerSource => ({
  runId: typeof entry.request.runId === "string" ? entry.request.runId : "imported",
  at: entry.createdAt,
});

/** A key every driver accepts, read to tell a failing store from one refused key. */
const PROBE_KEY = "health:probe";

export interface CallCache {
  mode: CacheMode;
  storage: Storage;
  /** Whether `lookup` answers synchronously (the fs driver read past unstorage). */
  readonly readsAtOnce: boolean;
  /** Whether `lookup` may find anything now (mode `read`, the store not given up on). */
  readonly reads: boolean;
  /**
   * Whether `store` takes entries (any mode but `off`). While the store is given up on, what it
   * takes is held in memory and written once the store answers again (lib/cache-held.ts).
   */
  readonly writes: boolean;
  /**
   * A hit, or undefined. A corrupt, truncated or expired entry is a miss with a warning. Synchronous
   * when the store can read synchronously (the fs driver), a promise otherwise.
   */
  lookup(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  store(key: string, entry: Omit<CacheEntry, "v" | "expiresAt">): Promise<void>;
  /** Any other value kept in the store (a transcript), written as entries are: held while the store is away. */
  keep(key: string, value: StorageValue): Promise<void>;
  /**
   * At the end of the run: what is still held is written if the store answers, else said in one
   * line. `withinMs` bounds the wait (a second Ctrl-C): what is not written by then is said as lost.
   */
  finish(withinMs?: number): Promise<void>;
}

/** How often a store given up on is probed again, so a Redis that restarts is used again. */
const RECHECK_MS = 1000;

/**
 * A store that is down fails every operation, slowly: once its connection is lost, or after a
 * few failures in a row, it is left alone and the run goes on without it (said once), probing it
 * every second: once it answers again it is used again (said once). Entries the store refuses say
 * nothing about the store: before giving up, a probe of a plain key tells.
 */
function storeHealth(storage: Storage, log: Log, options: { store: string; now: () => number; onBack: () => void }) {
  const store = options.store ? ` (${options.store})` : "";
  let failuresInARow = 0;
  let disabled = false;
  let keyWarned = false;
  let writeWarned = false;
  let probedAt = 0;
  // Calls fail together when the store goes away: one probe, and one warning, for all of them.
  let probing = false;
  const probe = async () => {
    probing = true;
    probedAt = options.now();
    const works = await storage.hasItem(PROBE_KEY).then(() => true, () => false);
    probing = false;
    return works;
  };
  const giveUp = (reason: string) => {
    if (disabled) return;
    disabled = true;
    probedAt = options.now();
    log.warn(`cache: the store${store} keeps failing (${reason}); this run goes on without the cache`);
  };
  const recheck = async () => {
    if (!(await probe()) || !disabled) return;
    disabled = false;
    failuresInARow = 0;
    log.info(`cache: the store${store} answers again; caching again`);
    options.onBack();
  };
  return {
    recheck,
    get disabled() {
      if (disabled && !probing && options.now() - probedAt >= RECHECK_MS) void recheck();
      return disabled;
    },
    ok() {
      failuresInARow = 0;
    },
    async failed(what: string, error: unknown) {
      const reason = storeFailure(storage, error);
      log.debug(`cache: ${what} (${reason})`, callFields());
      if (disabled || probing) return;
      // A lost connection (a Redis restarting): every call would wait on it and fail.
      if (connectionDown(storage)) return giveUp(reason);
      // A store that reads but cannot be written (a read-only folder, a full disk) is said as such at once.
      if (cannotWrite(error)) {
        if (!writeWarned) log.warn(`cache: the store${store} cannot be written (${reason}); this run's answers go uncached, and a rerun pays for them again`);
        writeWarned = true;
        return;
      }
      if (++failuresInARow < 5) return;
      if (!(await probe())) return giveUp(reason);
      failuresInARow = 0;
      if (!keyWarned) log.warn(`cache: ${what} (${reason}); the store itself works, so only such entries go uncached`);
      keyWarned = true;
    },
  };
}

/**
 * A write refused for the whole store, not for one entry: no permission, read-only, full, or a
 * folder on the store's path that is a file (a Python `cache_dir` under one); or Redis's own.
 */
const cannotWrite = (error: unknown) =>
  ["EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR"].includes((error as NodeJS.ErrnoException)?.code ?? "") ||
  // Redis's own: out of memory under noeviction, a read-only replica, snapshots failing (writes stopped).
  /^(OOM|READONLY|MISCONF) /.test((error as Error)?.message ?? "");

/** What was read, as an entry: a corrupt or expired one is a miss (with a warning when corrupt). */
function settledEntry(key: string, raw: unknown, now: () => Date, log: Log, call = callFields()): CacheEntry | undefined {
  if (raw === null || raw === undefined) return undefined;
  const entry = parseEntry(raw);
  if (!entry) {
    log.warn(`cache: entry ${key} is corrupt or of another shape; treating it as a miss`, call);
    return undefined;
  }
  if (entry.expiresAt && Date.parse(entry.expiresAt) <= now().getTime()) return undefined;
  return entry;
}

type StoreHealth = ReturnType<typeof storeHealth>;

/** Writing to the store: the `write` mode's check, the store's health, and what is held while it is away. */
function cacheWriter(storage: Storage, options: { mode: CacheMode; ttl?: number; health: StoreHealth; held: HeldWrites; settle: (key: string, raw: unknown) => CacheEntry | undefined }) {
  const { health, held } = options;
  const away = () => health.disabled;
  const put: Put = async (key, value) => {
    // `write` keeps what exists (as the Python tool does), but an expired or corrupt entry is a miss
    // like any other: left there, the answer just paid for would be thrown away.
    if (options.mode === "write" && (await storage.getItem(key).then((raw) => options.settle(key, raw), () => undefined))) return true;
    try {
      await storage.setItem(key, value as StorageValue, options.ttl ? { ttl: options.ttl } : undefined);
      health.ok();
      return true;
    } catch (error) {
      await health.failed(`could not write ${key}`, error);
      return false;
    }
  };
  return {
    // Held while the store is away; a value a working store refuses is not (it was warned about).
    async keep(key: string, value: StorageValue) {
      if (away() || (!(await put(key, value)) && away())) held.hold(key, value);
    },
    flush: () => held.flush(put, away),
    async finish(withinMs?: number) {
      const write = async () => {
        if (held.size > 0 && away()) await health.recheck();
        if (!away()) await held.flush(put, away);
      };
      await (withinMs === undefined ? write() : Promise.race([write(), new Promise((resolve) => setTimeout(resolve, withinMs).unref())]));
      held.report();
    },
  };
}

export function createCallCache(storage: Storage, options: { mode: CacheMode; ttl?: number; log: Log; now?: () => Date; store?: string }): CallCache {
  const now = options.now ?? (() => new Date());
  const held = createHeldWrites({ log: options.log, store: options.store ? ` (${options.store})` : "" });
  const health = storeHealth(storage, options.log, { store: options.store ?? "", now: () => now().getTime(), onBack: () => void writer.flush() });
  // What the mode allows, while the store has not been given up on (entries to write are then held).
  const reads = () => options.mode === "read" && !health.disabled;
  const writes = () => options.mode !== "off";
  const settle = (key: string, raw: unknown, call?: ReturnType<typeof callFields>) => settledEntry(key, raw, now, options.log, call);
  const writer = cacheWriter(storage, { mode: options.mode, ttl: options.ttl, health, held, settle });
  const readLater = async (key: string) => {
    // The call this read is for, taken before the read: a lookup begun in a synchronous scope has none after it.
    const call = callFields();
    let raw: unknown;
    try {
      raw = await storage.getItem(key);
      health.ok();
    } catch (error) {
      // The store answered and refused this one entry (a Redis key of another type): a corrupt entry, said as one.
      if (/^WRONGTYPE/.test((error as Error).message)) options.log.warn(`cache: entry ${key} could not be read (${(error as Error).message}); treating it as a miss`, call);
      await health.failed(`entry ${key} could not be read`, error);
      return undefined;
    }
    return settle(key, raw, call);
  };
  const readNow = syncReader(storage);
  return {
    mode: options.mode,
    storage,
    readsAtOnce: readNow !== undefined,
    get reads() {
      return reads();
    },
    get writes() {
      return writes();
    },
    lookup(key) {
      if (!reads()) return undefined;
      if (!readNow || !normalKey.test(key)) return readLater(key);
      let raw: unknown;
      try {
        raw = readNow(key);
      } catch {
        return readLater(key); // the same read through unstorage, which reports the failure
      }
      // Text that is not a plain JSON object goes through unstorage's own parsing, as before (and
      // a read the driver could not do at once, which a key of this form never needs).
      if (typeof raw === "string" || raw instanceof Promise) return readLater(key);
      health.ok();
      return settle(key, raw);
    },
    async store(key, entry) {
      const expiresAt = options.ttl ? new Date(now().getTime() + options.ttl * 1000).toISOString() : null;
      if (writes()) await writer.keep(key, { v: CACHE_KEY_VERSION, ...entry, expiresAt });
    },
    keep: writer.keep,
    finish: writer.finish,
  };
}

/** Keys as `cacheKey` makes them: already in unstorage's normal form, with no `.` or `..` part. */
const normalKey = /^[\w~-]+(?:\.[\w~-]+)*(?::[\w~-]+(?:\.[\w~-]+)*)*$/;

/**
 * The fs driver's synchronous read (lib/cache-fs.ts), when that driver is the whole store: a hit
 * then skips unstorage's key normalisation and its promises (a measurable share of a cached rerun).
 * Every other driver, and any other shape of store, reads through unstorage.
 */
function syncReader(storage: Storage): ((key: string) => unknown) | undefined {
  const mounts = storage.getMounts();
  if (mounts.length !== 1) return undefined;
  const driver = mounts[0]!.driver as Driver & { getItemSync?: (key: string) => unknown };
  return driver.getItemSync;
}

/**
 * A stored entry, or undefined when it is corrupt. Drivers hand back parsed JSON (a truncated
 * file comes back as a plain string); an entry as we write it passes the compiled check and is
 * taken as it is, anything else goes through zod.
 */
function parseEntry(raw: unknown): CacheEntry | undefined {
  if (fastCheckOf(cacheEntrySchema)?.(raw)) return raw as CacheEntry;
  const parsed = cacheEntrySchema.safeParse(typeof raw === "string" ? safeJson(raw) : raw);
  return parsed.success ? parsed.data : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
