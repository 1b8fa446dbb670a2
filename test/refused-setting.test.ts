import { describe, expect, test } from "bun:test";
import { createProvider } from "../providers/index.ts";
import { contractRequest } from "./providers/contract.ts";
import { rejection } from "./helpers.ts";

/** A deployment of a reasoning model under a name no table knows: it refuses a temperature, as OpenAI words it. */
function refusingServer() {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      Response.json(
        { error: { message: "Unsupported value: 'temperature' does not support 0.3 with this model. Only the default (1) value is supported.", type: "invalid_request_error", param: "temperature", code: "unsupported_value" } },
        { status: 400, headers: { "x-request-id": "req_temp" } },
      ),
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, stop: () => server.stop(true) };
}

describe("a model that refuses a setting the config sends it", () => {
  test("the error says which modelSettings entry tells it apart", async () => {
    const server = refusingServer();
    try {
      const endpoints = { azure: { type: "openai" as const, baseURL: server.url, apiKeyEnv: "AZ_KEY" } };
      const provider = await createProvider("azure:prod-reasoner", { env: { AZ_KEY: "az-key-0000" }, http: { attempts: 2, baseMs: 1, capMs: 5, requestTimeout: 5000 } }, { endpoints });
      const error = await rejection(() => provider.complete({ ...contractRequest("x"), temperature: 0.3 }));
      expect(error.message).toContain("HTTP 400 Unsupported value: 'temperature'");
      expect(error.message).toContain('set modelSettings["azure:prod-reasoner"].reasoningModel: true');
    } finally {
      server.stop();
    }
  });
});
