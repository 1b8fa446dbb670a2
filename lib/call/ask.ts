import type { ChatMessage, ChatResult } from "../../providers/types.ts";
import { validateAnswer } from "../call-spec.ts";
import type { Attempt, CallContext } from "./context.ts";
import { requestAnswer } from "./request.ts";

/** An answer got by `ask`, validated, with what `persist` keeps of it. */
export interface Asked<T> {
  value: T;
  /** The provider's answer that gave `value` (text, usage, model). */
  answer: ChatResult;
  /** The messages that answer replied to (the re-ask's, when there was one). */
  messages: ChatMessage[];
  /** Parts of the answer that were dropped (and quarantined). */
  dropped?: { reason: string; data: string };
}

/** An invalid answer after the re-ask: the session tries the next model. */
export interface AskFailed {
  failed: string;
}

/**
 * Step 3: the answer from the model. Replaceable (batch mode collects the calls into a wave):
 * whatever it is, it returns a validated answer or why the model failed.
 */
export type AskStep = <T>(ctx: CallContext, attempt: Attempt<T>) => Promise<Asked<T> | AskFailed>;

/** The live call: an invalid answer is asked for again once, with the reason. */
export const ask: AskStep = async <T>(ctx: CallContext, attempt: Attempt<T>) => {
  const { spec } = attempt;
  const answer = await requestAnswer(ctx, attempt as Attempt<unknown>, spec.messages);
  const checked = validateAnswer(spec, answer.content);
  if (checked.ok && checked.problems.length === 0) return { value: checked.value, answer, messages: spec.messages };
  const reason = checked.ok ? checked.problems.join("; ") : checked.reason;
  // The same cap would cut a second answer off again: the next model is tried instead.
  if (!checked.ok && answer.cutOff) return cutOff(ctx, attempt, answer);
  ctx.log.debug(`${spec.stage} answer from ${attempt.model} failed validation (${reason}); asking once more`, { serviceId: spec.serviceId });
  return reAsk(ctx, attempt, answer.content, reason);
};

/** An answer that stopped at the output cap is quarantined, saying so: paid for, never re-asked. */
function cutOff<T>(ctx: CallContext, attempt: Attempt<T>, answer: ChatResult): AskFailed {
  const { spec, model } = attempt;
  const cap = attempt.route.settings.maxOutputTokens ?? answer.usage.outputTokens;
  const reason = `the answer was cut off at the output cap (${cap} tokens, ${answer.usage.reasoningTokens} of them reasoning): raise maxOutputTokens, or modelSettings["${model}"].maxOutputTokens`;
  ctx.quarantine.add({ kind: "answer", serviceId: spec.serviceId, stage: spec.stage, model, reason, data: answer.content });
  return { failed: `${model}: ${reason}` };
}

/** The second and last request: a still-invalid answer is quarantined; droppable parts are dropped. */
async function reAsk<T>(ctx: CallContext, attempt: Attempt<T>, content: string, reason: string): Promise<Asked<T> | AskFailed> {
  const { spec, model } = attempt;
  const messages: ChatMessage[] = [
    ...spec.messages,
    { role: "assistant", content },
    { role: "user", content: `Your answer failed validation: ${reason}. Answer again with JSON that matches the schema exactly.` },
  ];
  const answer = await requestAnswer(ctx, attempt as Attempt<unknown>, messages);
  const checked = validateAnswer(spec, answer.content);
  if (!checked.ok && answer.cutOff) return cutOff(ctx, attempt, answer);
  if (!checked.ok) {
    ctx.quarantine.add({ kind: "answer", serviceId: spec.serviceId, stage: spec.stage, model, reason: checked.reason, data: answer.content });
    return { failed: `${model}: invalid answer after a re-ask (${checked.reason})` };
  }
  if (checked.problems.length === 0) return { value: checked.value, answer, messages };
  // The answer is kept, minus what could not be used; the dropped parts are quarantined.
  const dropped = { reason: checked.problems.join("; "), data: answer.content };
  ctx.quarantine.add({ kind: "mapping", serviceId: spec.serviceId, stage: spec.stage, model, ...dropped });
  return { value: checked.value, answer, messages, dropped };
}
