import { afterAll, beforeAll, expect, test } from "bun:test";
import { createRetryFetch, type RetryInfo } from "../lib/http.ts";

// A gateway that answers each status of `statuses` once, in order, then a chat completion.
const statuses = [501, 505, 507, 511, 530, 599];
let server: ReturnType<typeof Bun.serve>;
let seen: number[] = [];
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      const status = statuses[seen.length];
      seen.push(status ?? 200);
      if (status) return Response.json({ error: { message: `gateway ${status}` } }, { status });
      return Response.json({ id: "chatcmpl-1", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "{}" } }] });
    },
  });
});
afterAll(() => server.stop(true));

test("every 5xx is retried, as 500 and 503 are (the spec's 408, 409, 425, 429 and 5xx)", async () => {
  const retries: RetryInfo[] = [];
  const fetch = createRetryFetch({ attempts: statuses.length + 1, baseMs: 1, capMs: 2, requestTimeout: 5000, onRetry: (info) => retries.push(info) });
  const response = await fetch(`http://127.0.0.1:${server.port}/v1/chat/completions`, { method: "POST", body: "{}" });
  expect(response.status).toBe(200);
  expect(seen).toEqual([...statuses, 200]);
  expect(retries.map((r) => r.status)).toEqual(statuses);
});
