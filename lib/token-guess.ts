/**
 * A rough token count, about four characters a token, for where the real tokenizer
 * (`lib/tokens.ts`) is not worth loading: the synthetic provider's and the test server's usage,
 * and a provider that cannot count its own prompt. Never for limits a user pays for.
 */
export const guessTokens = (text: string): number => Math.ceil(text.length / 4);

/** The guess for a whole prompt: every message's text (counted, not joined into one string). */
export function guessPromptTokens(messages: ReadonlyArray<{ content: string }>): number {
  let characters = 0;
  for (const m of messages) characters += m.content.length;
  return Math.ceil(characters / 4);
}
