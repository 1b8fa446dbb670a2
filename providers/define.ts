import type { Capabilities, ProviderContext, Provider } from "./types.ts";

export type { Capabilities, ChatMessage, ChatRequest, ChatResult, JsonSchema, Provider, ProviderContext, Usage } from "./types.ts";

/** What a provider plug-in default-exports. */
export interface ProviderDefinition {
  capabilities?: Capabilities;
  /** One provider per model id; `context.endpoint` holds the config entry that named the module. */
  create(model: string, context: ProviderContext): Provider | Promise<Provider>;
}

/**
 * Identity, for type inference: `export default defineProvider({ create(model, context) {...} })`
 * in a module named by `{type: "module", module: "./my-provider.ts"}`.
 */
export function defineProvider<T extends ProviderDefinition>(definition: T): T {
  return definition;
}
