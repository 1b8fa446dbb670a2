import type { Provider } from "../../providers/types.ts";
import { cacheHash, cacheKey } from "../cache.ts";
import type { CallSpec } from "../call-spec.ts";
import type { Attempt, CallContext, Route } from "./context.ts";

export const modelIdOf = (p: Provider) => `${p.name}:${p.model}`;

/** Names one model's try at a call: its JSON Schema and the cache key of everything it would send. */
export function prepareAttempt<T>(ctx: CallContext, spec: CallSpec<T>, route: Route): Attempt<T> {
  const { provider } = route;
  // The cache key hashes the schema's digest and pins; the JSON Schema itself is built only when
  // the call is sent (a cached answer never needs it).
  const { keySchema, jsonSchema } = ctx.formats.forCall(spec.schema, spec.pins);
  const hash = cacheHash({
    provider: provider.name,
    baseURL: provider.baseURL,
    model: provider.model,
    messages: spec.messages,
    schema: keySchema,
    ...route.settings,
    stage: spec.stage,
  });
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
