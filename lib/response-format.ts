import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./jsonl.ts";

type JsonSchema = Record<string, unknown>;

/** The structured-output format sent to the provider: plain data, no SDK types. */
export interface ResponseFormat {
  type: "json_schema";
  json_schema: { name: string; strict?: boolean | null; schema: JsonSchema; description?: string };
}

/**
 * Identifiers pinned per call (for example the feature ids a mapping call may name): each key is a
 * string property whose values the sent JSON Schema restricts to an enum. The zod schema stays
 * the same for every call, so it is converted once.
 */
export type Pins = Record<string, string[]>;

interface Prepared {
  format: ResponseFormat;
  /** sha256 of the JSON Schema: the cache key hashes this, not the schema text. */
  digest: string;
}

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

/**
 * Converts each zod schema to its response format once per run (the costliest step of building
 * a call), and pins per-call identifiers into a copy of the JSON Schema.
 */
export function createResponseFormats() {
  const prepared = new WeakMap<z.ZodType, Map<string, Prepared>>();
  const prepare = (schema: z.ZodType, name: string): Prepared => {
    let byName = prepared.get(schema);
    if (!byName) prepared.set(schema, (byName = new Map()));
    let entry = byName.get(name);
    if (!entry) {
      // zod's own draft-7 conversion gives the same JSON Schema as the openai SDK's zod helper for
      // strict objects (checked by a test), without loading the SDK's helper and zod 3 shims.
      const format: ResponseFormat = { type: "json_schema", json_schema: { name, strict: true, schema: z.toJSONSchema(schema, { target: "draft-7" }) as JsonSchema } };
      entry = { format, digest: createHash("sha256").update(canonicalJson(format.json_schema.schema)).digest("hex") };
      byName.set(name, entry);
    }
    return entry;
  };
  return {
    /**
     * What the cache key hashes for a call (the digest, and the pins), and the format to send,
     * built only when asked: a cached answer never needs it.
     */
    forCall(schema: z.ZodType, name: string, pins?: Pins): { keySchema: string; format: () => ResponseFormat } {
      const { format, digest } = prepare(schema, name);
      if (!pins) return { keySchema: digest, format: () => format };
      const keySchema = `${digest}:${JSON.stringify(Object.entries(pins).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, [...new Set(v)]]))}`;
      let withPins: ResponseFormat | undefined;
      return {
        keySchema,
        format: () => (withPins ??= { ...format, json_schema: { ...format.json_schema, schema: pinned(format.json_schema.schema, pins) as JsonSchema } }),
      };
    },
  };
}
