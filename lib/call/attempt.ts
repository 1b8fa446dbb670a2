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

/** Names one model's try at a call: its JSON Schema and the cache key of everything it would send. */
export function prepareAttempt<T>(ctx: CallContext, spec: CallSpec<T>, route: Route): Attempt<T> {
  const { provider } = route;
  // The cache key hashes the schema's digest and pins; the JSON Schema itself is built only when
  // the call is sent (a cached answer never needs it).
  const { keySchema, jsonSchema } = ctx.formats.forCall(spec.schema, spec.pins);
  const hash = hasherFor(route, spec.stage)(spec.messages, keySchema);
  const key = cacheKey(ctx.namespace, spec.stage, spec.serviceId, hash);
  return {
    spec,
    route,
    model: modelIdOf(provider),
    get jsonSchema() {
      return jsonSchema();
    },
    hash,
    key,
  };
}
