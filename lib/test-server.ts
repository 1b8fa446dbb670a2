import { createHash } from "node:crypto";
import { fakeFromSchema } from "./fake-answer.ts";
import { guessTokens } from "./token-guess.ts";
import { createBatchEmulator, type BatchServerOptions, type BatchServerState } from "./test-server-batch.ts";

/** What the server does with one request instead of answering normally. */
export type Fault =
  | { type: "429"; retryAfterMs?: number; retryAfter?: string; headers?: Record<string, string> }
  | { type: "500" }
  | { type: "503" }
  | { type: "400" }
  | { type: "401" }
  | { type: "403" }
  /** Never answers (the client's timeout must fire). */
  | { type: "hang" }
  /** Answers as usual, `ms` later than the others: one slow call, without a 429's pause of the endpoint. */
  | { type: "slow"; ms: number }
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
  /** Up to this many milliseconds more, at random, before each answer, so answers come back out of order. @default 0 */
  jitterMs?: number;
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
  /** The emulated `/v1/files` and `/v1/batches` (see `test-server-batch.ts`). */
  batch?: BatchServerOptions;
}

export interface RecordedRequest {
  n: number;
  at: number;
  body: ChatBody;
  status: number;
  authorization: string | null;
  /** Every request header, as sent (tests check which key reached which server). */
  headers: Record<string, string>;
  /** `chat` (/chat/completions) or `responses` (/responses). */
  api: "chat" | "responses";
  /** The body as sent; `body` is it in chat form (a Responses body's `input` as messages). */
  raw: unknown;
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
  /** Uploads, batch creations and the batches the emulated Batch API saw. */
  batch: BatchServerState;
  stop(): Promise<void>;
}


const json = (status: number, data: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json", ...headers } });

/** What the server counts as it goes. */
interface ServerState {
  requests: RecordedRequest[];
  answered: number;
  rejected429: number;
  n: number;
  inFlight: number;
  maxInFlight: number;
  /** Requests left hanging, released when the server stops. */
  hung: Set<() => void>;
}

/** The server-side RPM/TPM limit over a sliding window: how long to wait, or undefined when a request fits. */
function rateWindow(options: TestServerOptions) {
  const window: Array<{ at: number; tokens: number }> = [];
  const windowMs = options.windowMs ?? 60_000;
  const scale = windowMs / 60_000;
  return {
    overLimit(now: number, tokens: number): number | undefined {
      while (window.length && window[0]!.at <= now - windowMs) window.shift();
      const used = window.reduce((s, w) => s + w.tokens, 0);
      const wait = Math.max(1, (window[0]?.at ?? now) + windowMs - now);
      if (options.rpm && window.length + 1 > options.rpm * scale) return wait;
      if (options.tpm && used + tokens > options.tpm * scale) return wait;
      return undefined;
    },
    add: (at: number, tokens: number) => void window.push({ at, tokens }),
  };
}

/** The fault for request `n`: the test's own schedule, else `faultEvery`'s 500s and 429s. */
function faultFor(options: TestServerOptions, n: number, body: ChatBody): Fault | undefined {
  const scheduled = options.fault?.(n, body);
  if (scheduled) return scheduled;
  const every = options.faultEvery;
  if (!every) return undefined;
  if (n % every === 0) return { type: "500" };
  return n % (every + 1) === 0 ? { type: "429", retryAfterMs: 100 } : undefined;
}

/** The response to a faulty request: nothing, a broken 200, or an error status with its headers. */
function faultResponse(fault: Fault, call: { state: ServerState; record: RecordedRequest; requestId: string; drop: () => void }): Response | Promise<Response> {
  const { state, record, requestId } = call;
  if (fault.type === "drop") {
    record.status = 0;
    call.drop();
    return new Promise<Response>(() => {});
  }
  if (fault.type === "hang") {
    record.status = 0;
    return new Promise<Response>((resolve) => state.hung.add(() => resolve(json(500, { error: { message: "server stopped" } }))));
  }
  if (fault.type === "reset" || fault.type === "html" || fault.type === "empty" || fault.type === "wrong-json") return brokenAnswer(fault.type, requestId);
  record.status = Number(fault.type);
  const headers: Record<string, string> = { "x-request-id": requestId };
  if (fault.type === "429") {
    state.rejected429++;
    if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
    if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
    Object.assign(headers, fault.headers);
  }
  return json(record.status, { error: { message: `injected ${fault.type}`, type: "test_fault" } }, headers);
}

type Usage = NonNullable<TestServerOptions["usage"]>;

/** A Responses API request (`POST /responses`), as far as the server reads it. */
interface ResponsesBody {
  model: string;
  input: Array<{ role: string; content: string }>;
  text?: { format?: { name?: string; schema?: Record<string, unknown> } };
  temperature?: number;
  reasoning?: { effort?: string };
  max_output_tokens?: number;
}

/** A Responses body in chat form, so faults, answers and recorded settings work the same for both APIs. */
const asChatBody = (raw: ResponsesBody): ChatBody => ({
  model: raw.model,
  messages: raw.input,
  response_format: { json_schema: { name: raw.text?.format?.name, schema: raw.text?.format?.schema } },
  temperature: raw.temperature,
  reasoning_effort: raw.reasoning?.effort,
  max_completion_tokens: raw.max_output_tokens,
});

/** A Responses API answer: one message with the JSON text, and its usage. */
const responsesAnswer = (body: ChatBody, n: number, content: string, usage: Usage) => ({
  id: `resp_${n}`,
  object: "response",
  created_at: Math.floor(Date.now() / 1000),
  status: "completed",
  model: body.model,
  output: [{ type: "message", id: `msg_${n}`, status: "completed", role: "assistant", content: [{ type: "output_text", text: content, annotations: [] }] }],
  usage: {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
  },
});

/** A chat completion carrying `content`, as the OpenAI API shapes it. */
const completion = (body: ChatBody, n: number, content: string, usage: Usage) => ({
  id: `chatcmpl-${n}`,
  object: "chat.completion",
  created: Math.floor(Date.now() / 1000),
  model: body.model,
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content, refusal: null } }],
  usage: {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
  },
});

/** The answer's text: the test's own, else a schema-valid answer that depends only on the model and prompt. */
function answerText(options: TestServerOptions, body: ChatBody, n: number): { prompt: string; content: string } {
  const prompt = body.messages.map((m) => m.content).join("\n");
  const schema = body.response_format?.json_schema?.schema ?? { type: "object", properties: {} };
  const seed = createHash("sha256").update(`${body.model}\n${prompt}`).digest("hex");
  return { prompt, content: options.answer?.(body, n) ?? JSON.stringify(fakeFromSchema(schema, seed)) };
}

/** A well-formed request: answered after the latency, or a 429 when the server-side limit is reached. */
async function answerChat(call: { options: TestServerOptions; state: ServerState; limit: ReturnType<typeof rateWindow>; body: ChatBody; record: RecordedRequest; requestId: string }): Promise<Response> {
  const { options, state, body, record, requestId } = call;
  const { prompt, content } = answerText(options, body, record.n);
  const usage = options.usage ?? { prompt_tokens: guessTokens(prompt), completion_tokens: guessTokens(content) };
  const tokens = usage.prompt_tokens + usage.completion_tokens;
  const wait = call.limit.overLimit(Date.now(), tokens);
  if (wait !== undefined) {
    record.status = 429;
    state.rejected429++;
    return json(429, { error: { message: "rate limit exceeded", type: "requests" } }, { "x-request-id": requestId, "retry-after-ms": String(wait) });
  }
  call.limit.add(Date.now(), tokens);
  record.tokens = tokens;
  state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight);
  try {
    const latency = (options.latencyMs ?? 0) + Math.random() * (options.jitterMs ?? 0);
    if (latency) await Bun.sleep(latency);
  } finally {
    state.inFlight--;
  }
  state.answered++;
  const answer = record.api === "responses" ? responsesAnswer : completion;
  return json(200, answer(body, record.n, content, usage), { "x-request-id": requestId });
}

/** What the benchmark reads: counts, tokens billed, and when the first and last requests arrived. */
function statsOf(state: ServerState) {
  const { requests } = state;
  const tokens = requests.reduce((sum, r) => sum + r.tokens, 0);
  return { requests: requests.length, answered: state.answered, rejected429: state.rejected429, maxInFlight: state.maxInFlight, tokens, firstAt: requests[0]?.at ?? null, lastAt: requests.at(-1)?.at ?? null };
}

/** A batch request line answered as the chat endpoint would answer it (faults and limits aside). */
function batchLineAnswer(options: TestServerOptions) {
  let n = 0;
  return (body: ChatBody) => {
    const { prompt, content } = answerText(options, body, ++n);
    return completion(body, n, content, options.usage ?? { prompt_tokens: guessTokens(prompt), completion_tokens: guessTokens(content) });
  };
}

type HandlerContext = { options: TestServerOptions; state: ServerState; limit: ReturnType<typeof rateWindow>; batches: ReturnType<typeof createBatchEmulator> };

/** Routes one request: the model list, the stats, the Batch API, or a chat completion or Responses call (faulty or answered). */
async function handle(req: Request, srv: Bun.Server<undefined>, ctx: HandlerContext): Promise<Response> {
  const { options, state } = ctx;
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname.endsWith("/models")) {
    return json(200, { object: "list", data: (options.models ?? ["gpt-4o-mini", "test-model"]).map((id) => ({ id, object: "model", owned_by: "test" })) });
  }
  if (url.pathname === "/__stats") return json(200, { ...statsOf(state), batch: ctx.batches.state });
  const batchAnswer = /^\/v1\/(files|batches)/.test(url.pathname) ? await ctx.batches.handle(req, url.pathname.slice(3)) : undefined;
  if (batchAnswer) return batchAnswer;
  const api = url.pathname.endsWith("/chat/completions") ? "chat" : url.pathname.endsWith("/responses") ? "responses" : undefined;
  if (req.method !== "POST" || !api) return json(404, { error: { message: "not found" } });
  const raw = (await req.json()) as ChatBody & ResponsesBody;
  const body = api === "chat" ? raw : asChatBody(raw);
  const n = ++state.n;
  const requestId = `req_test_${n}`;
  const headers = Object.fromEntries(req.headers);
  const record: RecordedRequest = { n, at: Date.now(), body, status: 200, authorization: req.headers.get("authorization"), headers, api, raw, tokens: 0 };
  state.requests.push(record);
  const fault = faultFor(options, n, body);
  if (fault?.type === "slow") await Bun.sleep(fault.ms);
  else if (fault) return faultResponse(fault, { state, record, requestId, drop: () => srv.timeout(req, 1) });
  return answerChat({ ...ctx, body, record, requestId });
}

/** An OpenAI-compatible server on 127.0.0.1 for tests and the benchmark. Answers fit the request's JSON schema. */
export function startTestServer(options: TestServerOptions = {}): TestServer {
  const state: ServerState = { requests: [], answered: 0, rejected429: 0, n: 0, inFlight: 0, maxInFlight: 0, hung: new Set() };
  const ctx: HandlerContext = { options, state, limit: rateWindow(options), batches: createBatchEmulator(options.batch ?? {}, batchLineAnswer(options)) };
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: (req, srv) => handle(req, srv, ctx) });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests: state.requests,
    get answered() {
      return state.answered;
    },
    get rejected429() {
      return state.rejected429;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    batch: ctx.batches.state,
    async stop() {
      for (const release of state.hung) release();
      await server.stop(true);
    },
  };
}

/**
 * `bun lib/test-server.ts '{"latencyMs":200}'` serves until SIGTERM and prints its URL, as the
 * brief and acceptance runs start it (bench/server.ts starts it the same way for the benchmark).
 * It writes through lib/stdout.ts, and on SIGTERM it stops serving and the process ends by itself.
 */
if (import.meta.main) {
  const { writeStdout } = await import("./stdout.ts");
  const server = startTestServer(JSON.parse(process.argv[2] ?? "{}") as TestServerOptions);
  void writeStdout(`${server.url}\n`);
  process.on("SIGTERM", () => void server.stop());
}
