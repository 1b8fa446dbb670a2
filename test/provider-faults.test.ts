import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type Fault } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const retry = { SA_RETRY: '{"attempts":3,"baseMs":1,"capMs":5}' };

/** Each 200 that a gateway may send instead of an answer, and what the final error must say. */
const broken: Array<{ type: Fault["type"]; says: string[] }> = [
  { type: "reset", says: ["HTTP 200 (application/json)", "the connection broke while the answer was read"] },
  { type: "html", says: ["HTTP 200 (text/html)", "a body that is not JSON", "<!DOCTYPE html><html><body><h1>Gateway error"] },
  { type: "empty", says: ["HTTP 200 (application/json)", "an empty body"] },
  { type: "wrong-json", says: ["HTTP 200 (application/json", "JSON that is not the expected answer", '\\"status\\":\\"queued\\"'] },
];

describe("a 200 that is not an answer is retried like a 5xx", () => {
  for (const { type, says } of broken) {
    test(`${type} once: retried, the run completes with one extra request`, async () => {
      const server = startTestServer({ fault: (n) => (n === 1 || n === 7 ? ({ type } as Fault) : undefined) });
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
        const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url, env: retry });
        expect(result.code).toBe(0);
        expect(lines(join(dir, "out.jsonl"))).toHaveLength(1);
        expect(server.answered).toBe(21);
        expect(server.requests).toHaveLength(23);
        expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!).totals.retries).toBe(2);
      } finally {
        cleanup();
        await server.stop();
      }
    });

    test(`${type} every time: the service fails after every attempt, saying what came back (no TypeError)`, async () => {
      const server = startTestServer({ fault: (_n, body) => (body.messages[1]!.content.includes("SVC002") ? ({ type } as Fault) : undefined) });
      const { dir, cleanup } = tempDir();
      try {
        const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
        const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url, env: retry });
        expect(result.code).toBe(1);
        expect(lines(join(dir, "out.jsonl")).map((l) => l.service.service_id)).toEqual(["SVC001"]);
        expect(server.requests.filter((r) => r.body.messages[1]!.content.includes("SVC002"))).toHaveLength(3);
        const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
        expect(summary.failures).toHaveLength(1);
        const reason = JSON.stringify(summary.failures[0].reason);
        for (const text of says) expect(reason).toContain(text);
        expect(reason).toContain("after 3 attempt(s)");
        expect(result.stderr).not.toContain("TypeError");
        expect(result.stderr).not.toContain("undefined is not");
      } finally {
        cleanup();
        await server.stop();
      }
    });
  }
});
