import { afterAll, beforeAll, expect, test } from "bun:test";
import { isSAError } from "../lib/errors.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { createProvider } from "../providers/index.ts";
import { contractRequest } from "./providers/contract.ts";
import { rejection, testKey } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  // The server closes every connection mid-request.
  server = startTestServer({ fault: () => ({ type: "drop" }) });
});
afterAll(() => server.stop());

test("a connection closed mid-request fails with one line a user can act on: no advice meant for fetch's caller", async () => {
  const provider = await createProvider("openai:gpt-4o-mini", { env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url }, http: { attempts: 2, baseMs: 1, capMs: 2, requestTimeout: 10_000 } });
  const error = await rejection(() => provider.complete(contractRequest("dropped")));
  expect(isSAError(error, "E_PROVIDER")).toBe(true);
  expect(server.requests).toHaveLength(2);
  // What broke and where it was going, on one line: Bun's `pass verbose: true` advice is dropped.
  expect(error.message).toMatch(/^openai gpt-4o-mini: \w+: .*closed.*[^.] \(http:\/\/127\.0\.0\.1:\d+\/v1\) after 2 attempt\(s\)$/);
  expect(error.message).not.toContain("verbose");
}, 30_000);
