import type { Provider, Usage } from "../providers/types.ts";
import { redact } from "./redact.ts";
import type { CallSpan, Tracing } from "./tracing.ts";

interface Totals {
  inputTokens: number;
  outputTokens: number;
  retries: number;
  costUsd: number;
}

/** `skipped`: the models passed over because they were down (no request went to them). */
type OpenCall = { set: (a: Record<string, string | number | boolean | undefined>) => void; totals: Totals; skipped: string[] };
type Request = { provider: string; model: string; cache: "hit" | "live" | "failed" | "skipped"; usage: Usage; retries: number; answeredBy: string; responseId?: string; costUsd: number };

/**
 * A call's span, named after its primary model. It is made on the call's first request (live,
 * failed or from the cache), starting when the call began: a call never sent (refused by a limit
 * or a budget, stopped by Ctrl-C, a dry run's miss) is no model call, so it has no span. `end`
 * closes it with the answer or the error.
 */
function startSpan(tracing: Tracing, open: WeakMap<object, OpenCall>, spec: { stage: string; serviceId: string; messages: unknown }, primary: Provider) {
  const startTime = Date.now();
  let span: CallSpan | undefined;
  const opened = () =>
    (span ??= tracing.call(
      `chat ${primary.model}`,
      {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": primary.name,
        "gen_ai.request.model": primary.model,
        "sa.stage": spec.stage,
        "sa.service_id": spec.serviceId,
        ...(tracing.logPrompts ? { "gen_ai.input.messages": redact(JSON.stringify(spec.messages)) } : {}),
      },
      startTime,
    ));
  open.set(spec, { set: (a) => opened().set(a), totals: { inputTokens: 0, outputTokens: 0, retries: 0, costUsd: 0 }, skipped: [] });
  return {
    end(error?: unknown, answer?: unknown) {
      open.delete(spec);
      if (!span) return;
      if (!error && tracing.logPrompts) span.set({ "gen_ai.output.messages": redact(JSON.stringify(answer)) });
      span.end(error);
    },
  };
}

const noCallSpan = { end: (_error?: unknown, _answer?: unknown) => {} };

/** Adds one request's usage to its call's totals and sets them on the span. */
function addRequest(call: OpenCall, r: Request): void {
  if (r.cache === "skipped") return call.skipped.push(r.model), call.set({ "sa.skipped_models": call.skipped.join(",") });
  const t = call.totals;
  if (r.cache === "live") {
    t.inputTokens += r.usage.inputTokens;
    t.outputTokens += r.usage.outputTokens;
  }
  t.retries += r.retries;
  t.costUsd += r.costUsd;
  call.set({
    "gen_ai.provider.name": r.provider,
    "gen_ai.response.model": r.answeredBy,
    "gen_ai.response.id": r.responseId,
    "gen_ai.usage.input_tokens": t.inputTokens,
    "gen_ai.usage.output_tokens": t.outputTokens,
    "sa.cache_hit": r.cache === "hit",
    "sa.retries": t.retries,
    "sa.cost_usd": t.costUsd,
    "sa.model": r.model,
  });
}

/**
 * One span per logical call (`chat {model}`), with the GenAI semantic-convention attributes. A
 * call may take several requests (a re-ask, a fallback): the span sums them.
 */
export function createCallTraces(tracing: Tracing) {
  // Without tracing, a call has no span to fill: nothing is built per call (a cached rerun makes thousands a second).
  if (!tracing.enabled) return { start: (_spec: object, _primary: Provider) => noCallSpan, record: (_spec: object, _r: Request) => {} };
  const open = new WeakMap<object, OpenCall>();
  return {
    start: (spec: { stage: string; serviceId: string; messages: unknown }, primary: Provider) => startSpan(tracing, open, spec, primary),
    /** Adds one request (live or from the cache) to its call's span. */
    record(spec: object, r: Request) {
      const call = open.get(spec);
      if (call) addRequest(call, r);
    },
  };
}
