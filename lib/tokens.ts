import type { ChatMessage } from "../providers/types.ts";

type Encoder = { encode(text: string): number[] };
let loading: Promise<Encoder> | undefined;
let loads = 0;

/**
 * o200k_base, loaded on first use: the table is large and most commands never need it. Every
 * caller shares one load (one promise): the first calls of a run all need it at once, and 20
 * parallel loads took seconds and hundreds of MiB. A failed load is tried again by the next call.
 */
function load(): Promise<Encoder> {
  loading ??= (async () => {
    loads++;
    const { Tiktoken } = await import("js-tiktoken/lite");
    const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
    return new Tiktoken(ranks);
  })().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** How many times the tokenizer table was built in this process (for the tests; no task reads it). */
export const tokenizerLoads = () => loads;

/** Tokens in a chat prompt: the text plus OpenAI's few tokens of framing per message. */
export async function countPromptTokens(messages: ChatMessage[]): Promise<number> {
  const enc = await load();
  return messages.reduce((sum, m) => sum + enc.encode(m.content).length + 4, 3);
}

export async function countTokens(text: string): Promise<number> {
  return (await load()).encode(text).length;
}
