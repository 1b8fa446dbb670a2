import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import type { Provider } from "../../providers/types.ts";
import { cacheHash, cacheKey } from "../cache.ts";
import type { CallSpec } from "../call-spec.ts";
import type { Attempt, CallContext, ResponseFormat, Route } from "./context.ts";

export const modelIdOf = (p: Provider) => `${p.name}:${p.model}`;

/** Converting a zod schema to JSON Schema is the costliest step of a call: do it once per schema. */
export function createFormats(): (spec: CallSpec<unknown>) => ResponseFormat {
  const formats = new WeakMap<z.ZodType, ResponseFormat>();
  return ({ schema, schemaName }) => {
    let format = formats.get(schema);
    if (!format) formats.set(schema, (format = zodResponseFormat(schema, schemaName)));
    return format;
  };
}

/** Names one model's try at a call: its format and the cache key of everything it would send. */
export function prepareAttempt<T>(ctx: CallContext, spec: CallSpec<T>, route: Route): Attempt<T> {
  const { provider } = route;
  const responseFormat = ctx.formatOf(spec as CallSpec<unknown>);
  const jsonSchema = responseFormat.json_schema.schema as Record<string, unknown>;
  const hash = cacheHash({
    provider: provider.name,
    baseURL: provider.baseURL,
    model: provider.model,
    messages: spec.messages,
    schema: jsonSchema,
    ...route.settings,
    stage: spec.stage,
  });
  const key = cacheKey(ctx.namespace, spec.stage, spec.serviceId, hash);
  return { spec, route, model: modelIdOf(provider), responseFormat, jsonSchema, hash, key };
}
