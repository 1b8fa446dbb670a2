import { z } from "zod";
import type { JsonSchema } from "../providers/types.ts";

/**
 * The JSON Schema a call sends, from zod's own draft-7 conversion: for our strict objects it is
 * the schema the openai SDK's zod helper wrote (test/json-schema.test.ts checks every stage), so
 * cache keys are unchanged. Converting is the costliest step of building a call: once per schema.
 */
export function createJsonSchemas(): (schema: z.ZodType) => JsonSchema {
  const converted = new WeakMap<z.ZodType, JsonSchema>();
  return (schema) => {
    let json = converted.get(schema);
    if (!json) converted.set(schema, (json = z.toJSONSchema(schema, { target: "draft-7" }) as JsonSchema));
    return json;
  };
}
