import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { redact, redactUrl } from "../lib/redact.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** Every file under `dir`, concatenated: cache entries, ledger, output, quarantine. */
function everything(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((p) => statSync(p).isFile())
    .map((p) => readFileSync(p, "utf8"))
    .join("\n");
}

describe("credentials in URLs", () => {
  test.each([
    ["https://api.openai.com/v1", "https://api.openai.com/v1"],
    ["https://user:pass@gateway.example/v1", "https://gateway.example/v1"],
    ["https://gateway.example/v1?api-key=abc&api-version=2024-06-01", "https://gateway.example/v1?api-version=2024-06-01"],
    ["https://gateway.example/v1?key=abc", "https://gateway.example/v1"],
    ["https://u@gateway.example/v1?access_token=t&sig=s", "https://gateway.example/v1"],
    ["http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/"],
  ])("redactUrl(%s) is %s", (url, clean) => {
    expect(redactUrl(url)).toBe(clean);
  });

  test("redact() scrubs URL credentials quoted in messages", () => {
    const text = redact("connect failed: https://sa-user:pw-SECRET@gw.example/v1/chat?api-key=qs-SECRET&x=1");
    expect(text).not.toContain("pw-SECRET");
    expect(text).not.toContain("qs-SECRET");
    expect(text).toContain("gw.example/v1/chat");
  });

  test("a base URL with userinfo and a query key: nothing stored or printed holds them, and the cache key ignores them", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    const port = new URL(server.url).port;
    const secretURL = `http://sa-user:pw-SECRET-42@127.0.0.1:${port}/v1?api-key=qs-SECRET-43`;
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--verbose", "--ledger-calls", "--transcripts"], { cwd: dir, baseURL: secretURL });
      expect(run.code).toBe(0);
      expect(server.answered).toBe(21);
      const stored = everything(dir) + run.stdout + run.stderr;
      for (const secret of ["pw-SECRET-42", "qs-SECRET-43", "sa-user"]) expect(stored).not.toContain(secret);
      expect(everything(join(dir, ".sa/cache"))).toContain(`http://127.0.0.1:${port}/v1`);

      // The same endpoint without the credentials hits every entry: the hash never saw them.
      const again = await runScript("run", ["--input", input, "--output", "again.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(again.code).toBe(0);
      expect(server.requests).toHaveLength(21);

      const preflight = await runScript("preflight", ["--input", input, "--data", fixtureData], { cwd: dir, baseURL: secretURL });
      expect(preflight.stdout).toContain(`endpoint http://127.0.0.1:${port}/v1`);
      for (const secret of ["pw-SECRET-42", "qs-SECRET-43", "sa-user"]) expect(preflight.stdout + preflight.stderr).not.toContain(secret);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
