import { rejection } from "../helpers.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createProvider } from "../../providers/index.ts";
import { isSAError } from "../../lib/errors.ts";
import { startTestServer, type TestServer } from "../../lib/test-server.ts";
import { endpointSchema } from "../../lib/schema/providers.ts";
import { contractRequest, testProvider } from "./contract.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ usage: { prompt_tokens: 90, completion_tokens: 40, cached_tokens: 10, reasoning_tokens: 3 } });
});
afterAll(() => server.stop());

const http = { attempts: 2, baseMs: 1, capMs: 5, requestTimeout: 5000 };
const env = { AZURE_KEY: "azure-secret-value", RESP_KEY: "resp-secret-value" };
const endpoints = () => ({
  azure: endpointSchema.parse({ type: "openai", baseURL: server.url, headers: { "api-key": { env: "AZURE_KEY" }, "x-team": "ambitions" }, defaultQuery: { "api-version": "2024-10-21" } }),
  resp: endpointSchema.parse({ type: "openai", baseURL: server.url, apiKeyEnv: "RESP_KEY", api: "responses" }),
});

describe("openai endpoint with api: responses", () => {
  testProvider("resp", () => createProvider("resp:gpt-4o-mini", { env, http }, { endpoints: endpoints() }));

  test("sends the schema as text.format and maps the usage", async () => {
    const p = await createProvider("resp:gpt-4o-mini", { env, http }, { endpoints: endpoints() });
    const before = server.requests.length;
    const request = contractRequest("responses");
    const result = await p.complete({ ...request, reasoningEffort: "low", maxOutputTokens: 300 });
    const sent = server.requests[before]!;
    expect(sent.api).toBe("responses");
    const raw = sent.raw as { text: { format: { type: string; name: string; strict: boolean; schema: unknown } }; reasoning: { effort: string }; max_output_tokens: number; input: unknown };
    expect(raw.text.format).toEqual({ type: "json_schema", name: "contract", strict: true, schema: request.jsonSchema });
    expect(raw.reasoning.effort).toBe("low");
    expect(raw.max_output_tokens).toBe(300);
    expect(raw.input).toEqual(request.messages);
    expect(result.usage).toEqual({ inputTokens: 90, cachedInputTokens: 10, outputTokens: 40, reasoningTokens: 3 });
    expect(result.responseId).toMatch(/^resp_/);
    expect(sent.authorization).toBe("Bearer resp-secret-value");
  });
});

describe("openai endpoint with headers from variables and a default query", () => {
  test("sends the header values from the environment, the query, and no bearer key", async () => {
    const p = await createProvider("azure:gpt-4o", { env, http }, { endpoints: endpoints() });
    const before = server.requests.length;
    await p.complete(contractRequest("azure"));
    const sent = server.requests[before]!;
    expect(sent.headers["api-key"]).toBe("azure-secret-value");
    expect(sent.headers["x-team"]).toBe("ambitions");
    expect(sent.authorization).toBeNull();
    expect(p.name).toBe("azure");
    expect(p.baseURL).toBe(server.url);
  });

  test("a header variable that is not set is a usage error naming the entry and the variable", async () => {
    const p = await createProvider("azure:gpt-4o", { env: {}, http }, { endpoints: endpoints() });
    const error = await rejection(() => p.complete(contractRequest()));
    expect(isSAError(error, "E_USAGE")).toBe(true);
    expect(error.message).toBe("providers.azure.headers.api-key: AZURE_KEY is not set");
  });

  test("an apiKeyEnv that is not set is named", async () => {
    const p = await createProvider("resp:gpt-4o", { env: {}, http }, { endpoints: endpoints() });
    const error = await rejection(() => p.complete(contractRequest()));
    expect(error.message).toContain("RESP_KEY is not set");
  });
});

describe("a rejected key", () => {
  test("an HTTP 401 is a usage error naming the endpoint and the variable it read, never the key", async () => {
    const denying = startTestServer({ fault: () => ({ type: "401" }) });
    try {
      const config = { guarded: endpointSchema.parse({ type: "openai", baseURL: denying.url, headers: { "api-key": { env: "AZURE_KEY" } } }) };
      const p = await createProvider("guarded:gpt-4o", { env, http }, { endpoints: config });
      const error = await rejection(() => p.complete(contractRequest()));
      expect(isSAError(error, "E_USAGE")).toBe(true);
      expect(error.message).toStartWith("guarded gpt-4o: HTTP 401");
      expect(error.message).toContain("check AZURE_KEY");
      expect(error.message).not.toContain(env.AZURE_KEY);
      expect(denying.requests.length).toBe(1);
    } finally {
      await denying.stop();
    }
  });
});

describe("providers config", () => {
  test("a key written where a variable name goes is refused", () => {
    expect(endpointSchema.safeParse({ type: "openai", apiKeyEnv: "sk-proj-abcdefghijklmnop" }).success).toBe(false);
    expect(endpointSchema.safeParse({ type: "openai", headers: { "api-key": "0123456789abcdef0123456789abcdef" } }).success).toBe(false);
    expect(endpointSchema.safeParse({ type: "openai", headers: { authorization: "Bearer abc" } }).success).toBe(false);
    expect(endpointSchema.safeParse({ type: "openai", apiKeyEnv: "AZURE_OPENAI_KEY", headers: { "api-key": { env: "AZURE_KEY" } } }).success).toBe(true);
  });

  test("an unknown endpoint lists the known ones and says where to add it", async () => {
    const error = await rejection(() => createProvider("nowhere:gpt-4o", { env, http }, { endpoints: endpoints() }));
    expect(isSAError(error, "E_USAGE")).toBe(true);
    expect(error.message).toContain('unknown provider "nowhere" (known: openai, synthetic, azure, resp; add it under "providers" in the config)');
  });
});

describe("what looks like a key", () => {
  test("keys are refused as variable names; ordinary names pass", () => {
    const parses = (apiKeyEnv: string) => endpointSchema.safeParse({ type: "openai", apiKeyEnv }).success;
    expect(parses("AZURE_OPENAI_API_KEY_FOR_THE_PRODUCTION_TENANT")).toBe(true);
    expect(parses("OPENROUTER_API_KEY")).toBe(true);
    expect(parses("0123456789abcdef0123456789abcdef")).toBe(false);
    expect(parses("AbCdEf0123456789GhIjKl")).toBe(false);
    expect(parses("sk_live_abc")).toBe(false);
  });
});
