import { createHash } from "node:crypto";
import { fakeFromSchema } from "./fake-answer.ts";

/** What the server does with one request instead of answering normally. */
export type Fault =
  | { type: "429"; retryAfterMs?: number; retryAfter?: string; headers?: Record<string, string> }
  | { type: "500" }
  | { type: "503" }
  | { type: "400" }
  | { type: "401" }
  /** Never answers (the client's timeout must fire). */
  | { type: "hang" }
  /** Closes the connection without an answer. */
  | { type: "drop" }
  /** HTTP 200 and half a chat completion, then the connection is reset. */
  | { type: "reset" }
  /** HTTP 200 with a gateway's HTML page, an empty body, or JSON that is not a chat completion. */
  | { type: "html" }
  | { type: "empty" }
  | { type: "wrong-json" };

/** The 200 answers of a misbehaving gateway. */
function brokenAnswer(type: "reset" | "html" | "empty" | "wrong-json", requestId: string): Response {
  const headers = { "x-request-id": requestId };
  if (type === "html") return new Response("<!DOCTYPE html><html><body><h1>Gateway error</h1><p>upstream sent nothing</p></body></html>", { status: 200, headers: { ...headers, "content-type": "text/html" } });
  if (type === "empty") return new Response("", { status: 200, headers: { ...headers, "content-type": "application/json" } });
  if (type === "wrong-json") return Response.json({ status: "queued", detail: "try later" }, { status: 200, headers });
  // `error()` with no reason resets the connection in the middle of the body.
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"index":0,"mess'));
      setTimeout(() => controller.error(), 10);
    },
  });
  return new Response(body, { status: 200, headers: { ...headers, "content-type": "application/json" } });
}

export interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  response_format?: { json_schema?: { name?: string; schema?: Record<string, unknown> } };
  // Settings as sent; recorded so tests can check what each model was (and was not) sent.
  temperature?: number;
  top_p?: number;
  seed?: number;
  reasoning_effort?: string;
  max_completion_tokens?: number;
}

export interface TestServerOptions {
  /** Milliseconds before each answer. @default 0 */
  latencyMs?: number;
  /** A fault for request number `n` (1-based, counting every request that reached the server). */
  fault?: (n: number, body: ChatBody) => Fault | undefined;
  /** Declarative faults (for a server in another process): every Nth request gets a 500, every N+1th a 429. */
  faultEvery?: number;
  /** Server-side requests per minute, enforced over a sliding `windowMs`. */
  rpm?: number;
  /** Server-side tokens (prompt + completion) per minute, enforced over `windowMs`. */
  tpm?: number;
  /** @default 60000 */
  windowMs?: number;
  /** Usage reported per answer. @default derived from the text lengths */
  usage?: { prompt_tokens: number; completion_tokens: number; cached_tokens?: number; reasoning_tokens?: number };
  /** Replace the answer's JSON text (to test invalid answers). */
  answer?: (body: ChatBody, n: number) => string | undefined;
  models?: string[];
}

export interface RecordedRequest {
  n: number;
  at: number;
  body: ChatBody;
  status: number;
  authorization: string | null;
  /** Prompt + completion tokens reported, for answered requests. */
  tokens: number;
}

export interface TestServer {
  url: string;
  requests: RecordedRequest[];
  /** Chat requests answered with 200. */
  readonly answered: number;
  readonly rejected429: number;
  /** Most chat requests being answered at one time. */
  readonly maxInFlight: number;
  stop(): Promise<void>;
}

const approx = (text: string) => Math.ceil(text.length / 4);

/** An OpenAI-compatible server on 127.0.0.1 for tests and the benchmark. Answers fit the request's JSON schema. */
export function startTestServer(options: TestServerOptions = {}): TestServer {
  const requests: RecordedRequest[] = [];
  const window: Array<{ at: number; tokens: number }> = [];
  const windowMs = options.windowMs ?? 60_000;
  let answered = 0;
  let rejected429 = 0;
  let n = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const hung = new Set<() => void>();

  const json = (status: number, data: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json", ...headers } });

  const overLimit = (now: number, tokens: number): number | undefined => {
    while (window.length && window[0]!.at <= now - windowMs) window.shift();
    const scale = windowMs / 60_000;
    const used = window.reduce((s, w) => s + w.tokens, 0);
    const oldest = window[0]?.at ?? now;
    const wait = Math.max(1, oldest + windowMs - now);
    if (options.rpm && window.length + 1 > options.rpm * scale) return wait;
    if (options.tpm && used + tokens > options.tpm * scale) return wait;
    return undefined;
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname.endsWith("/models")) {
        return json(200, { object: "list", data: (options.models ?? ["gpt-4o-mini", "test-model"]).map((id) => ({ id, object: "model", owned_by: "test" })) });
      }
      if (url.pathname === "/__stats") return json(200, { requests: requests.length, answered, rejected429, maxInFlight });
      if (req.method !== "POST" || !url.pathname.endsWith("/chat/completions")) return json(404, { error: { message: "not found" } });
      const body = (await req.json()) as ChatBody;
      const number = ++n;
      const requestId = `req_test_${number}`;
      const record: RecordedRequest = { n: number, at: Date.now(), body, status: 200, authorization: req.headers.get("authorization"), tokens: 0 };
      requests.push(record);
      const every = options.faultEvery;
      const fault = options.fault?.(number, body) ?? (every ? (number % every === 0 ? { type: "500" as const } : number % (every + 1) === 0 ? { type: "429" as const, retryAfterMs: 100 } : undefined) : undefined);
      if (fault?.type === "drop") {
        record.status = 0;
        srv.timeout(req, 1);
        return new Promise<Response>(() => {});
      }
      if (fault?.type === "hang") {
        record.status = 0;
        return new Promise<Response>((resolve) => hung.add(() => resolve(json(500, { error: { message: "server stopped" } }))));
      }
      if (fault?.type === "reset" || fault?.type === "html" || fault?.type === "empty" || fault?.type === "wrong-json") return brokenAnswer(fault.type, requestId);
      if (fault) {
        const status = Number(fault.type);
        record.status = status;
        const headers: Record<string, string> = { "x-request-id": requestId };
        if (fault.type === "429") {
          rejected429++;
          if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
          if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
          Object.assign(headers, fault.headers);
        }
        return json(status, { error: { message: `injected ${fault.type}`, type: "test_fault" } }, headers);
      }
      const prompt = body.messages.map((m) => m.content).join("\n");
      const schema = body.response_format?.json_schema?.schema ?? { type: "object", properties: {} };
      const content = options.answer?.(body, number) ?? JSON.stringify(fakeFromSchema(schema, createHash("sha256").update(`${body.model}\n${prompt}`).digest("hex")));
      const usage = options.usage ?? { prompt_tokens: approx(prompt), completion_tokens: approx(content) };
      const tokens = usage.prompt_tokens + usage.completion_tokens;
      const wait = overLimit(Date.now(), tokens);
      if (wait !== undefined) {
        record.status = 429;
        rejected429++;
        return json(429, { error: { message: "rate limit exceeded", type: "requests" } }, { "x-request-id": requestId, "retry-after-ms": String(wait) });
      }
      window.push({ at: Date.now(), tokens });
      record.tokens = tokens;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        if (options.latencyMs) await Bun.sleep(options.latencyMs);
      } finally {
        inFlight--;
      }
      answered++;
      return json(
        200,
        {
          id: `chatcmpl-${number}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: body.model,
          choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content, refusal: null } }],
          usage: {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: tokens,
            prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
            completion_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
          },
        },
        { "x-request-id": requestId },
      );
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    get answered() {
      return answered;
    },
    get rejected429() {
      return rejected429;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async stop() {
      for (const release of hung) release();
      await server.stop(true);
    },
  };
}

/** `bun lib/test-server.ts '{"latencyMs":200}'` serves until killed and prints its URL: the benchmark's remote provider. */
if (import.meta.main) {
  const server = startTestServer(JSON.parse(process.argv[2] ?? "{}") as TestServerOptions);
  process.stdout.write(`${server.url}\n`);
  process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
}
