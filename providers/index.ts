import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SAError, errorMessage } from "../lib/errors.ts";
import { redactUrl } from "../lib/redact.ts";
import type { EndpointConfig } from "../lib/schema/providers.ts";
import type { Provider, ProviderContext, ProviderModule } from "./types.ts";

/** Lazy loaders of the built-in provider types: adding one is one line and one file. */
export const providerTypes: Record<string, () => Promise<ProviderModule>> = {
  openai: () => import("./openai.ts"),
  synthetic: () => import("./synthetic.ts"),
};

/** Endpoints every config has; a `providers` entry of the same name replaces one. */
export const builtInEndpoints: Record<string, EndpointConfig> = { openai: { type: "openai" }, synthetic: { type: "synthetic" } };

export type Endpoints = Record<string, EndpointConfig>;

export interface ModelId {
  /** The endpoint's name. */
  provider: string;
  model: string;
  id: string;
}

/** Splits `endpoint:model`; an unknown endpoint throws with the list of known ones. */
export function parseModelId(id: string, endpoints: Endpoints = {}): ModelId {
  const at = id.indexOf(":");
  if (at <= 0 || at === id.length - 1) throw new SAError("E_USAGE", `model "${id}": expected provider:model, e.g. openai:gpt-4o-mini`);
  const provider = id.slice(0, at);
  const known = { ...builtInEndpoints, ...endpoints };
  if (!(provider in known)) {
    throw new SAError("E_USAGE", `model "${id}": unknown provider "${provider}" (known: ${Object.keys(known).join(", ")}; add it under "providers" in the config)`);
  }
  return { provider, model: id.slice(at + 1), id };
}

/** A plug-in's path is taken from the config file's folder, then the working directory; anything else is a package name. */
function moduleSpecifier(module: string, baseDir: string | undefined): string {
  if (!module.startsWith(".") && !isAbsolute(module)) return module;
  const candidates = [baseDir && resolve(baseDir, module), resolve(module)].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new SAError("E_USAGE", `provider module ${module}: no such file (looked in ${candidates.join(", ")})`);
  return pathToFileURL(found).href;
}

async function loadPlugin(name: string, module: string, baseDir: string | undefined): Promise<ProviderModule> {
  const specifier = moduleSpecifier(module, baseDir);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(specifier)) as { default?: unknown };
  } catch (error) {
    throw new SAError("E_USAGE", `providers.${name}.module: could not load ${module} (${errorMessage(error)})`, { cause: error });
  }
  const definition = loaded.default as Partial<ProviderModule> | undefined;
  if (typeof definition?.create !== "function") throw new SAError("E_USAGE", `providers.${name}.module: ${module} must default-export defineProvider({ create(model, context) {...} })`);
  return definition as ProviderModule;
}

export interface CreateProviderOptions {
  /** Config's `providers`. */
  endpoints?: Endpoints;
  /** The config file's folder, for plug-in paths. */
  baseDir?: string;
}

/** The provider for `endpoint:model`, built by its endpoint's type with the endpoint's options. */
export async function createProvider(id: string, context: ProviderContext, options: CreateProviderOptions = {}): Promise<Provider> {
  const { provider: name, model } = parseModelId(id, options.endpoints);
  const config = options.endpoints?.[name] ?? builtInEndpoints[name]!;
  const mod = config.type === "module" ? await loadPlugin(name, config.module, options.baseDir) : await providerTypes[config.type]!();
  const endpoint = { name, type: config.type, options: config as Record<string, unknown>, baseDir: options.baseDir };
  // Rate-limit headers and retries name the endpoint they came from: a pause holds that endpoint's calls only.
  const onResponseHeaders = context.onResponseHeaders && ((headers: Headers, status: number, from = name) => context.onResponseHeaders!(headers, status, from));
  const waitingToRetry = context.waitingToRetry && ((status: number | undefined, from = name) => context.waitingToRetry!(status, from));
  const provider = await mod.create(model, { ...context, endpoint, onResponseHeaders, waitingToRetry });
  // The endpoint's name is what the ledger, the cache key and `meta.models` say.
  // A plug-in's base URL is hashed and stored too: never with the credentials a URL may carry.
  const capabilities = provider.capabilities ?? (mod as { capabilities?: Provider["capabilities"] }).capabilities;
  return { ...provider, name, model: provider.model || model, baseURL: redactUrl(provider.baseURL), capabilities, complete: provider.complete.bind(provider), listModels: provider.listModels?.bind(provider), price: provider.price?.bind(provider) };
}
