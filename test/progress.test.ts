import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runInTerminal, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ latencyMs: 30, fault: (_n, body) => (body.messages[1]!.content.includes("SVC003") ? { type: "500" } : undefined) });
});
afterAll(() => server.stop());

const ansi = /\x1b\[/;

describe("progress and logs", () => {
  test("under CI=true or with no TTY, progress is plain lines with no ANSI escapes", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(result.stderr).not.toMatch(ansi);
      expect(result.stderr).toMatch(/progress: 1\/2 services done; calls descriptions \d+\/2, features \d+\/10, mapping \d+\/30;/);
      expect(result.stderr).toMatch(/finished: 2\/2 services done; calls descriptions 2\/2, features 10\/10, mapping 30\/30; 0 cached, 0 retries, \$[\d.]+, [\d.]+ calls\/s$/m);
      // The run is over: its last line gives no ETA.
      expect(result.stderr).not.toMatch(/finished: .*ETA/);
    } finally {
      cleanup();
    }
  });

  test("a JSON array input (the Python tool's form) is counted ahead too: the lines say done/total, and come at each 10%", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, "in.json");
      writeFileSync(input, JSON.stringify(makeServices(2), null, 2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(/progress: 1\/2 services done;/);
      expect(result.stderr).toMatch(/finished: 2\/2 services done; calls descriptions 2\/2, features 10\/10, mapping 30\/30;/);
    } finally {
      cleanup();
    }
  });

  test("bad lines are not counted among the services to do", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), [...makeServices(2), "{ not json", { service_id: "X" }]);
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/finished: 2\/2 services done; calls descriptions 2\/2, features 10\/10, mapping 30\/30;/);
    } finally {
      cleanup();
    }
  });

  test("on a TTY a live bar per stage is drawn", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const proc = runInTerminal("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      expect(out).toMatch(ansi);
      for (const stage of ["services", "descriptions", "features", "mapping"]) expect(out).toContain(` ${stage}`);
      expect(out).toContain("█");
      expect(out).toMatch(/mapping\s+█+\s+30\/30 \| cached 0 \| retries 0 \| \$/);
      expect(out).toMatch(/services\s+█+\s+2\/2 \| [\d.]+ calls\/s \| ETA/);
    } finally {
      cleanup();
    }
  });

  test("--quiet shows nothing but errors", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":1}' } });
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines.every((l) => l.startsWith("✖"))).toBe(true);
      expect(lines.some((l) => l.includes("SVC003"))).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("--quiet still says why the exit code is not 0: a usage limit (exit 3)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet", "--max-requests", "3", "--concurrency", "1"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(3);
      expect(result.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^✖ limit: 0 written, .*\(max-requests 3 reached\)$/)]);
    } finally {
      cleanup();
    }
  });

  test("--log-format json gives only JSON lines on stderr, with the run id and service id", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), [...makeServices(3), "{ not json"]);
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--log-format", "json", "--verbose"], { cwd: dir, baseURL: server.url, env: { SA_RETRY: '{"attempts":2,"baseMs":1,"capMs":2}' } });
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines.length).toBeGreaterThan(5);
      const records = lines.map((l) => JSON.parse(l));
      for (const r of records) {
        expect(typeof r.level).toBe("string");
        expect(typeof r.message).toBe("string");
        expect(r.runId).toMatch(/^\d{8}T\d{6}-/);
      }
      expect(records.some((r) => r.serviceId === "SVC003" && r.level === "error")).toBe(true);
      expect(records.some((r) => r.message.includes("in.jsonl:4: invalid JSON"))).toBe(true);
      expect(records.some((r) => r.level === "debug" && r.message.startsWith("retry 1/1"))).toBe(true);
      // The failure's detail (--verbose) names its service too.
      const detail = records.filter((r) => r.level === "debug" && r.message.startsWith("descriptions failed"));
      expect(detail.map((r) => r.serviceId)).toEqual(["SVC003"]);
    } finally {
      cleanup();
    }
  });
});

describe("map's progress totals are the calls each record makes", () => {
  test("evolutions holding 2, 1 and 5 of the 5 plateaus: mapping 24/24 (8 plateaus × 3 catalogues), in lines and on a TTY", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3, "MAP"));
      expect((await runScript("run", ["--input", input, "--output", "run.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const kept = [2, 1, 5];
      const evolutions = readFileSync(join(dir, "run.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { plateaus: unknown[] });
      writeJsonl(join(dir, "some.jsonl"), evolutions.map((e, i) => ({ ...e, plateaus: e.plateaus.slice(0, kept[i]) })));
      const args = ["--input", "some.jsonl", "--output", "mapped.jsonl", "--data", fixtureData];
      const lines = await runScript("map", args, { cwd: dir, baseURL: server.url });
      expect(lines.code).toBe(0);
      expect(lines.stderr).toMatch(/finished: 3\/3 services done; calls mapping 24\/24;/);
      for (const [, done, total] of lines.stderr.matchAll(/calls mapping (\d+)\/(\d+)/g)) expect(Number(done)).toBeLessThanOrEqual(Number(total));
      const proc = runInTerminal("map", [...args.slice(0, 3), "mapped2.jsonl", ...args.slice(4)], { cwd: dir, baseURL: server.url });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      expect(out).toMatch(/mapping\s+█+\s+24\/24 \| cached 24/);
      // The first frame, drawn before any record is read, may guess 45 (every plateau); the last is exact.
      expect([...out.matchAll(/mapping\s+\S+\s+(\d+\/\d+)/g)].at(-1)?.[1]).toBe("24/24");
    } finally {
      cleanup();
    }
  });
});

describe("a failed service's calls are settled", () => {
  test("SVC003 fails at descriptions: every stage still ends at its total, in lines and on a TTY", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      // One attempt: SVC003's 500 fails it at once.
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ retry: { attempts: 1 } }));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/finished: 2\/3 services done \(1 failed\); calls descriptions 3\/3, features 15\/15, mapping 45\/45;/);
      const proc = runInTerminal("run", ["--input", input, "--output", "tty.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(1);
      for (const [stage, total] of [["descriptions", 3], ["features", 15], ["mapping", 45]] as const) expect(out).toMatch(new RegExp(`${stage}\\s+█+\\s+${total}/${total}`));
    } finally {
      cleanup();
    }
  });
});
