import type { ChatRequest, ChatResult, Provider } from "../../providers/types.ts";
import { callFields, type CallScope } from "../call-scope.ts";
import { SAError } from "../errors.ts";
import type { Log } from "../log.ts";
import type { UsageGuard } from "../usage-guard.ts";
import { leftWaiting } from "../call/left-waiting.ts";
import { chatBody, type BatchRequest, type Outcome } from "./request.ts";

interface Waiting extends BatchRequest {
  provider: Provider;
  request: ChatRequest;
  /** Waves this request was sent in already. */
  attempts: number;
  /** The call it serves, for its log lines (they are written from the wave, outside the call). */
  scope: Partial<CallScope>;
  resolve(result: ChatResult): void;
  reject(error: Error): void;
}

export interface CollectorOptions {
  /** Sends one wave; each request's outcome comes back (a missing one counts as failed). */
  send(wave: number, requests: BatchRequest[]): Promise<Map<string, Outcome>>;
  /** A wave smaller than this goes live, request by request. @default 0 */
  below: number;
  /** Answers a request live (the provider's own call). */
  live(waiting: { provider: Provider; request: ChatRequest }[]): Promise<Array<ChatResult | Error>>;
  /** Waves a failed request may be sent in, the first included. */
  attempts: number;
  quietMs: number;
  guard: Pick<UsageGuard, "stopReason">;
  log: Log;
}

export interface Collector {
  /** Enqueues one request into the next wave and waits for its answer. */
  ask(provider: Provider, request: ChatRequest): Promise<ChatResult>;
  /** Runs one call of the pipeline: while any call is busy elsewhere (cache, validation), no wave is sent. */
  track<T>(call: () => Promise<T>): Promise<T>;
  /**
   * A stop (signal, limit): every waiting call fails with `error` at once and no wave is sent.
   * Batches already created run on at the provider; the next run re-attaches to them.
   */
  stop(error: Error): void;
}

interface CollectorState {
  pending: Waiting[];
  /** Calls of the pipeline in progress, and those among them waiting for a wave. */
  active: number;
  unresolved: number;
  sending: boolean;
  wave: number;
  /** Every call still waiting, to fail them all at a stop. */
  waiting: Set<Waiting>;
  stopped?: Error;
}

/** Hands an outcome to its call, or puts a failed request back for the next wave while it has attempts left. */
function settle(state: CollectorState, options: CollectorOptions, w: Waiting, outcome: Outcome | Error): void {
  if (!state.waiting.has(w)) return;
  if (!state.stopped && !(outcome instanceof Error) && !outcome.ok && w.attempts < options.attempts) {
    options.log.warn(`batch: ${w.customId} failed (${outcome.reason}); sending it again in the next wave`, w.scope);
    state.pending.push(w);
    return;
  }
  state.unresolved--;
  state.waiting.delete(w);
  if (outcome instanceof Error) w.reject(outcome);
  else if (outcome.ok) w.resolve(outcome.result);
  else w.reject(new SAError("E_PROVIDER", `batch: ${w.model}: ${outcome.reason} after ${w.attempts} wave(s)`, { details: { retries: w.attempts - 1 } }));
}

/** Sends the pending requests as one wave: refused at a stop, live when small, else as batches. */
async function sendWave(state: CollectorState, options: CollectorOptions): Promise<void> {
  const requests = state.pending.splice(0);
  const wave = ++state.wave;
  requests.forEach((w) => w.attempts++);
  const stop = options.guard.stopReason;
  if (stop) {
    const error = new SAError(stop.startsWith("budget") ? "E_BUDGET" : "E_LIMIT", `${stop}; wave ${wave} (${requests.length} request(s)) not submitted`);
    return requests.forEach((w) => settle(state, options, w, error));
  }
  if (requests.length < options.below) {
    options.log.info(`batch: wave ${wave} has ${requests.length} call(s), fewer than ${options.below}: asking live`);
    const answers = await options.live(requests);
    return requests.forEach((w, i) => {
      const answer = answers[i]!;
      settle(state, options, w, answer instanceof Error ? answer : { ok: true, result: answer });
    });
  }
  options.log.info(`batch: wave ${wave}, ${requests.length} request(s)`);
  try {
    const outcomes = await options.send(wave, requests.map(({ customId, model, body }) => ({ customId, model, body })));
    requests.forEach((w) => settle(state, options, w, outcomes.get(w.customId) ?? { ok: false, reason: "no result" }));
  } catch (error) {
    requests.forEach((w) => settle(state, options, w, error instanceof Error ? error : new Error(String(error))));
  }
}

/**
 * Collects the calls of a run into waves. A wave is sent when every call in progress is waiting
 * here and none has moved for `quietMs`: all descriptions first, then all features, then all
 * mappings (each stage's calls exist only once the one before is answered). Requests that failed
 * inside a batch go into the next wave, up to `attempts` waves.
 */
export function createCollector(options: CollectorOptions): Collector {
  const state: CollectorState = { pending: [], active: 0, unresolved: 0, sending: false, wave: 0, waiting: new Set() };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = () => !state.stopped && !state.sending && state.pending.length > 0 && state.active - state.unresolved <= 0;
  const send = () => {
    state.sending = true;
    void sendWave(state, options).finally(() => {
      state.sending = false;
      check();
    });
  };
  const check = () => {
    if (timer) clearTimeout(timer);
    timer = idle() ? setTimeout(() => idle() && send(), options.quietMs) : undefined;
  };
  return {
    ask(provider, request) {
      const body = chatBody(provider.model, request);
      const customId = request.requestKey ?? `sa-${Bun.hash(JSON.stringify(body)).toString(16)}`;
      if (state.stopped) return Promise.reject(state.stopped);
      return new Promise<ChatResult>((resolve, reject) => {
        const w: Waiting = { customId, model: provider.model, body, provider, request, attempts: 0, scope: callFields(), resolve, reject };
        state.pending.push(w);
        state.waiting.add(w);
        state.unresolved++;
        check();
      });
    },
    async track(call) {
      state.active++;
      check();
      try {
        return await call();
      } finally {
        state.active--;
        check();
      }
    },
    stop(error) {
      state.stopped ??= error;
      state.pending.length = 0;
      const left = leftWaiting(error);
      for (const w of [...state.waiting]) settle(state, options, w, left);
    },
  };
}
