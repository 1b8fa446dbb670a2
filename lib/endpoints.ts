import { dirname } from "node:path";
import { builtInEndpoints, createProvider, parseModelId } from "../providers/index.ts";
import type { Provider, ProviderContext, Usage } from "../providers/types.ts";
import { createEndpointLimiters } from "./endpoint-limits.ts";
import type { Pricing } from "./pricing.ts";
import type { Config } from "./schema/config.ts";
import type { EndpointConfig } from "./schema/providers.ts";

type EndpointsConfig = Pick<Config, "providers"> & { configFile?: string };

/** Every endpoint a model id may name: the built-in ones, then config's `providers`. */
export const endpointsOf = (config: EndpointsConfig): Record<string, EndpointConfig> => ({ ...builtInEndpoints, ...config.providers });

/** Checks each model id names a known endpoint (one clear error naming the known ones). */
export function checkModelIds(ids: string[], config: EndpointsConfig): void {
  for (const id of ids) parseModelId(id, config.providers);
}

/**
 * One provider per model id, each through its endpoint (`azure:gpt-4o` → `providers.azure`), and
 * metered by that endpoint's own `rpm`/`tpm` when it has them.
 */
export async function createProviders(ids: string[], config: EndpointsConfig, context: ProviderContext): Promise<Provider[]> {
  const endpoints = endpointsOf(config);
  const limiters = createEndpointLimiters();
  const baseDir = config.configFile ? dirname(config.configFile) : undefined;
  return Promise.all(
    ids.map(async (id) => {
      const provider = await createProvider(id, context, { endpoints, baseDir });
      const endpoint = endpoints[provider.name]!;
      return limiters.wrap(provider, { rpm: endpoint.rpm, tpm: endpoint.tpm });
    }),
  );
}

/** `providers.<name>.pricing` as entries of the global `pricing` map (`<name>:<model>`); the global map wins. */
export function endpointPricing(config: Pick<Config, "providers" | "pricing">): Config["pricing"] {
  const out: Config["pricing"] = {};
  for (const [name, endpoint] of Object.entries(config.providers)) {
    for (const [model, price] of Object.entries(endpoint.pricing ?? {})) out[`${name}:${model}`] = price;
  }
  return { ...out, ...config.pricing };
}

/** Prices a provider declares itself (a plug-in's `price`) ahead of the table. */
export function withProviderPrices(pricing: Pricing, providers: Provider[]): Pricing {
  const own = new Map(providers.filter((p) => p.price).map((p) => [`${p.name}:${p.model}`, p.price!]));
  if (own.size === 0) return pricing;
  return { cost: (modelId: string, usage: Pick<Usage, "inputTokens" | "cachedInputTokens" | "outputTokens">) => own.get(modelId)?.(usage) ?? pricing.cost(modelId, usage) };
}
