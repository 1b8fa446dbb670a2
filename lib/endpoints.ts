import { dirname } from "node:path";
import { SAError } from "./errors.ts";
import { builtInEndpoints, createProvider, parseModelId } from "../providers/index.ts";
import type { Provider, ProviderContext, Usage } from "../providers/types.ts";
import { createEndpointLimiters } from "./endpoint-limits.ts";
import type { Pricing } from "./pricing.ts";
import type { Config } from "./schema/config.ts";
import type { EndpointConfig } from "./schema/providers.ts";

type EndpointsConfig = Pick<Config, "providers"> & { configFile?: string };

/** Every endpoint a model id may name: the built-in ones, then config's `providers`. */
const endpointsOf = (config: EndpointsConfig): Record<string, EndpointConfig> => ({ ...builtInEndpoints, ...config.providers });

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
  // Each response reaches the run's limiter (the caller's hook) and its endpoint's own buckets.
  const observed: ProviderContext = {
    ...context,
    onResponseHeaders: (headers, status, endpoint = "") => {
      context.onResponseHeaders?.(headers, status, endpoint);
      limiters.observe(headers, status, endpoint);
    },
  };
  return Promise.all(
    ids.map(async (id) => {
      const provider = await createProvider(id, observed, { endpoints, baseDir });
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

/** The variables an endpoint reads its secrets from, and which of them are missing. */
function secretsOf(name: string, endpoint: EndpointConfig, env: Record<string, string | undefined>): { set: string[]; missing: string[] } {
  if (endpoint.type !== "openai") return { set: [], missing: [] };
  const set: string[] = [];
  const missing: string[] = [];
  if (endpoint.apiKeyEnv) (env[endpoint.apiKeyEnv] ? set : missing).push(endpoint.apiKeyEnv);
  else if (name === "openai") {
    const found = ["OPENAI_API_KEY", "SA_OPENAI_API_KEY"].find((v) => env[v]);
    if (found) set.push(found);
    else missing.push("OPENAI_API_KEY is not set, nor SA_OPENAI_API_KEY");
  }
  for (const [header, value] of Object.entries(endpoint.headers ?? {})) {
    if (typeof value !== "string") (env[value.env] ? set : missing).push(env[value.env] ? value.env : `${value.env} (header ${header})`);
  }
  return { set, missing };
}

/**
 * Per endpoint the models use: which secret variables are set (never their values) and where it
 * is (its redacted base URL). Throws one line naming every missing variable and its models.
 */
export function checkEndpointSecrets(providers: Provider[], config: EndpointsConfig, env: Record<string, string | undefined>): string {
  const endpoints = endpointsOf(config);
  const byEndpoint = Map.groupBy(providers, (p) => p.name);
  const found: string[] = [];
  const missing: string[] = [];
  for (const [name, used] of byEndpoint) {
    const secrets = secretsOf(name, endpoints[name]!, env);
    const models = used.map((p) => `${p.name}:${p.model}`).join(", ");
    for (const variable of secrets.missing) missing.push(`${/ is not set/.test(variable) ? variable : `${variable} is not set`} (needed for ${models})`);
    if (secrets.set.length) found.push(`${secrets.set.join(", ")} ${secrets.set.length > 1 ? "are" : "is"} set; endpoint ${used[0]!.baseURL}`);
  }
  if (missing.length) throw new SAError("E_USAGE", missing.join("; "));
  return found.length ? found.join("; ") : `no secrets needed for ${providers.map((p) => `${p.name}:${p.model}`).join(", ")}`;
}

/** Asks each endpoint that can list its models for them; names every model it does not list. */
export async function checkListedModels(providers: Provider[]): Promise<{ detail: string; problems: string[] }> {
  const problems: string[] = [];
  const details: string[] = [];
  for (const [name, used] of Map.groupBy(providers, (p) => p.name)) {
    const lister = used.find((p) => p.listModels);
    if (!lister) continue;
    const listed = new Set(await lister.listModels!());
    details.push(`${name}: ${listed.size} models listed`);
    for (const p of used) if (!listed.has(p.model)) problems.push(`model ${p.model} is not listed by ${name}`);
  }
  return { detail: details.join("; "), problems };
}

/** Whether any of these providers can list its models (`preflight --online`). */
export const canListModels = (providers: Provider[]) => providers.some((p) => p.listModels);
