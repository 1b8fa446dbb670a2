import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { isSAError } from "../../lib/errors.ts";
import { startTestServer } from "../../lib/test-server.ts";
import { rejection, tempDir, testRuntime } from "../helpers.ts";

describe("a call that fails on every model", () => {
  test("its error keeps the provider's error as its cause, with the status and the request id", async () => {
    const server = startTestServer({ fault: () => ({ type: "500" }) });
    const { dir, cleanup } = tempDir("sa-final-error-");
    const rt = await testRuntime(dir, { baseURL: server.url, config: { retry: { attempts: 2, baseMs: 1, capMs: 2 } } });
    try {
      const schema = z.strictObject({ ok: z.string() });
      const spec = { task: "run", stage: "descriptions" as const, serviceId: "S1", priority: 0, messages: [{ role: "system" as const, content: "s" }, { role: "user" as const, content: "u" }], schema, schemaName: "t" };
      const error = await rejection(() => rt.pipeline.session.call(spec));
      expect(isSAError(error, "E_CALL_FAILED")).toBe(true);
      expect(error.message).toMatch(/HTTP 500 .*request id req_test_2/);
      const cause = (error as Error & { cause?: unknown }).cause;
      expect(isSAError(cause, "E_PROVIDER")).toBe(true);
      expect((cause as { details: Record<string, unknown> }).details).toMatchObject({ status: 500, requestId: "req_test_2" });
      expect((error as unknown as { details: Record<string, unknown> }).details).toMatchObject({ status: 500, requestId: "req_test_2" });
    } finally {
      await rt.close();
      cleanup();
      await server.stop();
    }
  });
});
