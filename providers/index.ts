import { SAError } from "../lib/errors.ts";
import type { Provider, ProviderContext, ProviderModule } from "./types.ts";

export type { Provider, ProviderContext, ChatRequest, ChatResult, ChatMessage, Usage } from "./types.ts";

/** Flat registry of lazy loaders: adding a provider is one line and one file. */
export const providers: Record<string, () => Promise<ProviderModule>> = {
  openai: () => import("./openai.ts"),
  synthetic: () => import("./synthetic.ts"),
};

export interface ModelId {
  provider: string;
  model: string;
  id: string;
}

/** Splits `provider:model`; an unknown provider throws with the list of known ones. */
export function parseModelId(id: string): ModelId {
  const at = id.indexOf(":");
  if (at <= 0 || at === id.length - 1) throw new SAError("E_USAGE", `model "${id}": expected provider:model, e.g. openai:gpt-4o-mini`);
  const provider = id.slice(0, at);
  if (!(provider in providers)) {
    throw new SAError("E_USAGE", `model "${id}": unknown provider "${provider}" (known: ${Object.keys(providers).join(", ")})`);
  }
  return { provider, model: id.slice(at + 1), id };
}

export async function createProvider(id: string, context: ProviderContext): Promise<Provider> {
  const { provider, model } = parseModelId(id);
  const mod = await providers[provider]!();
  return mod.create(model, context);
}
