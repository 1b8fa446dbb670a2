import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { zodResponseFormat } from "openai/helpers/zod";
import type { z } from "zod";
import { loadDataset } from "../lib/data.ts";
import { createJsonSchemas } from "../lib/json-schema.ts";
import { configSchema } from "../lib/schema/config.ts";
import { descriptionsResponse, featuresResponse, mappingResponse } from "../lib/schema/responses.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { createProvider } from "../providers/index.ts";
import { fixtureData, testKey } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** Every stage's schema for the fixture data: descriptions, features, and mapping per catalogue (with and without rationale, enums and plain ids). */
async function stageSchemas(): Promise<Array<{ name: string; schema: z.ZodType }>> {
  const data = await loadDataset(configSchema.parse({ dataDir: fixtureData }));
  const features = ["F1", "F2"];
  return [
    { name: "plateau_descriptions", schema: descriptionsResponse(data.plateaus.map((p) => p.name)) },
    { name: "plateau_features", schema: featuresResponse(data.roles.map((r) => r.role_id)) },
    ...data.catalogues.flatMap((c) => [
      { name: `${c.field}_mapping`, schema: mappingResponse(features, c, 500) },
      { name: `${c.field}_mapping`, schema: mappingResponse(features, c, 500, true) },
      { name: `${c.field}_mapping`, schema: mappingResponse(features, c, 1) },
    ]),
  ];
}

describe("the JSON Schema each stage sends (cache keys unchanged)", () => {
  test("zod's draft-7 conversion equals what the openai SDK's zod helper produced, for every stage", async () => {
    const jsonSchemaOf = createJsonSchemas();
    for (const { name, schema } of await stageSchemas()) {
      expect(jsonSchemaOf(schema)).toEqual(zodResponseFormat(schema, name).json_schema.schema as Record<string, unknown>);
      // Converted once per schema.
      expect(jsonSchemaOf(schema)).toBe(jsonSchemaOf(schema));
    }
  });

  test("the openai provider's response_format on the wire is the SDK helper's, byte for byte", async () => {
    const jsonSchemaOf = createJsonSchemas();
    const provider = await createProvider("openai:gpt-4o-mini", { env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url }, http: { attempts: 1, baseMs: 1, capMs: 1, requestTimeout: 5000 } });
    for (const { name, schema } of (await stageSchemas()).slice(0, 3)) {
      const before = server.requests.length;
      await provider.complete({ messages: [{ role: "user", content: name }], schemaName: name, jsonSchema: jsonSchemaOf(schema) });
      const sdk = zodResponseFormat(schema, name);
      expect(JSON.stringify(server.requests[before]!.body.response_format)).toBe(JSON.stringify({ type: sdk.type, json_schema: { name: sdk.json_schema.name, strict: sdk.json_schema.strict, schema: sdk.json_schema.schema } }));
    }
  });
});
