import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, spawnScript, tempDir, testKey, writeJsonl } from "./helpers.ts";

interface OtlpValue { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean }
interface OtlpSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes: { key: string; value: OtlpValue }[] }

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** A real OTLP/HTTP receiver (http/json) on 127.0.0.1. */
function startReceiver() {
  const spans: OtlpSpan[] = [];
  const receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      if (req.method === "POST" && new URL(req.url).pathname === "/v1/traces") {
        const body = (await req.json()) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        return Response.json({});
      }
      return new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${receiver.port}`, spans, stop: () => receiver.stop(true) };
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined) ?? v?.doubleValue ?? v?.boolValue;
};

describe("tracing", () => {
  test("an OTLP protocol the exporters do not speak is a config error (exit 2) naming the variable", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], {
        cwd: dir,
        baseURL: server.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported (use http/json or http/protobuf)');
      expect(result.stderr).not.toContain("unexpected error");
    } finally {
      cleanup();
    }
  });

  test("run → service → call spans with GenAI attributes reach an OTLP/HTTP receiver", async () => {
    const receiver = startReceiver();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], {
        cwd: dir,
        baseURL: server.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      expect(result.code).toBe(0);
      const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
      const runs = receiver.spans.filter((s) => s.name === "run");
      const services = receiver.spans.filter((s) => s.name.startsWith("service "));
      const calls = receiver.spans.filter((s) => s.name.startsWith("chat "));
      expect(runs).toHaveLength(1);
      expect(services).toHaveLength(2);
      expect(calls).toHaveLength(42);
      for (const s of services) expect(s.parentSpanId).toBe(runs[0]!.spanId);
      // Only call spans carry GenAI attributes, so GenAI tools count 42 model calls, not 43.
      const genAi = receiver.spans.filter((s) => s.attributes.some((a) => a.key.startsWith("gen_ai.")));
      expect(genAi).toHaveLength(42);
      expect(genAi.every((s) => s.name.startsWith("chat "))).toBe(true);
      expect(attr(runs[0]!, "sa.model")).toBe("openai:gpt-4o-mini");
      for (const c of calls) {
        const parent = byId.get(c.parentSpanId!)!;
        expect(parent.name).toBe(`service ${attr(c, "sa.service_id")}`);
        expect(c.traceId).toBe(runs[0]!.traceId);
      }
      const call = calls.find((c) => attr(c, "sa.stage") === "features")!;
      expect(call.name).toBe("chat gpt-4o-mini");
      expect(attr(call, "gen_ai.operation.name")).toBe("chat");
      expect(attr(call, "gen_ai.provider.name")).toBe("openai");
      expect(attr(call, "gen_ai.request.model")).toBe("gpt-4o-mini");
      expect(attr(call, "gen_ai.response.model")).toBe("gpt-4o-mini");
      expect(String(attr(call, "gen_ai.response.id"))).toMatch(/^chatcmpl-/);
      expect(attr(call, "gen_ai.usage.input_tokens")).toBeGreaterThan(0);
      expect(attr(call, "gen_ai.usage.output_tokens")).toBeGreaterThan(0);
      expect(attr(call, "sa.service_id")).toMatch(/^SVC00[12]$/);
      expect(attr(call, "sa.cache_hit")).toBe(false);
      expect(attr(call, "sa.retries")).toBe(0);
      expect(attr(call, "sa.cost_usd")).toBeGreaterThan(0);
      // Prompts stay off spans unless --log-prompts.
      expect(calls.every((c) => attr(c, "gen_ai.input.messages") === undefined)).toBe(true);
      expect(JSON.stringify(receiver.spans)).not.toContain(testKey);
    } finally {
      cleanup();
      receiver.stop();
    }
  });

  test("an error that quotes the key reaches the spans' exception events redacted, as it reaches the log", async () => {
    const receiver = startReceiver();
    const { dir, cleanup } = tempDir();
    try {
      // A plug-in whose service's error quotes the key it was sent: the log line redacts it, and so must the spans.
      writeFileSync(join(dir, "leaky.ts"), `import { defineProvider } from ${JSON.stringify(join(root, "providers/define.ts"))};
export default defineProvider({ create: (model) => ({ name: "leaky", model, baseURL: "leaky:", async complete() { throw new Error("upstream refused key " + process.env.OPENAI_API_KEY); } }) });
`);
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ providers: { leaky: { type: "module", module: "./leaky.ts" } } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--model", "leaky:m1"], {
        cwd: dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("upstream refused key [redacted]");
      const spans = JSON.stringify(receiver.spans);
      expect(spans).toContain('"exception.message"');
      expect(spans).toContain("upstream refused key [redacted]");
      expect(spans).not.toContain(testKey);
    } finally {
      cleanup();
      receiver.stop();
    }
  });

  test("a call that skipped a model that was down names it in sa.skipped_models; the model that answered is sa.model", async () => {
    const receiver = startReceiver();
    const own = startTestServer({ fault: (_n, body) => (body.model === "dead" ? { type: "503" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const config = { dataDir: fixtureData, model: "openai:dead", models: { fallback: ["openai:gpt-4o-mini"] }, retry: { attempts: 1 }, circuitBreaker: { failures: 1, coolDownMs: 60_000 } };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--quiet", "--concurrency", "1"], {
        cwd: dir,
        baseURL: own.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      expect(result.code).toBe(0);
      const calls = receiver.spans.filter((s) => s.name.startsWith("chat "));
      const skipped = calls.filter((s) => attr(s, "sa.skipped_models") === "openai:dead");
      const asked = own.requests.filter((r) => r.body.model === "dead").length;
      expect(calls).toHaveLength(21);
      expect(skipped).toHaveLength(21 - asked);
      expect(skipped.length).toBeGreaterThan(0);
      for (const span of skipped) expect({ name: span.name, model: attr(span, "sa.model"), retries: attr(span, "sa.retries") }).toEqual({ name: "chat dead", model: "openai:gpt-4o-mini", retries: 0 });
    } finally {
      cleanup();
      receiver.stop();
      await own.stop();
    }
  });

  test("a run stopped by a limit has a call span for each call sent, none for those it never sent; a failed one is an error", async () => {
    const receiver = startReceiver();
    // Request 2 is refused (HTTP 400): its call failed, and its span says so.
    const own = startTestServer({ latencyMs: 50, fault: (n) => (n === 2 ? { type: "400" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet", "--max-requests", "6", "--concurrency", "2"], {
        cwd: dir,
        baseURL: own.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      expect(result.code).toBe(3);
      const calls = receiver.spans.filter((s) => s.name.startsWith("chat "));
      const failed = calls.filter((s) => (s as { status?: { code?: number } }).status?.code === 2);
      expect(own.requests).toHaveLength(6);
      expect(calls).toHaveLength(6);
      expect(failed).toHaveLength(1);
      expect(JSON.stringify(failed[0])).toContain("HTTP 400");
      // GenAI conventions: a failed call says its error.type (the HTTP status), and a call is a client span.
      expect(attr(failed[0]!, "error.type")).toBe("400");
      expect(calls.every((c) => (c as { kind?: number }).kind === 3)).toBe(true);
      // The run's span says how it ended: stopped by the limit, exit 3.
      const run = receiver.spans.find((s) => s.name === "run")!;
      expect({ status: attr(run, "sa.status"), exit: attr(run, "sa.exit_code"), live: attr(run, "sa.live_calls") }).toEqual({ status: "limit", exit: 3, live: 5 });
      expect((run as { status?: { code?: number; message?: string } }).status).toEqual({ code: 2, message: "max-requests 6 reached" });
    } finally {
      cleanup();
      receiver.stop();
      await own.stop();
    }
  });

  test("a second Ctrl-C exits at once and still sends the run and service spans, so no call span is left without its parents", async () => {
    const receiver = startReceiver();
    const own = startTestServer({ latencyMs: 1500 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet", "--concurrency", "2"], {
        cwd: dir,
        baseURL: own.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      // Two answers in (their spans leave with the next batch), two calls in flight.
      while (own.answered < 2 || own.requests.length < 4) await Bun.sleep(20);
      proc.kill("SIGINT");
      await Bun.sleep(200);
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(130);
      const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
      const runs = receiver.spans.filter((s) => s.name === "run");
      expect(runs).toHaveLength(1);
      expect(JSON.stringify(runs[0])).toContain("a second signal stopped the run at once");
      expect(receiver.spans.filter((s) => s.name.startsWith("chat ")).length).toBeGreaterThanOrEqual(2);
      expect(receiver.spans.filter((s) => s.parentSpanId && !byId.has(s.parentSpanId)).map((s) => s.name)).toEqual([]);
    } finally {
      cleanup();
      receiver.stop();
      await own.stop();
    }
  });

  test("a collector that cannot be reached is one warning saying why; the run's results stand (exit 0)", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], {
        cwd: dir,
        baseURL: server.url,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TIMEOUT: "500" },
      });
      expect(result.code).toBe(0);
      const warnings = result.stderr.split("\n").filter((l) => l.includes("tracing"));
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^⚠ tracing: could not export spans \\(.*ECONNREFUSED.*${port}.*\\)$`))]);
    } finally {
      cleanup();
    }
  });

  test("--log-prompts puts prompts and answers on call spans", async () => {
    const receiver = startReceiver();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet", "--log-prompts", "--model", "synthetic:demo"], {
        cwd: dir,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
      });
      const call = receiver.spans.find((s) => s.name === "chat demo")!;
      expect(String(attr(call, "gen_ai.input.messages"))).toContain("Situational context");
      expect(attr(call, "gen_ai.output.messages")).toBeDefined();
    } finally {
      cleanup();
      receiver.stop();
    }
  });

  test("without OTEL_EXPORTER_OTLP_ENDPOINT no OpenTelemetry module is imported", async () => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("OTEL_")) env[k] = v;
    const proc = Bun.spawn(["bun", join(root, "test/support/otel-free-run.ts")], { env, stdout: "pipe", stderr: "pipe" });
    const out = JSON.parse(await new Response(proc.stdout).text());
    expect(await proc.exited).toBe(0);
    expect(out).toEqual({ status: "ok", tracing: false, loaded: [] });
  });
});
