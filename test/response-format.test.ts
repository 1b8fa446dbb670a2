import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { zodResponseFormat } from "openai/helpers/zod";
import { createResponseFormats } from "../lib/response-format.ts";

const schema = z.strictObject({
  mappings: z.array(z.strictObject({ feature_id: z.string(), items: z.array(z.strictObject({ item: z.enum(["A", "B"]) })) })),
});

describe("response formats", () => {
  test("a schema is converted once: calls without pins share one format", () => {
    const formats = createResponseFormats();
    const a = formats.forCall(schema, "m");
    const b = formats.forCall(schema, "m");
    expect(b.format()).toBe(a.format());
    expect(a.format().json_schema.name).toBe("m");
    expect(a.format().json_schema.strict).toBe(true);
    expect(typeof a.keySchema).toBe("string"); // a digest, not the schema text
  });

  test("the JSON Schema is the one the openai SDK's zod helper gives", () => {
    const ours = createResponseFormats().forCall(schema, "m").format();
    expect(ours).toEqual(JSON.parse(JSON.stringify(zodResponseFormat(schema, "m"))));
  });

  test("pins become enums in a copy of the JSON Schema, and part of the cache key", () => {
    const formats = createResponseFormats();
    const plain = formats.forCall(schema, "m");
    const one = formats.forCall(schema, "m", { feature_id: ["F1", "F2", "F1"] });
    const two = formats.forCall(schema, "m", { feature_id: ["F3"] });
    const entry = (f: typeof one) => (f.format().json_schema.schema as any).properties.mappings.items.properties;
    expect(entry(one).feature_id).toEqual({ type: "string", enum: ["F1", "F2"] });
    expect(entry(two).feature_id.enum).toEqual(["F3"]);
    expect(entry(plain).feature_id.enum).toBeUndefined(); // the shared format is untouched
    expect(entry(one).items).toEqual(entry(plain).items);
    expect(one.keySchema).not.toBe(two.keySchema);
    expect(formats.forCall(schema, "m", { feature_id: ["F1", "F2", "F1"] }).keySchema).toEqual(one.keySchema);
  });
});
