import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRouteHealth, isRouteFailure } from "../../lib/call/route-health.ts";
import type { Route } from "../../lib/call/context.ts";
import type { Clock } from "../../lib/clock.ts";
import { SAError } from "../../lib/errors.ts";
import { readLedger } from "../../lib/ledger.ts";
import type { Log } from "../../lib/log.ts";
import { startTestServer, type ChatBody, type TestServer } from "../../lib/test-server.ts";
import type { Provider } from "../../providers/types.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "../helpers.ts";

const route = (name: string, baseURL = "http://127.0.0.1:1/v1") => ({ provider: { name, model: "m", baseURL } as Provider, settings: {} }) as Route;

/** The route health with a clock the test moves, and the lines it logs. */
function health(failures = 3, coolDownMs = 1000) {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  const lines: string[] = [];
  const log = { warn: (m: string) => lines.push(`warn ${m}`), info: (m: string) => lines.push(`info ${m}`) } as unknown as Log;
  return { h: createRouteHealth({ failures, coolDownMs, clock, log }), lines, at: (ms: number) => (now = ms) };
}

describe("route health", () => {
  test("opens after N failed calls in a row, skips for the cool-down, lets one probe through, and closes on an answer", () => {
    const { h, lines, at } = health(3, 1000);
    const a = route("a");
    h.failed(a, "ask");
    h.failed(a, "ask");
    h.answered(a); // an answer breaks the run of failures
    h.failed(a, "ask");
    h.failed(a, "ask");
    expect(h.admit(a)).toBe("ask");
    h.failed(a, "ask");
    expect(h.admit(a)).toBe("skip");
    // A call already out when it opened fails too: nothing changes, nothing more is logged.
    h.failed(a, "ask");
    expect(h.admit(route("b"))).toBe("ask");
    expect(h.admit(route("a", "http://127.0.0.1:2/v1"))).toBe("ask"); // the same model on another endpoint
    at(999);
    expect(h.admit(a)).toBe("skip");
    at(1000);
    expect(h.admit(a)).toBe("probe");
    expect(h.admit(a)).toBe("skip"); // one probe at a time
    h.answered(a);
    expect(h.admit(a)).toBe("ask");
    expect(lines).toEqual(["warn a:m failed 3 calls in a row: the next model answers instead for 1 s, then one call tries it again", "info a:m answers again: calls go to it again"]);
  });

  test("a failed probe opens it again for twice as long, at most 10 times the cool-down; a probe that ended otherwise gives its turn back", () => {
    const { h, lines, at } = health(1, 1000);
    const a = route("a");
    h.failed(a, "ask");
    const opens: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      // The first moment it lets a probe through.
      while (h.admit(a) === "skip") at((now += 100));
      opens.push(now);
      h.failed(a, "probe");
    }
    expect(opens.map((t, i) => t - (opens[i - 1] ?? 0))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
    at((now += 10_000));
    expect(h.admit(a)).toBe("probe");
    h.released(a, "probe"); // a limit or a stop ended it: the next call probes
    expect(h.admit(a)).toBe("probe");
    expect(lines).toHaveLength(1);
  });

  test.each([
    ["HTTP 500 after the retries", true, new SAError("E_PROVIDER", "x", { details: { status: 500 } })],
    ["HTTP 429 after the retries", true, new SAError("E_PROVIDER", "x", { details: { status: 429 } })],
    ["no answer (connection refused, timeout)", true, new SAError("E_PROVIDER", "x", { details: { retries: 5 } })],
    ["HTTP 400 (the request, not the route)", false, new SAError("E_PROVIDER", "x", { details: { status: 400 } })],
    ["HTTP 404", false, new SAError("E_PROVIDER", "x", { details: { status: 404 } })],
    ["a refusal", false, new SAError("E_PROVIDER", "x", { details: { refused: true } })],
    ["a limit", false, new SAError("E_LIMIT", "x")],
    ["a budget", false, new SAError("E_BUDGET", "x")],
    ["a usage error (HTTP 401)", false, new SAError("E_USAGE", "x", { details: { status: 401 } })],
  ] as const)("%s counts as the route failing: %p", (_name, counts, error) => {
    expect(isRouteFailure(error)).toBe(counts);
  });
});

const primaryKey = "primary-SECRET-key-0001";
const backupKey = "backup-SECRET-key-0002";
const attempts = 3;
const lines = (path: string) => readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { meta: { models: Record<string, string> } });

/** `run` over `services` with the primary and the fallback on two endpoints; its ledger record for the run. */
async function runWith(options: { primary: TestServer; backup?: TestServer; services: number; circuitBreaker?: object; args?: string[] }) {
  const { dir, cleanup } = tempDir("sa-route-health-");
  try {
    writeJsonl(join(dir, "services.jsonl"), makeServices(options.services));
    const providers = {
      primary: { type: "openai", baseURL: options.primary.url, apiKeyEnv: "PRIMARY_KEY" },
      ...(options.backup ? { backup: { type: "openai", baseURL: options.backup.url, apiKeyEnv: "BACKUP_KEY" } } : {}),
    };
    const models = options.backup ? { fallback: ["backup:gpt-4o-mini"] } : {};
    const config = { dataDir: fixtureData, model: "primary:gpt-4o-mini", models, providers, retry: { attempts, baseMs: 1, capMs: 5 }, circuitBreaker: options.circuitBreaker };
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
    const env = { PRIMARY_KEY: primaryKey, BACKUP_KEY: backupKey };
    const result = await runScript("run", ["--input", "services.jsonl", "--output", "out.jsonl", "--json", ...(options.args ?? [])], { cwd: dir, env });
    const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
    const output = result.code === 2 ? [] : lines(join(dir, "out.jsonl"));
    return { ...result, run, output };
  } finally {
    cleanup();
  }
}

/** Every model a line's parts were answered by. */
const answeredBy = (line: { meta: { models: Record<string, string> } }) => Object.entries(line.meta.models).filter(([k]) => k !== "fingerprint").map(([, v]) => v);

describe("a primary that is down, with a fallback (run)", () => {
  test("after 3 failed calls its new calls go to the fallback at once: far fewer requests than calls × attempts, exit 0, every service written", async () => {
    const primary = startTestServer({ fault: () => ({ type: "500" }) });
    const backup = startTestServer({ latencyMs: 5 });
    try {
      const services = 3;
      const calls = services * 21;
      // Control: a breaker that never opens is every call spending its full retries on the primary, as before.
      const control = await runWith({ primary, backup, services, circuitBreaker: { failures: 10_000 } });
      expect(control.code).toBe(0);
      expect(primary.requests).toHaveLength(calls * attempts);
      primary.requests.length = 0;
      backup.requests.length = 0;

      const result = await runWith({ primary, backup, services, circuitBreaker: { failures: 3, coolDownMs: 60_000 }, args: ["--concurrency", "4"] });
      console.log(`dead primary: ${primary.requests.length} requests with the breaker, ${calls * attempts} without; ${backup.requests.length} answered by the fallback`);
      expect(result.code).toBe(0);
      expect(primary.requests.length).toBeLessThan((calls * attempts) / 4);
      expect(backup.requests).toHaveLength(calls);
      expect(result.output).toHaveLength(services);
      for (const line of result.output) expect(new Set(answeredBy(line))).toEqual(new Set(["backup:gpt-4o-mini"]));
      // Logged once when it opened (the cool-down outlasts the run, so it never closes), with the model and no key.
      expect(result.stderr.match(/primary:gpt-4o-mini failed 3 calls in a row: the next model answers instead for 60 s/g)).toHaveLength(1);
      expect(result.stderr).not.toContain("answers again");
      expect(result.stderr).not.toContain("SECRET");
      // The ledger: a skipped call made no request; the calls that were tried made every attempt.
      const dead = result.run.byModel["primary:gpt-4o-mini"]!;
      expect(dead.failedCalls + dead.skippedCalls).toBe(calls);
      expect(dead.skippedCalls).toBeGreaterThan(calls / 2);
      expect(dead.requests).toBe(dead.failedCalls * attempts);
      expect(dead.requests).toBe(primary.requests.length);
      expect(result.run.totals.skippedCalls).toBe(dead.skippedCalls);
      // The summary says so; the --json summary's totals carry the count.
      expect(result.stderr).toContain(`${dead.skippedCalls} skipped (their model down: the next one answered)`);
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!).totals.skippedCalls).toBe(dead.skippedCalls);
      expect(result.run.byModel["backup:gpt-4o-mini"]!.liveCalls).toBe(calls);
    } finally {
      await primary.stop();
      await backup.stop();
    }
  }, 60_000);

  test("dying mid-run with many calls queued (--concurrency 4): the calls already sent finish their retries, the queued ones skip it", async () => {
    // Up for descriptions and features; down once the mapping calls (15 a service, all queued at once) start.
    const mapping = (body: ChatBody) => /_mapping$/.test(body.response_format?.json_schema?.name ?? "");
    const primary = startTestServer({ fault: (_n, body) => (mapping(body) ? { type: "500" } : undefined) });
    const backup = startTestServer({ latencyMs: 5 });
    try {
      const services = 3;
      const mappingCalls = services * 15;
      const result = await runWith({ primary, backup, services, circuitBreaker: { failures: 3, coolDownMs: 60_000 }, args: ["--concurrency", "4"] });
      const sent = primary.requests.filter((r) => mapping(r.body)).length;
      console.log(`dead at mapping: ${sent} mapping requests to the primary, ${mappingCalls * attempts} without the breaker`);
      expect(result.code).toBe(0);
      expect(result.output).toHaveLength(services);
      const dead = result.run.byModel["primary:gpt-4o-mini"]!;
      expect(dead.failedCalls + dead.skippedCalls).toBe(mappingCalls);
      // Each call sent made all its attempts; at most the calls in flight when it went down were sent after the third failure.
      expect(sent).toBe(dead.failedCalls * attempts);
      expect(dead.failedCalls).toBeLessThanOrEqual(3 + 4);
      expect(backup.requests).toHaveLength(mappingCalls);
    } finally {
      await primary.stop();
      await backup.stop();
    }
  }, 60_000);

  test("a primary that comes back is tried after the cool-down and used again", async () => {
    // Down until the fallback has answered 5 calls (the 3 that failed on it first, then calls that skipped it), then up.
    const backup = startTestServer({ latencyMs: 20 });
    const primary = startTestServer({ fault: () => (backup.requests.length < 5 ? { type: "500" } : undefined) });
    try {
      // Four services at a time (the window at concurrency 1): the last four start after the primary is back.
      const services = 8;
      const result = await runWith({ primary, backup, services, circuitBreaker: { failures: 3, coolDownMs: 100 }, args: ["--concurrency", "1"] });
      expect(result.code).toBe(0);
      expect(result.output).toHaveLength(services);
      expect(result.stderr.match(/primary:gpt-4o-mini failed 3 calls in a row/g)).toHaveLength(1);
      expect(result.stderr.match(/primary:gpt-4o-mini answers again: calls go to it again/g)).toHaveLength(1);
      const back = result.run.byModel["primary:gpt-4o-mini"]!;
      console.log(`primary back: ${back.failedCalls} failed, ${back.skippedCalls} skipped, ${back.liveCalls} answered by it again; ${backup.requests.length} by the fallback`);
      // A call may leave the queue as the third failure comes back, before the route is marked down.
      expect(back.failedCalls).toBeGreaterThanOrEqual(3);
      expect(back.skippedCalls).toBeGreaterThan(0);
      expect(back.liveCalls).toBe(primary.answered);
      expect(back.liveCalls).toBeGreaterThanOrEqual(4 * 21);
      // The services that started once it was back were answered by the primary alone.
      for (const line of result.output.slice(-4)) expect(new Set(answeredBy(line))).toEqual(new Set(["primary:gpt-4o-mini"]));
    } finally {
      await primary.stop();
      await backup.stop();
    }
  }, 60_000);
});

describe("a primary that is down, with a fallback (map)", () => {
  test("map skips it the same way: its mapping calls go to the fallback after 3 failed calls", async () => {
    let down = false;
    const primary = startTestServer({ fault: () => (down ? { type: "500" } : undefined) });
    const backup = startTestServer({ latencyMs: 5 });
    const { dir, cleanup } = tempDir("sa-route-health-map-");
    try {
      const services = 3;
      writeJsonl(join(dir, "services.jsonl"), makeServices(services));
      const providers = { primary: { type: "openai", baseURL: primary.url, apiKeyEnv: "PRIMARY_KEY" }, backup: { type: "openai", baseURL: backup.url, apiKeyEnv: "BACKUP_KEY" } };
      const config = { dataDir: fixtureData, model: "primary:gpt-4o-mini", models: { fallback: ["backup:gpt-4o-mini"] }, providers, retry: { attempts, baseMs: 1, capMs: 5 }, circuitBreaker: { failures: 3, coolDownMs: 60_000 } };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
      const options = { cwd: dir, env: { PRIMARY_KEY: primaryKey, BACKUP_KEY: backupKey } };
      expect((await runScript("run", ["--input", "services.jsonl", "--output", "run.jsonl"], options)).code).toBe(0);
      down = true;
      primary.requests.length = 0;
      const map = await runScript("map", ["--input", "run.jsonl", "--output", "map.jsonl", "--cache-mode", "off", "--concurrency", "4"], options);
      const mappingCalls = services * 15;
      console.log(`map, dead primary: ${primary.requests.length} requests to it, ${mappingCalls * attempts} without the breaker`);
      expect(map.code).toBe(0);
      expect(lines(join(dir, "map.jsonl"))).toHaveLength(services);
      expect(map.stderr.match(/primary:gpt-4o-mini failed 3 calls in a row/g)).toHaveLength(1);
      const dead = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!.byModel["primary:gpt-4o-mini"]!;
      expect(dead.failedCalls + dead.skippedCalls).toBe(mappingCalls);
      expect(primary.requests).toHaveLength(dead.failedCalls * attempts);
      expect(dead.failedCalls).toBeLessThanOrEqual(3 + 4);
    } finally {
      cleanup();
      await primary.stop();
      await backup.stop();
    }
  }, 60_000);
});

describe("a primary that is down, without a fallback", () => {
  test("every call is still tried with all its attempts, and the run fails as before (exit 1)", async () => {
    const primary = startTestServer({ fault: () => ({ type: "500" }) });
    try {
      const services = 4;
      const result = await runWith({ primary, services, circuitBreaker: { failures: 1, coolDownMs: 60_000 } });
      expect(result.code).toBe(1);
      // Each service fails at its descriptions call, after every attempt.
      expect(primary.requests).toHaveLength(services * attempts);
      expect(result.stderr.match(/failed at descriptions: .*HTTP 500/g)).toHaveLength(services);
      expect(result.stderr).not.toContain("calls in a row");
      expect(result.run.totals).toMatchObject({ failedCalls: services, skippedCalls: 0, requests: services * attempts });
    } finally {
      await primary.stop();
    }
  }, 60_000);
});
