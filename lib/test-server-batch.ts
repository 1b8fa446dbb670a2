import { z } from "zod";
import type { ChatBody } from "./test-server.ts";

/** How the emulated Batch API behaves. */
export interface BatchServerOptions {
  /** Milliseconds from creation to `completed` (validating → in_progress → finalizing on the way). @default 300 */
  completionMs?: number;
  /** The batch number `n` (1-based) ends `failed` (at validation) or `expired` (half its requests answered). */
  batchFate?: (n: number) => "failed" | "expired" | undefined;
  /** An error for one request line instead of its answer; `attempt` counts the batches that held this custom_id. */
  requestError?: (customId: string, attempt: number) => { status: number; message: string } | undefined;
}

/** What the emulator saw, for tests to count. */
export interface BatchServerState {
  uploads: number;
  creations: number;
  batches: EmulatedBatch[];
}

interface EmulatedBatch {
  id: string;
  n: number;
  /** The custom_ids of its request lines. */
  customIds: string[];
  inputFileId: string;
  createdAt: number;
  cancelledAt?: number;
  window: string;
  metadata: unknown;
  /** Files written once the batch finished. */
  result?: { status: string; outputFileId: string | null; errorFileId: string | null; completed: number; failed: number; error?: string };
}

const lineSchema = z.object({ custom_id: z.string(), method: z.literal("POST"), url: z.string(), body: z.record(z.string(), z.unknown()) });
const createSchema = z.object({ input_file_id: z.string(), endpoint: z.literal("/v1/chat/completions"), completion_window: z.string(), metadata: z.unknown().optional() });

const json = (status: number, data: unknown) => new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });
const notFound = (what: string) => json(404, { error: { message: `no such ${what}` } });

interface Emulator {
  options: BatchServerOptions;
  answer: (body: ChatBody) => unknown;
  files: Map<string, { content: string; filename: string; purpose: string }>;
  state: BatchServerState;
  /** Batches that held each custom_id so far. */
  attempts: Map<string, number>;
  completionMs: number;
}

function addFile(em: Emulator, content: string, filename: string, purpose: string): string {
  const id = `file-${em.files.size + 1}`;
  em.files.set(id, { content, filename, purpose });
  return id;
}

const inputLines = (em: Emulator, fileId: string) =>
  em.files.get(fileId)!.content.split("\n").filter((l) => l.trim()).map((l) => lineSchema.parse(JSON.parse(l)));

/** One request line's result: an error line (expired, cancelled, injected) or the chat endpoint's answer. */
function resultLine(em: Emulator, line: z.infer<typeof lineSchema>, id: string, unanswered?: string): { error: boolean; text: string } {
  const attempt = (em.attempts.get(line.custom_id) ?? 0) + 1;
  em.attempts.set(line.custom_id, attempt);
  if (unanswered) return { error: true, text: JSON.stringify({ id, custom_id: line.custom_id, response: null, error: { code: `batch_${unanswered}`, message: `This request could not be executed before the batch was ${unanswered}.` } }) };
  const fault = em.options.requestError?.(line.custom_id, attempt);
  const response = fault
    ? { status_code: fault.status, request_id: `req_${id}`, body: { error: { message: fault.message, type: "test_fault" } } }
    : { status_code: 200, request_id: `req_${id}`, body: em.answer(line.body as unknown as ChatBody) };
  return { error: Boolean(fault), text: JSON.stringify({ id, custom_id: line.custom_id, response, error: null }) };
}

/** Answers every line once the batch's time is up; an expired or cancelled batch answers only its first half. */
function finish(em: Emulator, batch: EmulatedBatch, status: "completed" | "expired" | "cancelled"): void {
  const lines = inputLines(em, batch.inputFileId);
  const results = lines.map((line, i) => resultLine(em, line, `batch_req_${batch.n}_${i + 1}`, status !== "completed" && i >= Math.floor(lines.length / 2) ? status : undefined));
  const file = (rows: string[], kind: string) => (rows.length ? addFile(em, `${rows.join("\n")}\n`, `${batch.id}_${kind}.jsonl`, `batch_${kind}`) : null);
  const out = results.filter((r) => !r.error).map((r) => r.text);
  const errors = results.filter((r) => r.error).map((r) => r.text);
  batch.result = { status, outputFileId: file(out, "output"), errorFileId: file(errors, "error"), completed: out.length, failed: errors.length };
}

/** The batch as the API shows it now: its status follows the time since its creation. */
function view(em: Emulator, batch: EmulatedBatch) {
  const total = batch.customIds.length;
  const elapsed = Date.now() - batch.createdAt;
  const fate = em.options.batchFate?.(batch.n);
  if (!batch.result && fate === "failed" && elapsed >= em.completionMs * 0.1) batch.result = { status: "failed", outputFileId: null, errorFileId: null, completed: 0, failed: 0, error: "injected validation failure" };
  if (!batch.result && batch.cancelledAt !== undefined) finish(em, batch, "cancelled");
  if (!batch.result && elapsed >= em.completionMs) finish(em, batch, fate === "expired" ? "expired" : "completed");
  const r = batch.result;
  const share = elapsed / em.completionMs;
  const status = r ? r.status : share < 0.1 ? "validating" : share < 0.8 ? "in_progress" : "finalizing";
  const progress = r ? r.completed : status === "in_progress" ? Math.floor((total * (share - 0.1)) / 0.7) : status === "finalizing" ? total : 0;
  return {
    id: batch.id, object: "batch", endpoint: "/v1/chat/completions", input_file_id: batch.inputFileId, completion_window: batch.window, status,
    output_file_id: r?.outputFileId ?? null, error_file_id: r?.errorFileId ?? null, created_at: Math.floor(batch.createdAt / 1000),
    request_counts: { total, completed: Math.min(total, progress), failed: r?.failed ?? 0 },
    errors: r?.error ? { object: "list", data: [{ code: "invalid_request", message: r.error }] } : null, metadata: batch.metadata ?? null,
  };
}

/** POST /files (multipart, purpose batch), GET /files/ID and /files/ID/content. */
async function handleFiles(em: Emulator, req: Request, path: string): Promise<Response | undefined> {
  if (req.method === "POST" && path === "/files") {
    const form = await req.formData();
    const file = form.get("file");
    if (form.get("purpose") !== "batch" || !(file instanceof Blob)) return json(400, { error: { message: "expected purpose=batch and a file" } });
    em.state.uploads++;
    const content = await file.text();
    const filename = (file as File).name ?? "upload.jsonl";
    const id = addFile(em, content, filename, "batch");
    return json(200, { id, object: "file", bytes: content.length, created_at: Math.floor(Date.now() / 1000), filename, purpose: "batch" });
  }
  const match = /^\/files\/([^/]+)(\/content)?$/.exec(path);
  if (req.method !== "GET" || !match) return undefined;
  const file = em.files.get(decodeURIComponent(match[1]!));
  if (!file) return notFound("file");
  if (match[2]) return new Response(file.content, { headers: { "content-type": "application/octet-stream" } });
  return json(200, { id: match[1], object: "file", bytes: file.content.length, filename: file.filename, purpose: file.purpose });
}

/** POST /batches, GET /batches (list), GET /batches/ID, POST /batches/ID/cancel. */
async function handleBatches(em: Emulator, req: Request, path: string): Promise<Response | undefined> {
  if (path === "/batches" && req.method === "POST") {
    const parsed = createSchema.safeParse(await req.json());
    if (!parsed.success || !em.files.has(parsed.data.input_file_id)) return json(400, { error: { message: "bad batch request" } });
    const n = ++em.state.creations;
    const customIds = inputLines(em, parsed.data.input_file_id).map((l) => l.custom_id);
    const batch: EmulatedBatch = { id: `batch_${n}`, n, customIds, inputFileId: parsed.data.input_file_id, createdAt: Date.now(), window: parsed.data.completion_window, metadata: parsed.data.metadata };
    em.state.batches.push(batch);
    return json(200, view(em, batch));
  }
  if (path === "/batches" && req.method === "GET") return json(200, { object: "list", data: [...em.state.batches].reverse().map((b) => view(em, b)), has_more: false });
  const match = /^\/batches\/([^/]+)(\/cancel)?$/.exec(path);
  if (!match) return undefined;
  const batch = em.state.batches.find((b) => b.id === decodeURIComponent(match[1]!));
  if (!batch) return notFound("batch");
  if (match[2] && req.method === "POST") {
    batch.cancelledAt ??= Date.now();
    return json(200, { ...view(em, batch), status: batch.result?.status === "cancelled" ? "cancelled" : "cancelling" });
  }
  return req.method === "GET" ? json(200, view(em, batch)) : undefined;
}

/**
 * `/v1/files` and `/v1/batches` as the OpenAI API serves them, for tests: uploads, batches that
 * move through their statuses on a timer, and output and error files in which each request line
 * is answered as its chat endpoint would answer it (`answer`).
 */
export function createBatchEmulator(options: BatchServerOptions, answer: (body: ChatBody) => unknown) {
  const em: Emulator = { options, answer, files: new Map(), state: { uploads: 0, creations: 0, batches: [] }, attempts: new Map(), completionMs: options.completionMs ?? 300 };
  return {
    state: em.state,
    /** The answer to a `/files` or `/batches` request (`path` without `/v1`), or undefined when it is neither. */
    handle: async (req: Request, path: string) => (await handleFiles(em, req, path)) ?? handleBatches(em, req, path),
  };
}
