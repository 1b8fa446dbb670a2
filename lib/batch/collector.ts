import type { ChatRequest, ChatResult, Provider } from "../../providers/types.ts";
import { SAError } from "../errors.ts";
import type { Log } from "../log.ts";
import type { UsageGuard } from "../usage-guard.ts";
import { chatBody, type BatchRequest, type Outcome } from "./request.ts";

interface Waiting extends BatchRequest {
  provider: Provider;
  request: ChatRequest;
  /** Waves this request was sent in already. */
  attempts: number;
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
}

/**
 * Collects the calls of a run into waves. A wave is sent when every call in progress is waiting
 * here and none has moved for `quietMs`: all descriptions first, then all features, then all
 * mappings (each stage's calls exist only once the one before is answered). Requests that failed
 * inside a batch go into the next wave, up to `attempts` waves.
 */
export function createCollector(options: CollectorOptions): Collector {
  const pending: Waiting[] = [];
  let active = 0;
  let unresolved = 0;
  let sending = false;
  let wave = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const idle = () => !sending && pending.length > 0 && active - unresolved <= 0;
  const check = () => {
    if (timer) clearTimeout(timer);
    timer = idle() ? setTimeout(() => idle() && void send(), options.quietMs) : undefined;
  };
  const settle = (w: Waiting, outcome: Outcome | Error) => {
    if (outcome instanceof Error || outcome.ok) {
      unresolved--;
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome.result);
    } else if (w.attempts < options.attempts) {
      options.log.warn(`batch: ${w.customId} failed (${outcome.reason}); sending it again in the next wave`);
      pending.push(w);
    } else {
      unresolved--;
      w.reject(new SAError("E_PROVIDER", `batch: ${w.model}: ${outcome.reason} after ${w.attempts} wave(s)`, { details: { retries: w.attempts - 1 } }));
    }
  };

  async function send() {
    sending = true;
    const requests = pending.splice(0);
    wave++;
    requests.forEach((w) => w.attempts++);
    try {
      const stop = options.guard.stopReason;
      if (stop) return requests.forEach((w) => settle(w, new SAError(stop.startsWith("budget") ? "E_BUDGET" : "E_LIMIT", `${stop}; wave ${wave} (${requests.length} request(s)) not submitted`)));
      if (requests.length < options.below) {
        options.log.info(`batch: wave ${wave} has ${requests.length} call(s), fewer than ${options.below}: asking live`);
        const answers = await options.live(requests);
        return requests.forEach((w, i) => {
          const answer = answers[i]!;
          settle(w, answer instanceof Error ? answer : { ok: true, result: answer });
        });
      }
      options.log.info(`batch: wave ${wave}, ${requests.length} request(s)`);
      const outcomes = await options.send(wave, requests.map(({ customId, model, body }) => ({ customId, model, body })));
      requests.forEach((w) => settle(w, outcomes.get(w.customId) ?? { ok: false, reason: "no result" }));
    } catch (error) {
      requests.forEach((w) => settle(w, error instanceof Error ? error : new Error(String(error))));
    } finally {
      sending = false;
      check();
    }
  }

  return {
    ask(provider, request) {
      const body = chatBody(provider.model, request);
      const customId = request.requestKey ?? `sa-${Bun.hash(JSON.stringify(body)).toString(16)}`;
      return new Promise<ChatResult>((resolve, reject) => {
        pending.push({ customId, model: provider.model, body, provider, request, attempts: 0, resolve, reject });
        unresolved++;
        check();
      });
    },
    async track(call) {
      active++;
      check();
      try {
        return await call();
      } finally {
        active--;
        check();
      }
    },
  };
}
