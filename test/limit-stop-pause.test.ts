import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  // The second request (a features call, sent beside another) is answered 429 with a 30 s
  // retry-after: the endpoint pauses for 30 s, and the retry would cross --max-requests, so it is
  // refused. The service's other features calls wait in the queue for the pause to end.
  server = startTestServer({ fault: (n) => (n === 2 ? { type: "429", retryAfter: "30" } : undefined) });
});
afterAll(() => server.stop());

test("a limit reached while calls wait out a 429's pause stops the run at once: they are not held for the pause only to be refused", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
    const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "2", "--max-requests", "3", "--json"];
    const started = Date.now();
    const result = await runScript("run", args, { cwd: dir, baseURL: server.url });
    const seconds = (Date.now() - started) / 1000;
    expect(result.code).toBe(3);
    expect(server.requests).toHaveLength(3);
    const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
    expect(run.stopReason).toBe("max-requests 3 reached");
    expect(run.totals).toMatchObject({ requests: 3, retries: 0 });
    // The pause asked for is 30 s; nothing could be sent after the limit, so nothing is waited for.
    expect(seconds).toBeLessThan(15);
  } finally {
    cleanup();
  }
}, 60_000);
