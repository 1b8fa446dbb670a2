import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type ChatBody, type Fault } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** One fault, once, for the first call of a service at a stage (its schema name says the stage; a mapping prompt names the service by name). */
function faultOnce(faults: Array<{ service: string; schema: RegExp; fault: Fault }>) {
  const used = new Set<number>();
  return (_n: number, body: ChatBody): Fault | undefined => {
    const name = body.response_format?.json_schema?.name ?? "";
    const i = faults.findIndex((f, i) => !used.has(i) && body.messages[1]!.content.includes(f.service) && f.schema.test(name));
    if (i < 0) return undefined;
    used.add(i);
    return faults[i]!.fault;
  };
}

interface LogRecord {
  level: string;
  message: string;
  serviceId?: string;
  stage?: string;
}

describe("log lines written under a call name its service and stage", () => {
  test("a 429 and a 500 injected once each: each retry line names the service and stage that was retried", async () => {
    const server = startTestServer({
      latencyMs: 20,
      fault: faultOnce([
        { service: "SVC002", schema: /^plateau_features$/, fault: { type: "429", retryAfterMs: 5 } },
        { service: "Service 3", schema: /_mapping$/, fault: { type: "500" } },
      ]),
    });
    const { dir, cleanup } = tempDir("sa-call-scope-");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--log-format", "json", "--verbose", "--cache-mode", "off"];
      const result = await runScript("run", args, { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":3,"baseMs":1,"capMs":2}' } });
      expect(result.code).toBe(0);
      const records = result.stderr.trim().split("\n").map((l) => JSON.parse(l) as LogRecord);
      const retries = records.filter((r) => r.message.startsWith("retry "));
      expect(retries.map((r) => ({ serviceId: r.serviceId, stage: r.stage, reason: r.message.match(/after (HTTP \d+)/)?.[1] })).sort((a, b) => a.serviceId!.localeCompare(b.serviceId!))).toEqual([
        { serviceId: "SVC002", stage: "features", reason: "HTTP 429" },
        { serviceId: "SVC003", stage: "mapping", reason: "HTTP 500" },
      ]);
      expect(retries.map((r) => r.message)).toContainEqual(expect.stringMatching(/^retry 1\/2 of the features call after HTTP 429, waiting \d+ ms/));
      // Names only: no prompt or answer reaches the line.
      for (const r of retries) expect(JSON.stringify(r)).not.toContain("messages");
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("in a text log the retried service leads the line, as other per-service lines do", async () => {
    const server = startTestServer({ fault: faultOnce([{ service: "SVC001", schema: /^plateau_descriptions$/, fault: { type: "500" } }]) });
    const { dir, cleanup } = tempDir("sa-call-scope-");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--verbose", "--cache-mode", "off"];
      const result = await runScript("run", args, { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":2,"baseMs":1,"capMs":2}' } });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/\[SVC001\] retry 1\/1 of the descriptions call after HTTP 500/);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("a corrupt fs cache entry's warning names its service and stage (read past the synchronous lookup)", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir("sa-call-scope-");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const args = (out: string) => ["--input", input, "--output", out, "--data", fixtureData, "--log-format", "json"];
      expect((await runScript("run", args("first.jsonl"), { cwd: dir, baseURL: server.url })).code).toBe(0);
      // A features entry of SVC002 cut short: text that is not a JSON object is read through unstorage.
      const entries = readdirSync(join(dir, ".sa", "cache"), { recursive: true, encoding: "utf8" }).filter((p) => p.includes("features") && p.includes("SVC002") && p.endsWith(".json") === false && !p.endsWith("SVC002"));
      expect(entries.length).toBeGreaterThan(0);
      writeFileSync(join(dir, ".sa", "cache", entries[0]!), '{"v":');
      const result = await runScript("run", args("second.jsonl"), { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const corrupt = result.stderr.trim().split("\n").map((l) => JSON.parse(l) as LogRecord).filter((r) => r.message.includes("is corrupt"));
      expect(corrupt.map((r) => ({ serviceId: r.serviceId, stage: r.stage }))).toEqual([{ serviceId: "SVC002", stage: "features" }]);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
