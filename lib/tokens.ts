import type { ChatMessage } from "../providers/types.ts";

type Encoder = { encode(text: string): number[] };
let encoder: Promise<Encoder> | undefined;

/** o200k_base, loaded once on first use: the table is large and most commands never need it. */
function load(): Promise<Encoder> {
  encoder ??= (async () => {
    const { Tiktoken } = await import("js-tiktoken/lite");
    const ranks = (await import("js-tiktoken/ranks/o200k_base")).default;
    return new Tiktoken(ranks);
  })();
  return encoder;
}

/** Tokens in a chat prompt: the text plus OpenAI's few tokens of framing per message. */
export async function countPromptTokens(messages: ChatMessage[]): Promise<number> {
  const enc = await load();
  return messages.reduce((sum, m) => sum + enc.encode(m.content).length + 4, 3);
}

export async function countTokens(text: string): Promise<number> {
  return (await load()).encode(text).length;
}
