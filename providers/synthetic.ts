import { sha256Hex } from "../lib/hash.ts";
import { fakeFromSchema } from "../lib/fake-answer.ts";
import { guessTokens } from "../lib/token-guess.ts";
import type { ChatRequest, ChatResult, Provider } from "./types.ts";

/**
 * Offline and deterministic: the answer is built from the request's JSON schema and seeded by
 * the messages, so the same request always gets the same answer. For demos, CI wiring and cost
 * rehearsals; it is only ever chosen by `--model synthetic:<name>`.
 */
export function create(model: string): Provider {
  return {
    name: "synthetic",
    model,
    baseURL: "synthetic:",
    capabilities: { structuredOutputs: true, seed: true, reasoning: false },
    // Never bills, under whatever endpoint name config gives it.
    price: () => 0,
    async complete(request: ChatRequest): Promise<ChatResult> {
      const prompt = request.messages.map((m) => `${m.role}\n${m.content}`).join("\n");
      const seed = sha256Hex(`${model}\n${request.seed ?? ""}\n${prompt}`);
      const content = JSON.stringify(fakeFromSchema(request.jsonSchema, seed, request.choices));
      return {
        content,
        model,
        responseId: `synthetic-${seed.slice(0, 12)}`,
        retries: 0,
        usage: { inputTokens: guessTokens(prompt), cachedInputTokens: 0, outputTokens: guessTokens(content), reasoningTokens: 0 },
      };
    },
  };
}
