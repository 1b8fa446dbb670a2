import { z } from "zod";
import { chatBody as openaiChatBody, chatUsage } from "../../providers/openai.ts";
import type { ChatRequest, ChatResult } from "../../providers/types.ts";

/** One line of a batch input file: the body the live path would send to /v1/chat/completions. */
export interface BatchRequest {
  customId: string;
  model: string;
  body: Record<string, unknown>;
}

/** The chat completion body, exactly as the openai provider sends it live. */
export const chatBody = (model: string, request: ChatRequest): Record<string, unknown> => openaiChatBody(model, request);

export const requestLine = (r: BatchRequest) => `${JSON.stringify({ custom_id: r.customId, method: "POST", url: "/v1/chat/completions", body: r.body })}\n`;

/** What came back for one request: an answer, or why there is none (retried in the next wave). */
export type Outcome = { ok: true; result: ChatResult } | { ok: false; reason: string };

const completionSchema = z.looseObject({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(z.looseObject({ finish_reason: z.string().nullish(), message: z.looseObject({ content: z.string().nullish(), refusal: z.string().nullish() }) })).min(1),
  usage: z
    .looseObject({
      prompt_tokens: z.number(),
      completion_tokens: z.number(),
      prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
      completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
    })
    .nullish(),
});

export const resultLineSchema = z.looseObject({
  custom_id: z.string(),
  response: z.looseObject({ status_code: z.number(), request_id: z.string().nullish(), body: z.unknown() }).nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});

/** Reads one line of a batch's output or error file into its request's outcome. */
export function readResultLine(line: z.infer<typeof resultLineSchema>, model: string, priceFactor: number): Outcome {
  const response = line.response;
  if (!response || response.status_code !== 200) {
    const message = (response?.body as { error?: { message?: string } } | undefined)?.error?.message ?? line.error?.message ?? line.error?.code ?? "no answer";
    return { ok: false, reason: `${response ? `HTTP ${response.status_code} ` : ""}${message}` };
  }
  const parsed = completionSchema.safeParse(response.body);
  if (!parsed.success) return { ok: false, reason: "the answer is not a chat completion" };
  const { message, finish_reason } = parsed.data.choices[0]!;
  if (message.refusal) return { ok: false, reason: `the model refused (${message.refusal})` };
  return {
    ok: true,
    result: {
      content: message.content ?? "",
      model: parsed.data.model || model,
      responseId: parsed.data.id,
      retries: 0,
      batchPriceFactor: priceFactor,
      ...(finish_reason === "length" ? { cutOff: true } : {}),
      usage: chatUsage(parsed.data.usage),
    },
  };
}

/** Splits requests into batch files within the request and byte limits, one model per file. */
export function splitRequests(requests: BatchRequest[], limits: { maxRequests: number; maxBytes: number }): BatchRequest[][] {
  const byModel = new Map<string, BatchRequest[]>();
  for (const r of requests) byModel.set(r.model, [...(byModel.get(r.model) ?? []), r]);
  const chunks: BatchRequest[][] = [];
  for (const group of byModel.values()) {
    let chunk: BatchRequest[] = [];
    let bytes = 0;
    for (const r of group) {
      const size = Buffer.byteLength(requestLine(r));
      if (chunk.length && (chunk.length >= limits.maxRequests || bytes + size > limits.maxBytes)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(r);
      bytes += size;
    }
    if (chunk.length) chunks.push(chunk);
  }
  return chunks;
}
