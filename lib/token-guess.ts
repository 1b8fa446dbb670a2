/**
 * A rough token count, about four characters a token, for where the real tokenizer
 * (`lib/tokens.ts`) is not worth loading: the synthetic provider's and the test server's usage,
 * and a provider that cannot count its own prompt. Never for limits a user pays for.
 */
export const guessTokens = (text: string): number => Math.ceil(text.length / 4);

/** The guess for a whole prompt: every message's text. */
export const guessPromptTokens = (messages: ReadonlyArray<{ content: string }>): number =>
  guessTokens(messages.map((m) => m.content).join(""));
