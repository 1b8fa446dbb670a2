import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { createResponseFormats } from "../lib/response-format.ts";

const schema = z.strictObject({
  mappings: z.array(z.strictObject({ feature_id: z.string(), items: z.array(z.strictObject({ item: z.enum(["A", "B"]) })) })),
});

describe("response formats", () => {
  test("a schema is converted once: calls without pins share one JSON Schema, keyed by its digest", () => {
    const formats = createResponseFormats();
    const a = formats.forCall(schema);
    const b = formats.forCall(schema);
    expect(b.jsonSchema()).toBe(a.jsonSchema());
    expect(a.keySchema).toMatch(/^[0-9a-f]{64}$/); // a digest, not the schema text
    expect(b.keySchema).toBe(a.keySchema);
  });

  test("pins become enums in a copy of the JSON Schema, and part of the cache key", () => {
    const formats = createResponseFormats();
    const plain = formats.forCall(schema);
    const one = formats.forCall(schema, { feature_id: ["F1", "F2", "F1"] });
    const two = formats.forCall(schema, { feature_id: ["F3"] });
    const entry = (f: typeof one) => (f.jsonSchema() as any).properties.mappings.items.properties;
    expect(entry(one).feature_id).toEqual({ type: "string", enum: ["F1", "F2"] });
    expect(entry(two).feature_id.enum).toEqual(["F3"]);
    expect(entry(plain).feature_id.enum).toBeUndefined(); // the shared schema is untouched
    expect(entry(one).items).toEqual(entry(plain).items);
    expect(one.keySchema).not.toBe(two.keySchema);
    expect(formats.forCall(schema, { feature_id: ["F1", "F2", "F1"] }).keySchema).toBe(one.keySchema);
  });

  // A plateau's catalogues share one pins object (lib/pipeline/mapping.ts): its text is written
  // once, and each call's key still carries its own schema's digest.
  test("one pins object shared by calls of different schemas: each key is its schema's digest and the pins", () => {
    const other = z.strictObject({ mappings: z.array(z.strictObject({ feature_id: z.string(), items: z.array(z.strictObject({ item: z.enum(["C"]) })) })) });
    const formats = createResponseFormats();
    const pins = { feature_id: ["F2", "F1", "F2"] };
    const [a, b, again] = [schema, other, schema].map((s) => formats.forCall(s, pins).keySchema);
    const fresh = (s: z.ZodType) => createResponseFormats().forCall(s, { feature_id: ["F2", "F1"] }).keySchema;
    expect(a).toBe(fresh(schema));
    expect(b).toBe(fresh(other));
    expect(again).toBe(a);
    expect(a).not.toBe(b);
    expect(a!.endsWith(':[["feature_id",["F2","F1"]]]')).toBe(true);
  });
});
