import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createBatchApi } from "../lib/batch/api.ts";
import { rejection, testKey } from "./helpers.ts";

/** A Batches endpoint that answers each POST from a schedule of statuses (then a batch), recording when each came. */
function batchesServer(schedule: Array<{ status: number; headers?: () => Record<string, string> }>) {
  const seen: number[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      seen.push(Date.now());
      const next = schedule.shift();
      if (next) return Response.json({ error: { message: "Too many batches in progress for this organisation" } }, { status: next.status, headers: { "x-request-id": `req_b${seen.length}`, ...next.headers?.() } });
      return Response.json({ id: "batch_1", status: "validating", input_file_id: "file-1", created_at: 1 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, seen, stop: () => server.stop(true) };
}

const api = (url: string, attempts = 4) => createBatchApi({ env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: url }, retry: { attempts, baseMs: 5, capMs: 20 }, requestTimeout: 5000 });

describe("the Batch API's retries are the chat calls' (lib/http.ts)", () => {
  test("a 429 with retry-after is waited out, in seconds and as an HTTP date", async () => {
    // An HTTP date has whole seconds: 2.5 s ahead is at least 1.5 s ahead.
    const server = batchesServer([{ status: 429, headers: () => ({ "retry-after": "1" }) }, { status: 429, headers: () => ({ "retry-after": new Date(Date.now() + 2500).toUTCString() }) }]);
    try {
      const batch = await api(server.url).create("file-1", "24h", {});
      expect(batch.id).toBe("batch_1");
      const [a, b, c] = server.seen;
      expect(b! - a!).toBeGreaterThanOrEqual(950);
      expect(c! - b!).toBeGreaterThanOrEqual(1400);
    } finally {
      server.stop();
    }
  });

  test("after the last attempt the error names the status, the provider's words and the request id", async () => {
    const server = batchesServer(Array.from({ length: 10 }, () => ({ status: 503 })));
    try {
      const error = await rejection(() => api(server.url, 3).create("file-1", "24h", {}));
      expect(server.seen).toHaveLength(3);
      expect(error.message).toContain("HTTP 503");
      expect(error.message).toContain("Too many batches in progress");
      expect(error.message).toContain("request id req_b3");
      expect(error.message).not.toContain(testKey);
      expect((error as Error & { cause?: unknown }).cause).toBeDefined();
    } finally {
      server.stop();
    }
  });
});
