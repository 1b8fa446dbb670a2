import { describe, expect, test } from "bun:test";
import { createEndpointLimiters } from "../lib/endpoint-limits.ts";
import { createProviders } from "../lib/endpoints.ts";
import { configSchema } from "../lib/schema/config.ts";
import type { Provider } from "../providers/types.ts";
import { contractRequest } from "./providers/contract.ts";
import { startTestServer } from "../lib/test-server.ts";

/** A provider that notes when each call reached it. */
function timedProvider(name: string, model: string, times: number[]): Provider {
  return {
    name,
    model,
    baseURL: `${name}:`,
    async complete() {
      times.push(Date.now());
      return { content: "{}", model, retries: 0, usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 } };
    },
  };
}

describe("per-endpoint limiter buckets", () => {
  test("an endpoint with its own rpm is spread out, shared by its models; an endpoint without one is not held back", async () => {
    const limiters = createEndpointLimiters();
    const slow: number[] = [];
    const fast: number[] = [];
    const a = limiters.wrap(timedProvider("slow", "a", slow), { rpm: 1200 });
    const b = limiters.wrap(timedProvider("slow", "b", slow), { rpm: 1200 });
    const free = limiters.wrap(timedProvider("free", "c", fast), {});
    const started = Date.now();
    await Promise.all([...Array.from({ length: 10 }, () => a.complete(contractRequest())), ...Array.from({ length: 10 }, () => b.complete(contractRequest())), ...Array.from({ length: 20 }, () => free.complete(contractRequest()))]);
    slow.sort((x, y) => x - y);
    // 20 calls at 20/s on the one `slow` endpoint (both models): about a second, never all at once.
    expect(slow.at(-1)! - slow[0]!).toBeGreaterThan(600);
    expect(slow.filter((t) => t - slow[0]! < 250).length).toBeLessThanOrEqual(6);
    // The other endpoint has no bucket of its own: all 20 go at once.
    expect(Math.max(...fast) - started).toBeLessThan(500);
    await limiters.close();
  });

  test("requests an endpoint's calls send again after a 5xx are charged to that endpoint's own rpm", async () => {
    // The first call is answered 500 five times, then 200: six requests at 600 RPM (about 100 ms each).
    const server = startTestServer({ fault: (n) => (n <= 5 ? { type: "500" } : undefined) });
    try {
      const config = configSchema.parse({ providers: { lab: { type: "openai", baseURL: server.url, apiKeyEnv: "LAB_KEY", rpm: 600 } } });
      const [lab] = await createProviders(["lab:gpt-4o-mini"], config, { env: { LAB_KEY: "sk-test" }, http: { attempts: 6, baseMs: 1, capMs: 1, requestTimeout: 5000 } });
      const first = await lab!.complete(contractRequest());
      expect(first.retries).toBe(5);
      const done = Date.now();
      await lab!.complete(contractRequest());
      // The second call waits for the five requests sent again (about 500 ms), not for none.
      expect(server.requests.at(-1)!.at - done).toBeGreaterThanOrEqual(350);
    } finally {
      await server.stop();
    }
  });

  test("createProviders gives each endpoint with rpm/tpm its own bucket and keeps the endpoint's name", async () => {
    const config = configSchema.parse({ providers: { lab: { type: "synthetic", rpm: 600 } } });
    const [lab, plain] = await createProviders(["lab:demo", "synthetic:demo"], config, { env: {}, http: { attempts: 1, baseMs: 1, capMs: 1, requestTimeout: 1000 } });
    expect(lab!.name).toBe("lab");
    expect(plain!.name).toBe("synthetic");
    const times: number[] = [];
    await Promise.all(Array.from({ length: 8 }, () => lab!.complete(contractRequest()).then(() => times.push(Date.now()))));
    // 8 calls at 10/s.
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(400);
  });
});
