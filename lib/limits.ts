import PQueue from "p-queue";
import { RateLimiterMemory, RateLimiterQueue, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Clock } from "./clock.ts";
import type { Log } from "./log.ts";
import { redactUrl } from "./redact.ts";
import { parseResetMs, retryAfterMs } from "./http.ts";

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
}

export interface Limiter {
  /** Runs `fn` once a concurrency slot, a request and `tokens` are free. Higher priority goes first. */
  schedule<T>(fn: () => Promise<T>, options: { priority: number; tokens: number }): Promise<T>;
  /** After the call: correct the token bucket from the estimate to the reported usage. */
  settle(estimated: number, actual: number): void;
  /** Rate-limit headers and 429s slow dispatch down instead of hammering the provider. */
  observe(headers: Headers, status: number): void;
  /** Releases a shared store's connection. */
  close(): Promise<void>;
  /** Nothing new starts after this: queued calls reject with `error` as their turn comes. */
  stop(error: Error): void;
}

const KEY = "dispatch";
/** The smoothing window: a quarter of a second's share of the quota at most goes out at once. */
const WINDOW_SECONDS = 0.25;

/**
 * A bucket that refills smoothly: a short window holds that window's share of the minute quota,
 * and `execEvenly` spreads those inside the window. Providers enforce limits over short windows
 * too, so a whole minute's quota (or even a second's) must never go out in one burst.
 */
function smoothBucket(perMinute: number, windowSeconds: number, shared?: { client: unknown; key: string }) {
  // Redis keys expire in whole seconds: a shared bucket uses windows of at least one second.
  const window = shared ? Math.max(1, windowSeconds) : windowSeconds;
  const points = Math.max(1, Math.floor((perMinute * window) / 60));
  const duration = shared ? Math.max(1, Math.round((points * 60) / perMinute)) : (points * 60) / perMinute;
  const local = new RateLimiterMemory({ points, duration, execEvenly: true, execEvenlyMinDelayMs: 0 });
  // If Redis goes away, each process falls back to its own bucket instead of failing calls.
  const limiter: RateLimiterAbstract = shared
    ? new RateLimiterRedis({
        storeClient: shared.client,
        keyPrefix: `sa-rate:${shared.key}`,
        points,
        duration,
        execEvenly: true,
        execEvenlyMinDelayMs: 0,
        insuranceLimiter: local,
      })
    : local;
  return { points, limiter, queue: new RateLimiterQueue(limiter, { maxQueueSize: Number.MAX_SAFE_INTEGER }) };
}

/**
 * An ioredis client for the shared buckets, connected before the first call. Commands never wait
 * for a lost connection (no offline queue, no retry): they fail at once and the limiter uses this
 * process's own buckets (its insurance limiter). ioredis keeps reconnecting, and the buckets are
 * shared again as soon as Redis is back. One warning when Redis is lost, one line when it is back.
 */
export async function sharedBucketsClient(url: string, log: Pick<Log, "warn" | "info">, connectTimeoutMs = 5000) {
  const { default: Redis } = await import("ioredis");
  const client = new Redis(url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: connectTimeoutMs });
  const where = `rate limit: Redis ${redactUrl(url)}`;
  let up = false;
  let warned = false;
  const lost = () => {
    if (!warned) log.warn(`${where} is unreachable; this process uses its own RPM/TPM buckets until it is back`);
    warned = true;
  };
  client.on("error", () => {});
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

export function createLimiter(options: LimiterOptions): Limiter {
  const queue = new PQueue({ concurrency: options.concurrency });
  const requests = options.rpm ? smoothBucket(options.rpm, WINDOW_SECONDS, options.shared && { ...options.shared, key: `${options.shared.key}:rpm` }) : undefined;
  const tokens = options.tpm ? smoothBucket(options.tpm, WINDOW_SECONDS, options.shared && { ...options.shared, key: `${options.shared.key}:tpm` }) : undefined;
  let pausedUntil = 0;
  let stopped: Error | undefined;

  const waitForPause = async () => {
    for (let wait = pausedUntil - options.clock.now(); wait > 0; wait = pausedUntil - options.clock.now()) {
      await options.clock.sleep(wait);
    }
  };

  return {
    schedule(fn, { priority, tokens: estimate }) {
      return queue.add(
        async () => {
          if (stopped) throw stopped;
          await waitForPause();
          await requests?.queue.removeTokens(1, KEY);
          // A call larger than one window waits for as many windows as it needs.
          for (let left = Math.max(1, estimate); tokens && left > 0; left -= tokens.points) await tokens.queue.removeTokens(Math.min(tokens.points, left), KEY);
          if (stopped) throw stopped;
          return fn();
        },
        { priority },
      ) as Promise<Awaited<ReturnType<typeof fn>>>;
    },
    settle(estimated, actual) {
      if (!tokens) return;
      const diff = actual - Math.max(1, estimated);
      if (diff > 0) void tokens.limiter.penalty(KEY, diff).catch(() => {});
      else if (diff < 0) void tokens.limiter.reward(KEY, -diff).catch(() => {});
    },
    observe(headers, status) {
      let pauseMs = 0;
      if (status === 429) pauseMs = retryAfterMs(headers) ?? 1000;
      const remainingRequests = headers.get("x-ratelimit-remaining-requests");
      if (remainingRequests === "0") pauseMs = Math.max(pauseMs, parseResetMs(headers.get("x-ratelimit-reset-requests")) ?? 0);
      const remainingTokens = headers.get("x-ratelimit-remaining-tokens");
      if (remainingTokens === "0") pauseMs = Math.max(pauseMs, parseResetMs(headers.get("x-ratelimit-reset-tokens")) ?? 0);
      if (pauseMs > 0) pausedUntil = Math.max(pausedUntil, options.clock.now() + pauseMs);
    },
    stop(error) {
      stopped ??= error;
    },
    async close() {
      const client = options.shared?.client as { status?: string; quit?: () => Promise<unknown>; disconnect?: () => void } | undefined;
      // quit() on a lost connection would wait for it to come back.
      if (client?.status === "ready") await client.quit?.().catch(() => {});
      else client?.disconnect?.();
    },
  };
}
