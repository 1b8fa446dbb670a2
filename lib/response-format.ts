import { sha256Hex } from "./hash.ts";
import type { z } from "zod";
import type { JsonSchema } from "../providers/types.ts";
import { canonicalJson } from "./jsonl.ts";
import { createJsonSchemas } from "./json-schema.ts";

/**
 * Identifiers pinned per call (for example the feature ids a mapping call may name): each key is a
 * string property whose values the sent JSON Schema restricts to an enum. The zod schema stays
 * the same for every call, so it is converted once.
 */
export type Pins = Record<string, string[]>;

/** Sets `enum` on every string property named in `pins`, copying only what changes. */
function pinned(node: unknown, pins: Pins): unknown {
  if (Array.isArray(node)) return node.map((n) => pinned(n, pins));
  if (!node || typeof node !== "object") return node;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    if (key !== "properties" || !value || typeof value !== "object") {
      out[key] = typeof value === "object" ? pinned(value, pins) : value;
      continue;
    }
    const props: JsonSchema = {};
    for (const [name, prop] of Object.entries(value as JsonSchema)) {
      const values = pins[name];
      props[name] = values && values.length > 0 ? { ...(prop as JsonSchema), enum: [...new Set(values)] } : pinned(prop, pins);
    }
    out[key] = props;
  }
  return out;
}

// A pins object shared by several calls (a plateau's feature ids, for each of its catalogues) is written once.
const pinsTexts = new WeakMap<Pins, string>();
function pinsText(pins: Pins): string {
  let text = pinsTexts.get(pins);
  if (text === undefined) {
    text = JSON.stringify(Object.entries(pins).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [...new Set(v)]]));
    pinsTexts.set(pins, text);
  }
  return text;
}

/**
 * Each zod schema's JSON Schema and its digest, computed once per run (converting is the costliest
 * step of building a call), and per-call identifiers pinned into a copy of the JSON Schema.
 */
export function createResponseFormats() {
  const jsonSchemaOf = createJsonSchemas();
  const digests = new WeakMap<z.ZodType, string>();
  const digestOf = (schema: z.ZodType) => {
    let digest = digests.get(schema);
    if (!digest) digests.set(schema, (digest = sha256Hex(canonicalJson(jsonSchemaOf(schema)))));
    return digest;
  };
  return {
    /**
     * What the cache key hashes for a call (the schema's digest, and the pins), and the JSON
     * Schema to send, built only when asked: a cached answer never needs it.
     */
    forCall(schema: z.ZodType, pins?: Pins): { readonly keySchema: string; jsonSchema: () => JsonSchema } {
      const digest = digestOf(schema);
      if (!pins) return { keySchema: digest, jsonSchema: () => jsonSchemaOf(schema) };
      // The pins' part of the key is written only when a key is made (never with the cache off).
      let keySchema: string | undefined;
      let withPins: JsonSchema | undefined;
      return {
        get keySchema() {
          return (keySchema ??= `${digest}:${pinsText(pins)}`);
        },
        jsonSchema: () => (withPins ??= pinned(jsonSchemaOf(schema), pins) as JsonSchema),
      };
    },
  };
}
