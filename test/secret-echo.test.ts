import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, runScript, tempDir, testKey, writeJsonl } from "./helpers.ts";

/** A provider that fails every request with `status` and echoes the caller's key: in its words and in its request id. */
function echoingServer(status: number) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const key = (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
      return Response.json({ error: { message: `Incorrect API key provided: ${key}`, type: "invalid_request_error" } }, { status, headers: { "x-request-id": `req-${key}` } });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, stop: () => server.stop(true) };
}

/** Every file under `dir` whose text holds `secret`. */
function filesHolding(dir: string, secret: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((name) => statSync(join(dir, name)).isFile() && readFileSync(join(dir, name), "utf8").includes(secret));
}

describe("a provider that echoes the key back", () => {
  for (const [status, code] of [[400, 1], [401, 2]] as const) {
    test(`HTTP ${status}: the key reaches neither stdout, stderr, the ledger nor any other file (exit ${code})`, async () => {
      const server = echoingServer(status);
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
        const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--ledger-calls"], { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":2,"baseMs":1,"capMs":5}' } });
        expect(result.code).toBe(code);
        expect(result.stderr).toContain("req-[redacted]");
        expect(result.stdout).not.toContain(testKey);
        expect(result.stderr).not.toContain(testKey);
        expect(filesHolding(dir, testKey)).toEqual([]);
      } finally {
        cleanup();
        await server.stop();
      }
    });
  }
});
