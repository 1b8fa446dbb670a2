import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  // The second request (the second service's first call) fails once: its retry is counted, then
  // waits its backoff while the first service's calls reach the limit and stop the run.
  server = startTestServer({ fault: (n) => (n === 2 ? { type: "500" } : undefined) });
});
afterAll(() => server.stop());

test("a retry counted before --max-requests stopped the run is still sent: exactly N requests reach the server", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
    // A backoff of up to 3 s: the other service's calls are answered, and the next refused, long before the retry is due.
    const env = { SA_RETRY: '{"attempts":3,"baseMs":3000,"capMs":3000}' };
    const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "2", "--max-requests", "4", "--json"];
    const result = await runScript("run", args, { cwd: dir, baseURL: server.url, env });
    expect(result.code).toBe(3);
    expect(server.requests).toHaveLength(4);
    const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
    expect(run.stopReason).toBe("max-requests 4 reached");
    expect(run.totals).toMatchObject({ requests: 4, retries: 1, liveCalls: 3, failedCalls: 0 });
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "limit", totals: { requests: 4 } });
  } finally {
    cleanup();
  }
});
