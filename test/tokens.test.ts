import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runServices } from "../lib/pipeline/run.ts";
import { startTestServer } from "../lib/test-server.ts";
import { tokenizerLoads } from "../lib/tokens.ts";
import { makeServices, root, tempDir, testRuntime, writeJsonl } from "./helpers.ts";

describe("tokenizer", () => {
  test("20 concurrent first counts build the table once (a fresh process)", async () => {
    const proc = Bun.spawn(["bun", join(root, "test/support/tokenizer-loads.ts")], { stdout: "pipe", stderr: "pipe" });
    const out = JSON.parse(await new Response(proc.stdout).text()) as { loads: number; counts: number[] };
    expect(await proc.exited).toBe(0);
    expect(out.loads).toBe(1);
    expect(out.counts).toHaveLength(20);
    expect(out.counts.every((n) => n > 0)).toBe(true);
  });

  test("a run with --max-tokens (exact counts for every call) loads it at most once", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const before = tokenizerLoads();
      const rt = await testRuntime(dir, { baseURL: server.url, config: { concurrency: 16, limits: { maxTokens: 10_000_000 } } });
      const summary = await runServices(rt, { input: writeJsonl(join(dir, "in.jsonl"), makeServices(3)), output: join(dir, "out.jsonl") });
      await rt.close();
      expect(summary.status).toBe("ok");
      expect(server.answered).toBe(63);
      expect(tokenizerLoads() - before).toBeLessThanOrEqual(1);
      expect(tokenizerLoads()).toBe(1);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
