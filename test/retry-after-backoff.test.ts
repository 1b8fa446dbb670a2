import { afterAll, beforeAll, expect, test } from "bun:test";
import { createRetryFetch, type RetryInfo } from "../lib/http.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";

let server: TestServer;
beforeAll(() => {
  // Three 429s that each ask for a millisecond: a provider's window that frees one slot at a time.
  server = startTestServer({ fault: (n) => (n <= 3 ? { type: "429", retryAfterMs: 1 } : undefined) });
});
afterAll(() => server.stop());

const chat = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] };

test("a retry-after shorter than the backoff waits the backoff: attempts are not spent in a burst", async () => {
  const retries: RetryInfo[] = [];
  // The top of the full jitter (random 1): the backoffs are 100, 200 and 400 ms.
  const fetch = createRetryFetch({ attempts: 4, baseMs: 100, capMs: 1000, requestTimeout: 5000, random: () => 1, onRetry: (info) => retries.push(info) });
  const response = await fetch(`${server.url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(chat) });
  expect(response.status).toBe(200);
  expect(retries.map((r) => [r.status, r.delayMs])).toEqual([[429, 100], [429, 200], [429, 400]]);
  const at = server.requests.map((r) => r.at);
  expect(at).toHaveLength(4);
  expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(100);
  expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(200);
  expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(400);
});
