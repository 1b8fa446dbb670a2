import { describe, expect, test } from "bun:test";
import { readResultLine, requestLine, splitRequests, type BatchRequest } from "../lib/batch/request.ts";

const request = (i: number, model = "gpt-4o-mini", size = 10): BatchRequest => ({ customId: `k${i}`, model, body: { model, messages: [{ role: "user", content: "x".repeat(size) }] } });

describe("batch requests", () => {
  test("a wave is split past the request limit, the byte limit, and by model", () => {
    const ten = Array.from({ length: 10 }, (_, i) => request(i));
    expect(splitRequests(ten, { maxRequests: 4, maxBytes: 1e9 }).map((c) => c.length)).toEqual([4, 4, 2]);
    const bytes = Buffer.byteLength(requestLine(ten[0]!));
    expect(splitRequests(ten, { maxRequests: 100, maxBytes: bytes * 3 }).map((c) => c.length)).toEqual([3, 3, 3, 1]);
    // One request larger than the limit still goes, alone.
    expect(splitRequests([request(1, "m", 10), request(2, "m", 5000), request(3, "m", 10)], { maxRequests: 100, maxBytes: 2000 }).map((c) => c.map((r) => r.customId))).toEqual([["k1"], ["k2"], ["k3"]]);
    const mixed = [request(1, "a"), request(2, "b"), request(3, "a")];
    expect(splitRequests(mixed, { maxRequests: 100, maxBytes: 1e9 }).map((c) => c.map((r) => r.customId))).toEqual([["k1", "k3"], ["k2"]]);
  });

  test("each line is a POST to /v1/chat/completions with its custom_id", () => {
    expect(JSON.parse(requestLine(request(7)))).toEqual({ custom_id: "k7", method: "POST", url: "/v1/chat/completions", body: request(7).body });
  });

  const cases: Array<[string, unknown, { ok: boolean; reason?: string; content?: string }]> = [
    ["an answer", { custom_id: "a", response: { status_code: 200, body: { id: "c1", model: "gpt-4o-mini-2024", choices: [{ message: { content: "{}" } }], usage: { prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 4 } } } }, error: null }, { ok: true, content: "{}" }],
    ["an HTTP error line", { custom_id: "a", response: { status_code: 500, body: { error: { message: "boom" } } }, error: null }, { ok: false, reason: "HTTP 500 boom" }],
    ["an expired request", { custom_id: "a", response: null, error: { code: "batch_expired", message: "not executed" } }, { ok: false, reason: "not executed" }],
    ["a refusal", { custom_id: "a", response: { status_code: 200, body: { choices: [{ message: { content: null, refusal: "no" } }] } }, error: null }, { ok: false, reason: "the model refused (no)" }],
    ["a body that is no completion", { custom_id: "a", response: { status_code: 200, body: { queued: true } }, error: null }, { ok: false, reason: "the answer is not a chat completion" }],
  ];
  test.each(cases)("a result line with %s", (_, line, expected) => {
    const outcome = readResultLine(line as never, "gpt-4o-mini", 0.5);
    expect(outcome.ok).toBe(expected.ok);
    if (outcome.ok) {
      expect(outcome.result).toEqual({ content: expected.content!, model: "gpt-4o-mini-2024", responseId: "c1", retries: 0, batchPriceFactor: 0.5, usage: { inputTokens: 10, cachedInputTokens: 4, outputTokens: 5, reasoningTokens: 0 } });
    } else expect(outcome.reason).toBe(expected.reason!);
  });
});
