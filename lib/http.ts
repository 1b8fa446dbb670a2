import { ofetch, FetchError, type FetchContext } from "ofetch";
import { SAError, errorMessage } from "./errors.ts";
import { redact } from "./redact.ts";
import { retryStatusCodes } from "./retry-status.ts";

export interface RetryOptions {
  /** Attempts in all, the first included. @default 6 */
  attempts: number;
  /** First backoff step in ms. @default 500 */
  baseMs: number;
  /** Longest backoff in ms, before any retry-after. @default 30000 */
  capMs: number;
  /** Milliseconds one attempt may take. @default 120000 */
  requestTimeout: number;
  /**
   * The longest wait a provider may ask for (`retry-after`, or a 429's reset): a longer one (a
   * spent daily quota) is not waited, so the call fails at once and the next model may answer. @default 120000
   */
  maxWaitMs?: number;
  fetch?: typeof globalThis.fetch;
  /**
   * What a successful body must hold (a chat completion has choices). A 2xx answer that is cut
   * off, empty, not JSON or fails this is retried like a 5xx: gateways send such answers when
   * they, not the model, fail. @default any JSON
   */
  expectBody?: (data: unknown) => boolean;
  /** The run's stop: a call waiting to retry makes no further attempt and fails with its reason. */
  stopped?: AbortSignal;
  random?: () => number;
  /**
   * Asked before each retry is sent: an error refuses it (a usage limit the retry would cross),
   * and the call fails with that error instead of sending it.
   */
  beforeRetry?: () => Error | undefined;
  onRetry?: (info: RetryInfo) => void;
  onResponseHeaders?: (headers: Headers, status: number) => void;
  /**
   * Told when a call starts waiting to retry after `status` (undefined: no answer came); the
   * function it returns is called when that wait ends, as the retry goes or the call gives up.
   */
  waitingToRetry?: (status: number | undefined) => () => void;
}

export interface RetryInfo {
  attempt: number;
  delayMs: number;
  status?: number;
  reason: string;
  requestId?: string;
}

/** `retry-after-ms` (OpenAI), then `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  // A date already past says only that the clocks differ: the backoff decides instead.
  const date = Date.parse(raw);
  return Number.isFinite(date) && date > now ? date - now : undefined;
}

/** Parses OpenAI's reset durations such as `1s`, `6m0s`, `20ms`. */
export function parseResetMs(value: string | null): number | undefined {
  if (!value) return undefined;
  let total = 0;
  let matched = false;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    matched = true;
    const n = Number(m[1]);
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000;
  }
  return matched ? total : undefined;
}

export const defaultMaxWaitMs = 120_000;

/** The wait a response asks for: its retry-after, else on a 429 the later of its rate-limit resets. */
function askedWaitMs(status: number | undefined, headers: Headers | undefined): number | undefined {
  const asked = retryAfterMs(headers);
  if (asked !== undefined || status !== 429) return asked;
  const resetMs = Math.max(parseResetMs(headers?.get("x-ratelimit-reset-requests") ?? null) ?? 0, parseResetMs(headers?.get("x-ratelimit-reset-tokens") ?? null) ?? 0);
  return resetMs > 0 ? resetMs : undefined;
}

/**
 * The wait before a retry: at least what the answer asks for (its retry-after; without one, a
 * 429's rate-limit reset), and at least the backoff. A short ask never spends the attempts in a
 * burst: calls that met one spent window all get the same few milliseconds, and would all come back
 * at once, again and again, with nothing left after a second or two.
 */
function retryWaitMs(answer: { status: number | undefined; headers: Headers | undefined; backoff: number }): number {
  return Math.max(askedWaitMs(answer.status, answer.headers) ?? 0, answer.backoff);
}

/** Full jitter: a random wait up to an exponentially growing, capped ceiling. */
export function backoffMs(attempt: number, options: Pick<RetryOptions, "baseMs" | "capMs">, random = Math.random): number {
  return Math.round(random() * Math.min(options.capMs, options.baseMs * 2 ** (attempt - 1)));
}

export const requestIdOf = (headers: Headers | undefined) => headers?.get("x-request-id") ?? headers?.get("request-id") ?? undefined;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Responses built here from a body already read: their headers may still be set. */
const rebuilt = new WeakSet<Response>();

/**
 * Reads a 2xx body whole and hands back an equal response, or throws (and so is retried) when
 * the body broke off or is not what was asked for. The error says what came back.
 */
async function usableAnswer(response: Response, expectBody: RetryOptions["expectBody"], callerSignal?: AbortSignal | null): Promise<Response> {
  if (!response.ok) return response;
  // What came back, for an error only.
  const what = () => `HTTP ${response.status} (${response.headers.get("content-type") || "no content type"})`;
  let text: string;
  try {
    text = await response.text();
  } catch (cause) {
    // The caller gave up (a stop, the SDK's overall timeout): that is no reason to retry.
    if (callerSignal?.aborted) throw cause;
    throw new SAError("E_PROVIDER", `${what()}: the connection broke while the answer was read (${errorMessage(cause)})`, { cause, details: { status: response.status } });
  }
  const blank = !text.trim();
  const data = blank ? undefined : parseJson(text);
  const problem = blank ? "an empty body" : data === undefined ? "a body that is not JSON" : expectBody && !expectBody(data) ? "JSON that is not the expected answer" : undefined;
  if (problem) throw new SAError("E_PROVIDER", `${what()}: ${problem}: ${redact(text.slice(0, 200).replace(/\s+/g, " "))}`, { details: { status: response.status } });
  // The body was decoded while read: its length and encoding no longer apply.
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  const answer = new Response(text, { status: response.status, statusText: response.statusText, headers });
  rebuilt.add(answer);
  return answer;
}

/** The header on every response of the retry fetch that says how many retries it took. */
const retriesHeader = "x-sa-retries";

/** Retries behind an error thrown by the retry fetch (no response came back). */
const retriesOfError = new WeakMap<object, number>();

/** The same response with the retry count in `x-sa-retries` (and a refused wait); nothing from the server is changed. */
function withRetries(response: Response, counter: Counter): Response {
  const retries = counter.retries;
  // A 2xx answer was rebuilt from its text already: no second copy. A server's own response has immutable headers.
  if (rebuilt.has(response)) return response.headers.set(retriesHeader, String(retries)), response;
  const headers = new Headers(response.headers);
  headers.set(retriesHeader, String(retries));
  if (counter.refusedWaitMs !== undefined) headers.set(refusedWaitHeader, String(counter.refusedWaitMs));
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * Retries the retry layer counted for one call: from a response's headers (or an SDK error's),
 * or from the error it threw, or from that error's cause (the SDK wraps network errors).
 */
export function retriesOf(value: { headers?: Headers | unknown; cause?: unknown } | null | undefined): number {
  if (!value || typeof value !== "object") return 0;
  const headers = value.headers;
  if (headers instanceof Headers && headers.has(retriesHeader)) return Number(headers.get(retriesHeader)) || 0;
  const counted = retriesOfError.get(value);
  if (counted !== undefined) return counted;
  return value.cause && value.cause !== value ? retriesOf(value.cause as { headers?: unknown; cause?: unknown }) : 0;
}

/**
 * One attempt: its own timeout, the caller's signal still cancelling everything, and a 2xx body
 * read whole (`usableAnswer`). The timer is cleared once that body is read: a spent attempt holds
 * nothing until the timeout would fire. Like AbortSignal.timeout, it never keeps the process
 * alive (an error response's body is read by the SDK after this, still under the timer).
 */
function timedAttempt(options: RetryOptions): typeof globalThis.fetch {
  const baseFetch = options.fetch ?? globalThis.fetch;
  return ((input: string | URL | Request, init?: RequestInit) => {
    const { counter } = init as { counter?: Counter };
    if (counter?.refused) return Promise.reject(counter.refused);
    if (counter?.waitMs) {
      // The wait ends early on the run's stop, or when the caller gives up (the SDK's overall timeout).
      const ends = [options.stopped, init?.signal ?? undefined].filter((s): s is AbortSignal => !!s);
      // A wait a stop has already ended is no wait: nothing to be told.
      const waited = ends.some((s) => s.aborted) ? undefined : options.waitingToRetry?.(counter.status);
      // A retry counts once it goes out: one a stop cut short was never sent.
      return waitToRetry(counter, ends.length ? AbortSignal.any(ends) : undefined)
        .finally(waited)
        .then(() => (counter.retries++, timedAttempt(options)(input, init)));
    }
    const attempt = new AbortController();
    const timer = setTimeout(() => attempt.abort(new DOMException("The operation timed out.", "TimeoutError")), options.requestTimeout).unref();
    const signal = init?.signal ? AbortSignal.any([init.signal, attempt.signal]) : attempt.signal;
    const done = () => clearTimeout(timer);
    const failed = (error: unknown) => {
      clearTimeout(timer);
      throw error;
    };
    return baseFetch(input, { ...init, signal }).then((response) => (response.ok ? usableAnswer(response, options.expectBody, init?.signal).then((answer) => (done(), answer), failed) : response), failed);
  }) as typeof globalThis.fetch;
}

/** A call's own tally, passed with its options: retries so far, and the wait before the next attempt. */
interface Counter {
  retries: number;
  waitMs: number;
  /** A wait the provider asked for that was longer than `maxWaitMs`, and so not waited. */
  refusedWaitMs?: number;
  /** Why the next attempt may not be sent (`beforeRetry`): it fails with this instead. */
  refused?: Error;
  /** The status of the answer being retried (undefined: no answer came). */
  status?: number;
}

/** The header on a response whose asked wait was refused (`maxWaitMs`): the wait in ms. */
export const refusedWaitHeader = "x-sa-refused-wait-ms";

/** A retryable answer that asks for a wait past `maxWaitMs` is not retried: the call fails now. */
export function refuseLongWaits(options: Pick<RetryOptions, "maxWaitMs">): (context: FetchContext) => void {
  const maxWaitMs = options.maxWaitMs ?? defaultMaxWaitMs;
  return (context) => {
    const asked = askedWaitMs(context.response?.status, context.response?.headers);
    if (asked === undefined || asked <= maxWaitMs) return;
    const counter = (context.options as { counter?: Counter }).counter;
    if (counter) counter.refusedWaitMs = asked;
    context.options.retry = false;
  };
}

/**
 * ofetch's `retryDelay` for a client other than the SDK's (the Batch API): the wait the answer
 * asks for or the full jitter backoff, the longer (`retryWaitMs`), as for chat calls.
 */
export function plainRetryDelay(options: Pick<RetryOptions, "attempts" | "baseMs" | "capMs" | "random">): (context: FetchContext) => number {
  const random = options.random ?? Math.random;
  return (context) => {
    const remaining = typeof context.options.retry === "number" ? context.options.retry : 0;
    return Math.max(1, retryWaitMs({ status: context.response?.status, headers: context.response?.headers, backoff: backoffMs(options.attempts - remaining, options, random) }));
  };
}

/** Waits before a retry; an abort during (or before) the wait ends the call with the abort's reason. */
function waitToRetry(counter: Counter, stopped: AbortSignal | undefined): Promise<void> {
  const ms = counter.waitMs;
  counter.waitMs = 0;
  if (stopped?.aborted) return Promise.reject(stopped.reason);
  return new Promise<void>((resolve, reject) => {
    const onStop = () => {
      clearTimeout(timer);
      reject(stopped!.reason);
    };
    const timer = setTimeout(() => {
      stopped?.removeEventListener("abort", onStop);
      resolve();
    }, ms);
    stopped?.addEventListener("abort", onStop, { once: true });
  });
}

/**
 * The wait before the next attempt, kept on the call's tally (`counter`) and waited in
 * `timedAttempt`, where a stop can cut it short (ofetch's own wait cannot be), which counts it.
 */
function retryDelayOf(options: RetryOptions): (context: FetchContext) => number {
  const random = options.random ?? Math.random;
  return (context) => {
    const counter = (context.options as { counter?: Counter }).counter!;
    // Stopped: the next attempt fails at once with the stop's reason, and so each left (no retry).
    if (options.stopped?.aborted) return (counter.waitMs = 1), 0;
    counter.refused = options.beforeRetry?.();
    if (counter.refused) return 0;
    const remaining = typeof context.options.retry === "number" ? context.options.retry : 0;
    const attempt = options.attempts - remaining;
    const headers = context.response?.headers;
    const status = context.response?.status;
    const delayMs = retryWaitMs({ status, headers, backoff: backoffMs(attempt, options, random) });
    counter.waitMs = Math.max(1, delayMs);
    counter.status = status;
    options.onRetry?.({
      attempt,
      delayMs,
      status,
      reason: status ? `HTTP ${status}` : context.error instanceof SAError ? context.error.message : `network error: ${(context.error as Error | undefined)?.message ?? "unknown"}`,
      requestId: requestIdOf(headers),
    });
    return 0;
  };
}

/**
 * The error a call throws, as its own object: the run's stop reason is one error for every call it
 * cuts short, and each call's retries are counted on the error it throws (`retriesOf`).
 */
function ownError(error: unknown, stopped: AbortSignal | undefined): unknown {
  if (!stopped?.aborted || error !== stopped.reason || !(error instanceof Error)) return error;
  return error instanceof SAError ? new SAError(error.code, error.message, { cause: error, details: error.details }) : new Error(error.message, { cause: error });
}

/**
 * A `fetch` for the openai SDK in which ofetch owns every retry (the SDK gets `maxRetries: 0`).
 * The body is handed back unread by ofetch (`responseType: "stream"`), or the SDK fails with
 * "Body already used"; a 2xx body is read once here, to retry one that is unusable. After the last attempt the error response itself goes back to the SDK,
 * so its error keeps the status, the provider's message and the request id.
 */
export function createRetryFetch(options: RetryOptions): typeof globalThis.fetch {
  const onResponseHeaders = options.onResponseHeaders;
  // Everything but the call's own tally is the same for every call: set once, not per request.
  const $fetch = ofetch.create(
    {
      responseType: "stream",
      retry: options.attempts - 1,
      retryStatusCodes,
      retryDelay: retryDelayOf(options),
      onResponseError: refuseLongWaits(options),
      ...(onResponseHeaders ? { onResponse: ({ response }: FetchContext) => onResponseHeaders(response!.headers, response!.status) } : {}),
    },
    { fetch: timedAttempt(options) },
  );

  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const counter: Counter = { retries: 0, waitMs: 0 };
    try {
      const response = await $fetch.raw(url, { ...(init as Record<string, unknown>), counter } as Parameters<typeof $fetch.raw>[1]);
      return withRetries(response, counter);
    } catch (error) {
      if (error instanceof FetchError && error.response) return withRetries(error.response, counter);
      const cause = error instanceof FetchError && error.cause ? error.cause : error;
      const thrown = ownError(cause, options.stopped);
      if (thrown && typeof thrown === "object") retriesOfError.set(thrown, counter.retries);
      throw thrown;
    }
  }) as typeof globalThis.fetch;
}
