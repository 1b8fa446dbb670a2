import type { Provider } from "../../providers/types.ts";
import { cacheHasher, cacheKey } from "../cache.ts";
import type { CallSpec } from "../call-spec.ts";
import type { Attempt, CallContext, Route } from "./context.ts";

export const modelIdOf = (p: Provider) => `${p.name}:${p.model}`;

// The key parts of a model and stage are written once per run (lib/cache.ts `cacheHasher`).
const hashers = new WeakMap<Route, Map<string, ReturnType<typeof cacheHasher>>>();
function hasherFor(route: Route, stage: string) {
  let byStage = hashers.get(route);
  if (!byStage) hashers.set(route, (byStage = new Map()));
  let hash = byStage.get(stage);
  if (!hash) {
    const { provider } = route;
    byStage.set(stage, (hash = cacheHasher({ provider: provider.name, baseURL: provider.baseURL, model: provider.model, ...route.settings, stage })));
  }
  return hash;
}

/**
 * Names one model's try at a call: its JSON Schema and the cache key of everything it would send.
 * Each is made on first use: the JSON Schema only when the call is sent (a cached answer never
 * needs it), the hash and key only when the cache is read or written, or a request is named by it
 * (a live call with the cache off needs neither).
 */
export function prepareAttempt<T>(ctx: CallContext, spec: CallSpec<T>, route: Route): Attempt<T> {
  const format = ctx.formats.forCall(spec.schema, spec.pins);
  let hash: string | undefined;
  let key: string | undefined;
  return {
    spec,
    route,
    model: modelIdOf(route.provider),
    get jsonSchema() {
      return format.jsonSchema();
    },
    // The cache key hashes the schema's digest and pins, never the schema's text.
    get hash() {
      return (hash ??= hasherFor(route, spec.stage)(spec.messages, format.keySchema));
    },
    get key() {
      return (key ??= cacheKey(ctx.namespace, spec.stage, spec.serviceId, this.hash));
    },
  };
}
