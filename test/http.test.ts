import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { backoffMs, createRetryFetch, retryAfterMs, type RetryInfo } from "../lib/http.ts";
import { startTestServer, type Fault, type TestServer } from "../lib/test-server.ts";
import { createProvider } from "../providers/index.ts";
import { contractRequest } from "./providers/contract.ts";
import { testKey } from "./helpers.ts";
import { isSAError, SAError } from "../lib/errors.ts";

describe("retry-after", () => {
  test.each([
    [{ "retry-after-ms": "250" }, 250],
    [{ "retry-after": "2" }, 2000],
    [{ "retry-after-ms": "100", "retry-after": "9" }, 100],
    [{ "retry-after": new Date(Date.UTC(2030, 0, 1, 0, 0, 5)).toUTCString() }, 5000],
    // A date already past (the server's clock behind ours) is no hint: backoff, not a burst of retries.
    [{ "retry-after": new Date(Date.UTC(2029, 11, 31, 23, 59, 58)).toUTCString() }, undefined],
    [{ "retry-after": "soon" }, undefined],
    [{}, undefined],
  ])("%j → %p ms", (headers, expected) => {
    expect(retryAfterMs(new Headers(headers), Date.UTC(2030, 0, 1, 0, 0, 0))).toBe(expected);
  });

  test("backoff grows exponentially up to the cap, with full jitter", () => {
    const options = { baseMs: 100, capMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, options, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffMs(3, options, () => 0)).toBe(0);
  });
});

describe("retry layer under the openai SDK", () => {
  let server: TestServer;
  const faults = new Map<string, Fault[]>();
  beforeAll(() => {
    // Each prompt gets its own fault schedule, consumed one request at a time.
    server = startTestServer({ fault: (_n, body) => faults.get(body.messages[1]!.content)?.shift() });
  });
  afterAll(() => server.stop());

  const provider = (attempts: number, retries: RetryInfo[], requestTimeout = 5000, stopped?: AbortSignal) =>
    createProvider("openai:gpt-4o-mini", {
      env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url },
      http: { attempts, baseMs: 5, capMs: 20, requestTimeout, stopped },
      onRetry: (info) => retries.push(info),
    });

  const sent = (prompt: string) => server.requests.filter((r) => r.body.messages[1]!.content === prompt);

  test("429 with retry-after-ms: the wait is at least what the header asked", async () => {
    faults.set("p429", [{ type: "429", retryAfterMs: 300 }, { type: "429", retryAfterMs: 150 }]);
    const retries: RetryInfo[] = [];
    const result = await (await provider(5, retries)).complete(contractRequest("p429"));
    expect(result.retries).toBe(2);
    const [a, b, c] = sent("p429");
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(300);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(150);
    expect(retries.map((r) => [r.status, r.delayMs, r.requestId])).toEqual([[429, 300, expect.stringMatching(/^req_test_/)], [429, 150, expect.stringMatching(/^req_test_/)]]);
  });

  test("each wait to retry is told with its status and endpoint, and ends as the retry goes, or when a stop cuts it", async () => {
    faults.set("told", [{ type: "429", retryAfterMs: 50 }, { type: "500" }]);
    const events: string[] = [];
    const waitingToRetry = (status: number | undefined, endpoint?: string) => {
      events.push(`wait ${status} ${endpoint} (${sent("told").length} sent)`);
      return () => events.push(`gone (${sent("told").length} sent)`);
    };
    const context = { env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url }, http: { attempts: 5, baseMs: 5, capMs: 20, requestTimeout: 5000 }, waitingToRetry };
    await (await createProvider("openai:gpt-4o-mini", context)).complete(contractRequest("told"));
    expect(events).toEqual(["wait 429 openai (1 sent)", "gone (1 sent)", "wait 500 openai (2 sent)", "gone (2 sent)"]);

    faults.set("cut", [{ type: "429", retryAfterMs: 5000 }]);
    events.length = 0;
    const stop = new AbortController();
    const cut = await createProvider("openai:gpt-4o-mini", { ...context, http: { ...context.http, stopped: stop.signal }, waitingToRetry: (status) => (events.push(`wait ${status}`), () => events.push("ended")) });
    const outcome = (async () => {
      try {
        await cut.complete(contractRequest("cut"));
        return "answered";
      } catch {
        return "stopped";
      }
    })();
    await Bun.sleep(200);
    expect(events).toEqual(["wait 429"]);
    stop.abort(new Error("stop"));
    expect(await outcome).toBe("stopped");
    expect(events).toEqual(["wait 429", "ended"]);
  });

  test("429 with retry-after in seconds, or only x-ratelimit-reset-*, is waited out too", async () => {
    faults.set("p429s", [{ type: "429", retryAfter: "1" }, { type: "429", headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "350ms" } }]);
    const retries: RetryInfo[] = [];
    await (await provider(5, retries)).complete(contractRequest("p429s"));
    const [a, b, c] = sent("p429s");
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(1000);
    expect(c!.at - b!.at).toBeGreaterThanOrEqual(350);
    expect(retries.map((r) => r.delayMs)).toEqual([1000, 350]);
  });

  test("500s, a hung response and a dropped connection are retried", async () => {
    faults.set("mixed", [{ type: "500" }, { type: "hang" }, { type: "drop" }, { type: "503" }]);
    const retries: RetryInfo[] = [];
    const result = await (await provider(6, retries, 400)).complete(contractRequest("mixed"));
    expect(JSON.parse(result.content).items).toBeDefined();
    expect(sent("mixed")).toHaveLength(5);
    expect(retries.map((r) => r.status ?? "network")).toEqual([500, "network", "network", 503]);
  });

  test("attempts never exceed the maximum; the final error names the status and request id", async () => {
    faults.set("always", Array.from({ length: 10 }, () => ({ type: "500" as const })));
    const retries: RetryInfo[] = [];
    let error: unknown;
    try {
      await (await provider(3, retries)).complete(contractRequest("always"));
    } catch (e) {
      error = e;
    }
    expect(sent("always")).toHaveLength(3);
    expect(isSAError(error, "E_PROVIDER")).toBe(true);
    expect((error as Error).message).toContain("HTTP 500 injected 500"); // the status once, then the provider's words
    expect((error as Error).message).toMatch(/request id req_test_\d+/);
    expect((error as Error).message).toContain("after 3 attempt(s)");
    expect((error as Error & { cause: unknown }).cause).toBeDefined();
  });

  test("a stop ends a call waiting to retry at once: no further attempt, the stop as the reason", async () => {
    faults.set("stopped", [{ type: "429", retryAfter: "30" }, { type: "429", retryAfter: "30" }]);
    const stop = new AbortController();
    const call = (await provider(5, [], 5000, stop.signal)).complete(contractRequest("stopped"));
    const started = Date.now();
    setTimeout(() => stop.abort(new SAError("E_INTERRUPTED", "SIGINT received")), 200);
    let error: unknown;
    try {
      await call;
    } catch (e) {
      error = e;
    }
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sent("stopped")).toHaveLength(1);
    expect((error as Error).message).toContain("SIGINT received");
    expect((error as Error).message).toContain("after 1 attempt(s)"); // the retry the stop ended was never sent
  });

  test("a retry that beforeRetry refuses is never sent: the call fails at once with the refusal, no retry logged", async () => {
    faults.set("refused", [{ type: "500" }, { type: "500" }]);
    const retries: RetryInfo[] = [];
    let asked = 0;
    const refusal = new SAError("E_LIMIT", "max-requests 1 reached");
    const refusing = await createProvider("openai:gpt-4o-mini", {
      env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url },
      http: { attempts: 5, baseMs: 5, capMs: 20, requestTimeout: 5000, beforeRetry: () => (asked++, refusal) },
      onRetry: (info) => retries.push(info),
    });
    let error: unknown;
    try {
      await refusing.complete(contractRequest("refused"));
    } catch (e) {
      error = e;
    }
    expect(sent("refused")).toHaveLength(1);
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(retries).toEqual([]);
    expect(isSAError(error, "E_LIMIT")).toBe(true);
    expect((error as Error).message).toContain("max-requests 1 reached");
  });

  test("a caller that gives up (its signal) ends a call waiting to retry at once", async () => {
    faults.set("given-up", [{ type: "429", retryAfter: "30" }, { type: "429", retryAfter: "30" }]);
    const caller = new AbortController();
    const call = (await provider(5, [])).complete({ ...contractRequest("given-up"), signal: caller.signal });
    const started = Date.now();
    setTimeout(() => caller.abort(), 200);
    let failed = false;
    try {
      await call;
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sent("given-up")).toHaveLength(1);
  });

  test("a 400 is returned at once", async () => {
    faults.set("client", [{ type: "400" }, { type: "400" }]);
    const retries: RetryInfo[] = [];
    let failed = false;
    try {
      await (await provider(5, retries)).complete(contractRequest("client"));
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(sent("client")).toHaveLength(1);
    expect(retries).toHaveLength(0);
  });

  test("an attempt's timeout never keeps the process alive: a child exits as soon as its calls are answered", async () => {
    // A 429 then an answer, and a 400: each attempt's timer (60 s) is left behind or cleared, and must not hold the exit.
    faults.set("child-429", [{ type: "429", retryAfterMs: 10 }]);
    faults.set("child-400", [{ type: "400" }]);
    const script = `
      import { createProvider } from ${JSON.stringify(`${import.meta.dir}/../providers/index.ts`)};
      const p = await createProvider("openai:gpt-4o-mini", { env: { OPENAI_API_KEY: "sk-x", OPENAI_BASE_URL: ${JSON.stringify(server.url)} }, http: { attempts: 3, baseMs: 5, capMs: 20, requestTimeout: 60000 } });
      const request = (prompt) => ({ messages: [{ role: "system", content: "s" }, { role: "user", content: prompt }], schemaName: "x", jsonSchema: { type: "object", properties: { items: { type: "array", items: { type: "string" } } }, required: ["items"], additionalProperties: false } });
      await p.complete(request("child-429"));
      await p.complete(request("child-400")).catch(() => {});
      console.log("answered");`;
    const started = Date.now();
    const proc = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" });
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
    if (!exited) proc.kill();
    expect(await new Response(proc.stdout).text()).toContain("answered");
    expect(exited).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);

  test("the body reaches the SDK unread (no 'Body already used')", async () => {
    const fetch = createRetryFetch({ attempts: 2, baseMs: 1, capMs: 1, requestTimeout: 2000 });
    const response = await fetch(`${server.url}/models`);
    expect(((await response.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
  });
});
