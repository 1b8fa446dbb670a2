import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createProvider } from "../../providers/index.ts";
import { isSAError } from "../../lib/errors.ts";
import { startTestServer, type TestServer } from "../../lib/test-server.ts";
import { testKey, rejection } from "../helpers.ts";
import { contractRequest, testProvider } from "./contract.ts";

let server: TestServer;
let flaked = false;
beforeAll(() => {
  server = startTestServer({ usage: { prompt_tokens: 120, completion_tokens: 30, cached_tokens: 20, reasoning_tokens: 5 }, fault: (_n, body) => {
      const text = body.messages[1]?.content;
      if (text === "bad request") return { type: "400" };
      if (text === "always 500") return { type: "500" };
      // The first request of this text fails, the next one answers.
      if (text === "flaky once" && !flaked) return (flaked = true), { type: "500" };
      return undefined;
    },
  });
});
afterAll(() => server.stop());

const make = (env: Record<string, string | undefined> = {}) =>
  createProvider("openai:gpt-4o-mini", { env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url, ...env }, http: { attempts: 2, baseMs: 1, capMs: 5, requestTimeout: 5000 } });

describe("openai provider (local server)", () => {
  testProvider("openai", () => make());

  test("sends the schema as a strict structured output and reports usage", async () => {
    const p = await make();
    const before = server.requests.length;
    const result = await p.complete(contractRequest("usage"));
    const body = server.requests[before]!.body as unknown as { response_format: { type: string; json_schema: { strict: boolean; name: string } } };
    expect(body.response_format.type).toBe("json_schema");
    expect(body.response_format.json_schema.strict).toBe(true);
    expect(result.usage).toEqual({ inputTokens: 120, cachedInputTokens: 20, outputTokens: 30, reasoningTokens: 5 });
    expect(server.requests[before]!.authorization).toBe(`Bearer ${testKey}`);
    expect(p.baseURL).toBe(server.url);
  });

  test("a 400 is not retried and the error names the status and request id", async () => {
    const p = await make();
    const before = server.requests.length;
    const error = await rejection(() => p.complete(contractRequest("bad request")));
    expect(isSAError(error, "E_PROVIDER")).toBe(true);
    expect(error.message).toContain("HTTP 400");
    expect(error.message).toMatch(/request id req_test_\d+/);
    expect(server.requests.length - before).toBe(1);
  });

  test("retries are counted by the retry layer and returned with the answer", async () => {
    const p = await make();
    const result = await p.complete(contractRequest("flaky once"));
    expect(result.retries).toBe(1);
    const error = await rejection(() => p.complete(contractRequest("always 500")));
    expect(isSAError(error, "E_PROVIDER")).toBe(true);
    expect((error as { details?: { retries?: number } }).details?.retries).toBe(1);
    expect(error.message).toContain("after 2 attempt(s)");
  });

  test("a connection that cannot be made names where it was going (without the URL's credentials)", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const url = `http://127.0.0.1:${closed.port}/v1`;
    closed.stop(true);
    const p = await make({ OPENAI_BASE_URL: url.replace("http://", "http://user:pw-SECRET@") });
    const error = await rejection(() => p.complete(contractRequest()));
    expect(isSAError(error, "E_PROVIDER")).toBe(true);
    expect(error.message).toContain(`(${url})`);
    expect(error.message).not.toContain("pw-SECRET");
    expect(error.message).toContain("after 2 attempt(s)");
  });

  test("without OPENAI_API_KEY the error names the variable", async () => {
    const p = await make({ OPENAI_API_KEY: undefined });
    const error = await rejection(() => p.complete(contractRequest()));
    expect(error.message).toContain("OPENAI_API_KEY");
  });
});
