import { describe, expect, test } from "bun:test";
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

describe("a run stopped between creating a batch and recording its id", () => {
  test("the next run finds the batch made from its uploaded file and re-attaches: no second batch, nothing paid twice", async () => {
    const { startTestServer } = await import("../lib/test-server.ts");
    const { createStorage } = await import("unstorage");
    const { runWave } = await import("../lib/batch/wave.ts");
    const { requestLine } = await import("../lib/batch/request.ts");
    const { saveBatchRecord } = await import("../lib/batch/store.ts");
    const { systemClock } = await import("../lib/clock.ts");
    const { silentLog } = await import("../lib/log.ts");
    const { batchConfigSchema } = await import("../lib/schema/config.ts");
    const server = startTestServer({ batch: { completionMs: 100 } });
    try {
      const batches = api(server.url);
      const schema = { type: "object", properties: { ok: { type: "string" } }, required: ["ok"], additionalProperties: false };
      const requests = ["k1", "k2"].map((customId) => ({ customId, model: "gpt-4o-mini", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: customId }], response_format: { type: "json_schema", json_schema: { name: "t", strict: true, schema } } } }));
      // The stopped run: its file uploaded and recorded, its batch created, and then the process was gone.
      const storage = createStorage();
      const fileId = await batches.upload(requests.map(requestLine).join(""), "sa-run-wave1-1.jsonl");
      const at = new Date().toISOString();
      await saveBatchRecord(storage, { runKey: "run", runId: "r1", wave: 1, model: "gpt-4o-mini", fileId, batchId: null, status: "uploaded", customIds: ["k1", "k2"], counts: { total: 2, completed: 0, failed: 0 }, createdAt: at, updatedAt: at, consumed: false });
      await batches.create(fileId, "24h", { runKey: "run", wave: "1" });
      expect(server.batch.creations).toBe(1);

      const ctx = { api: batches, storage, log: silentLog, clock: systemClock, config: batchConfigSchema.parse({}), pollMs: 20, runKey: "run", runId: "r2" };
      const outcomes = await runWave(ctx, 1, requests);
      expect(server.batch.creations).toBe(1);
      expect([...outcomes.values()].map((o) => o.ok)).toEqual([true, true]);
    } finally {
      await server.stop();
    }
  });
});
