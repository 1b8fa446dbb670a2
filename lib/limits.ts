import PQueue from "p-queue";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import { adaptiveConcurrency } from "./adaptive-concurrency.ts";
import type { Clock } from "./clock.ts";
import { isUsageStop } from "./errors.ts";
import type { Log } from "./log.ts";
import { redactUrl } from "./redact.ts";
import { watchConnectionErrors } from "./redis-errors.ts";
import { defaultMaxWaitMs, parseResetMs, retryAfterMs } from "./http.ts";
import { retryFirst } from "./retry-first.ts";
import { retryStatusCodes } from "./retry-status.ts";
import { createTokenBucket, type TokenBucket } from "./token-bucket.ts";
import { unlessAborted } from "./unless-aborted.ts";

export interface LimiterOptions {
  /** Calls in flight at once. @default 8 */
  concurrency: number;
  /** Requests per minute; unset means no limit. */
  rpm?: number;
  /** Tokens (input + output) per minute; unset means no limit. */
  tpm?: number;
  clock: Clock;
  /** Share the buckets through Redis (an ioredis client) under this key. */
  shared?: { client: unknown; key: string };
  /** A pause a provider asks for past this is not taken (`retry.maxWaitMs`). @default 120000 */
  maxPauseMs?: number;
  /**
   * Without `rpm` and `tpm`, 429s lower the calls in flight and answers raise them back to
   * `concurrency` (lib/adaptive-concurrency.ts); told each change. Unset: the concurrency is fixed.
   */
  adaptive?: (concurrency: number, lowered: boolean) => void;
}

export interface Limiter {
  /**
   * Runs `fn` once a concurrency slot, a request and `tokens` are free. Higher priority goes first.
   * `tokens` may be a function, asked when the call is dispatched (an estimate made then is fresher).
   * `stop` (another limiter's stop, as the call heeds it) ends the wait too, as this limiter's own does.
   */
  schedule<T>(fn: () => Promise<T>, options: { priority: number; tokens: number | (() => number); endpoint?: string; finishing?: boolean; stop?: AbortSignal }): Promise<T>;
  /** After the call: correct the token bucket from the estimate to the reported usage. */
  settle(estimated: number, actual: number): void;
  /** Rate-limit headers and 429s slow dispatch down instead of hammering the provider; a pause holds only `endpoint`'s calls. */
  observe(headers: Headers, status: number, endpoint?: string): void;
  /**
   * A call on `endpoint` starts waiting to retry after `status`: after a 429, new calls to that
   * endpoint wait until it has gone (lib/retry-first.ts). Call the function returned when the wait ends.
   */
  waitingToRetry(status: number | undefined, endpoint?: string): () => void;
  /** Releases a shared store's connection. */
  close(): Promise<void>;
  /**
   * Nothing new starts after this: queued calls reject with `error` as their turn comes. With
   * `letFinish` (an interruption, not a limit) a call in flight still sends its re-ask (`finishing`):
   * its first answer was paid for, and a rerun would pay for it again.
   */
  stop(error: Error, options?: { letFinish?: boolean }): void;
  /** Aborted (with the stop's error) when `stop` is called: calls waiting to retry end then. */
  readonly stopped: AbortSignal;
  /** Aborted by a stop that does not let calls in flight finish: what a `finishing` request heeds. */
  readonly stoppedFinishing?: AbortSignal;
}

const KEY = "dispatch";
/** The smoothing window of a shared bucket: a second's share of the quota at most goes out at once. */
const WINDOW_SECONDS = 0.25;

/**
 * A bucket shared through Redis that refills smoothly: a short window holds that window's share
 * of the minute quota, and `execEvenly` spreads those inside the window. Providers enforce limits
 * over short windows too, so a whole minute's quota (or even a second's) must never go out in one burst.
 */
function sharedBucket(perMinute: number, windowSeconds: number, shared: { client: unknown; key: string }): TokenBucket {
  // Redis keys expire in whole seconds: a shared bucket uses windows of at least one second.
  const window = Math.max(1, windowSeconds);
  const points = Math.max(1, Math.floor((perMinute * window) / 60));
  const duration = Math.max(1, Math.round((points * 60) / perMinute));
  // Loaded only when a bucket is shared: most runs never need it.
  const ready = import("rate-limiter-flexible").then(({ RateLimiterMemory, RateLimiterQueue, RateLimiterRedis }) => {
    const local = new RateLimiterMemory({ points, duration, execEvenly: true, execEvenlyMinDelayMs: 0 });
    // If Redis goes away, each process falls back to its own bucket instead of failing calls.
    const limiter: RateLimiterAbstract = new RateLimiterRedis({ storeClient: shared.client, keyPrefix: `sa-rate:${shared.key}`, points, duration, execEvenly: true, execEvenlyMinDelayMs: 0, insuranceLimiter: local });
    return { limiter, queue: new RateLimiterQueue(limiter, { maxQueueSize: Number.MAX_SAFE_INTEGER }) };
  });
  let lastAmount = 1;
  const adjust = (amount: number) => {
    void ready.then(({ limiter }) => (amount > 0 ? limiter.penalty(KEY, amount) : amount < 0 ? limiter.reward(KEY, -amount) : undefined)).catch(() => {});
  };
  return {
    async take(amount) {
      lastAmount = Math.max(1, amount);
      const { queue } = await ready;
      // A call larger than one window waits for as many windows as it needs.
      for (let left = Math.max(1, amount); left > 0; left -= points) await queue.removeTokens(Math.min(points, left), KEY);
    },
    adjust,
    // A request sent again (a 429 or 5xx retried) is charged like the last call taken.
    resend: () => adjust(lastAmount),
  };
}

/**
 * What an even pace leaves unused of a limit. Token counts are estimates until the answer comes
 * back, and a provider counts over its own windows: pacing at exactly the limit meets it head-on
 * and draws 429s, each of which stalls dispatch for as long as the provider asks.
 */
const HEADROOM = { requests: 0.01, tokens: 0.05 };

/**
 * A 429 under an even pace means the provider counts over a window the pace cannot see: a call
 * that is a large part of a short window meets the limit at any pace near it, and each retry then
 * meets it again. So a request answered 429 is paid for again (its retry takes the next call's
 * place), the pace drops by a tenth (once a second at most: calls sent together come back
 * together), and each answer brings back a four-hundredth of it.
 */
const PUSHBACK = { drop: 0.9, floor: 0.5, recover: 0.0025, everyMs: 1000 };

/** Slows the buckets on 429s and lets them recover with answers; nothing to do without buckets (`adaptive` then lowers the calls in flight instead). */
function pushback(buckets: TokenBucket[], clock: Clock): (status: number) => void {
  let share = 1;
  let slowedAt = -Infinity;
  const pace = (next: number) => {
    share = next;
    for (const b of buckets) b.pace?.(share);
  };
  return (status) => {
    if (!buckets.length) return;
    if (status !== 429) {
      if (status < 400 && share < 1) pace(Math.min(1, share + PUSHBACK.recover));
      return;
    }
    for (const b of buckets) b.resend?.();
    if (clock.now() - slowedAt < PUSHBACK.everyMs) return;
    slowedAt = clock.now();
    pace(Math.max(PUSHBACK.floor, share * PUSHBACK.drop));
  };
}

/** An even pace in this process, or a bucket shared with other processes through Redis. */
const bucket = (perMinute: number, clock: Clock, shared?: { client: unknown; key: string }): TokenBucket =>
  shared ? sharedBucket(perMinute, WINDOW_SECONDS, shared) : createTokenBucket({ perMinute, clock });

/**
 * An ioredis client for the shared buckets, connected before the first call. Commands never wait
 * for a lost connection (no offline queue, no retry): they fail at once and the limiter uses this
 * process's own buckets (its insurance limiter). ioredis keeps reconnecting, and the buckets are
 * shared again as soon as Redis is back. One warning when Redis is lost, one line when it is back.
 */
export async function sharedBucketsClient(url: string, log: Pick<Log, "warn" | "info">, connectTimeoutMs = 5000) {
  const { default: Redis } = await import("ioredis");
  // A Redis that stops answering (the connection left open) fails each command after a second, as a lost one does at once.
  const client = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: connectTimeoutMs, commandTimeout: 1000 });
  const where = `rate limit: Redis ${redactUrl(url)}`;
  let up = false;
  let warned = false;
  let lastError: Error | undefined;
  const lost = () => {
    if (!warned) log.warn(`${where} is unreachable${lastError ? ` (${lastError.message})` : ""}; this process uses its own RPM/TPM buckets until it is back`);
    warned = true;
  };
  watchConnectionErrors(client, (error) => (lastError = error));
  client.on("close", () => {
    if (up) lost();
    up = false;
  });
  client.on("ready", () => {
    if (warned) log.info(`${where} is back; the RPM/TPM buckets are shared again`);
    up = true;
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, connectTimeoutMs);
    client.once("ready", () => resolve(clearTimeout(timer)));
  });
  if (!up) lost();
  return client;
}

/** How long a response asks dispatch to wait: a 429's retry-after (1 s without one), or a spent window's reset. */
function pauseAskedMs(headers: Headers, status: number): number {
  let pauseMs = status === 429 ? (retryAfterMs(headers) ?? 1000) : 0;
  if (headers.get("x-ratelimit-remaining-requests") === "0") pauseMs = Math.max(pauseMs, parseResetMs(headers.get("x-ratelimit-reset-requests")) ?? 0);
  if (headers.get("x-ratelimit-remaining-tokens") === "0") pauseMs = Math.max(pauseMs, parseResetMs(headers.get("x-ratelimit-reset-tokens")) ?? 0);
  return pauseMs;
}

/**
 * Waits out the endpoint's pause and its calls waiting to retry after a 429 (lib/retry-first.ts),
 * then takes a request and the tokens from the buckets; a stop ends the wait at once.
 */
async function waitForTurn(turn: { stop: AbortSignal; clock: Clock; pausedFor: () => number; retriesGone: () => Promise<void> | undefined; requests?: TokenBucket; tokens?: TokenBucket; estimate: number | (() => number) }): Promise<void> {
  const { stop, clock, estimate } = turn;
  // Only what there is to wait for is awaited: without a pause, retries or limits, the call goes at once.
  // The pause in slices of at most a second, so that a stop is not held up by a long retry-after.
  // A retry that meets the limit again pauses and waits again: both are checked until neither holds.
  for (;;) {
    for (let wait = turn.pausedFor() - clock.now(); wait > 0 && !stop.aborted; wait = turn.pausedFor() - clock.now()) await clock.sleep(Math.min(wait, 1000));
    const retries = turn.retriesGone();
    if (!retries || stop.aborted) break;
    await unlessAborted(retries, stop);
  }
  // A call queued at 1 RPM would otherwise hold Ctrl-C up for minutes.
  if (turn.requests) await unlessAborted(turn.requests.take(1), stop);
  if (turn.tokens && !stop.aborted) await unlessAborted(turn.tokens.take(Math.max(1, typeof estimate === "function" ? estimate() : estimate)), stop);
}

/**
 * The run's stop as the retry layer hears it: an interruption (a signal, a fatal error) cuts a
 * call's wait to retry, a usage limit does not. A limit lets calls in flight finish, and a retry
 * already counted against `--max-requests` is one of them: cut, it would be counted and never sent.
 */
export function interruptionsOf(stopped: AbortSignal): AbortSignal {
  const interrupted = new AbortController();
  const follow = () => {
    if (!isUsageStop(stopped.reason)) interrupted.abort(stopped.reason);
  };
  if (stopped.aborted) follow();
  else stopped.addEventListener("abort", follow, { once: true });
  return interrupted.signal;
}

export function createLimiter(options: LimiterOptions): Limiter {
  const queue = new PQueue({ concurrency: options.concurrency });
  const requests = options.rpm ? bucket(options.rpm * (1 - HEADROOM.requests), options.clock, options.shared && { ...options.shared, key: `${options.shared.key}:rpm` }) : undefined;
  const tokens = options.tpm ? bucket(options.tpm * (1 - HEADROOM.tokens), options.clock, options.shared && { ...options.shared, key: `${options.shared.key}:tpm` }) : undefined;
  const buckets = [requests, tokens].filter((b): b is TokenBucket => !!b);
  const slowDown = buckets.length || !options.adaptive ? pushback(buckets, options.clock) : adaptiveConcurrency(queue, { max: options.concurrency, clock: options.clock, changed: options.adaptive });
  // Per endpoint: a 429 from one endpoint is no reason to hold back calls to another.
  const pausedUntil = new Map<string, number>();
  const pausedFor = (endpoint: string) => pausedUntil.get(endpoint) ?? 0;
  const retries = retryFirst();
  // The first stop's error is the reason every later call fails with (aborting again keeps it).
  const halted = new AbortController();
  const refused = new AbortController();
  const { signal } = halted;

  return {
    schedule(fn, { priority, tokens: estimate, endpoint = "", finishing, stop: theirs }) {
      const own = finishing ? refused.signal : signal;
      const stop = theirs ? AbortSignal.any([own, theirs]) : own;
      return queue.add(
        async () => {
          stop.throwIfAborted();
          await waitForTurn({ stop, clock: options.clock, pausedFor: () => pausedFor(endpoint), retriesGone: () => retries.gone(endpoint), requests, tokens, estimate });
          stop.throwIfAborted();
          return fn();
        },
        { priority },
      ) as Promise<Awaited<ReturnType<typeof fn>>>;
    },
    settle(estimated, actual) {
      tokens?.adjust(actual - Math.max(1, estimated));
    },
    observe(headers, status, endpoint = "") {
      slowDown(status);
      // Any other answer the retry layer retries (5xx, 408, 409, 425) takes the next call's place
      // under the RPM limit, as a 429's retry does (after a last attempt the pace just gives up a
      // request: the safe side). Tokens are not charged: such an answer is not billed.
      if (status !== 429 && retryStatusCodes.includes(status)) requests?.resend?.();
      const pauseMs = pauseAskedMs(headers, status);
      // A wait too long to be waited (a spent daily quota) fails that call instead: the others go on.
      if (pauseMs > (options.maxPauseMs ?? defaultMaxWaitMs)) return;
      if (pauseMs > 0) pausedUntil.set(endpoint, Math.max(pausedFor(endpoint), options.clock.now() + pauseMs));
    },
    waitingToRetry: (status, endpoint = "") => retries.hold(endpoint, status),
    stop(error, { letFinish = false } = {}) {
      halted.abort(error);
      if (!letFinish) refused.abort(error);
    },
    stopped: signal,
    stoppedFinishing: refused.signal,
    async close() {
      const client = options.shared?.client as { status?: string; quit?: () => Promise<unknown>; disconnect?: () => void } | undefined;
      // quit() on a lost connection would wait for it to come back.
      if (client?.status === "ready") await client.quit?.().catch(() => {});
      else client?.disconnect?.();
    },
  };
}
