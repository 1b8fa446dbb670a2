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

/**
 * `/v1/files` and `/v1/batches` as the OpenAI API serves them, for tests: uploads, batches that
 * move through their statuses on a timer, and output and error files in which each request line
 * is answered as its chat endpoint would answer it (`answer`).
 */
export function createBatchEmulator(options: BatchServerOptions, answer: (body: ChatBody) => unknown) {
  const files = new Map<string, { content: string; filename: string; purpose: string; createdAt: number }>();
  const state: BatchServerState = { uploads: 0, creations: 0, batches: [] };
  const attempts = new Map<string, number>();
  const completionMs = options.completionMs ?? 300;
  const addFile = (content: string, filename: string, purpose: string) => {
    const id = `file-${files.size + 1}`;
    files.set(id, { content, filename, purpose, createdAt: Date.now() });
    return id;
  };

  /** Answers every line once the batch's time is up (or its fate says otherwise). */
  function finish(batch: EmulatedBatch, status: "completed" | "expired" | "cancelled") {
    const lines = files.get(batch.inputFileId)!.content.split("\n").filter((l) => l.trim()).map((l) => lineSchema.parse(JSON.parse(l)));
    const out: string[] = [];
    const errors: string[] = [];
    lines.forEach((line, i) => {
      const attempt = (attempts.get(line.custom_id) ?? 0) + 1;
      attempts.set(line.custom_id, attempt);
      const id = `batch_req_${batch.n}_${i + 1}`;
      if (status !== "completed" && i >= Math.floor(lines.length / 2)) return errors.push(JSON.stringify({ id, custom_id: line.custom_id, response: null, error: { code: `batch_${status}`, message: `This request could not be executed before the batch was ${status}.` } }));
      const fault = options.requestError?.(line.custom_id, attempt);
      if (fault) return errors.push(JSON.stringify({ id, custom_id: line.custom_id, response: { status_code: fault.status, request_id: `req_${id}`, body: { error: { message: fault.message, type: "test_fault" } } }, error: null }));
      out.push(JSON.stringify({ id, custom_id: line.custom_id, response: { status_code: 200, request_id: `req_${id}`, body: answer(line.body as unknown as ChatBody) }, error: null }));
    });
    const file = (rows: string[], kind: string) => (rows.length ? addFile(`${rows.join("\n")}\n`, `${batch.id}_${kind}.jsonl`, `batch_${kind}`) : null);
    batch.result = { status, outputFileId: file(out, "output"), errorFileId: file(errors, "error"), completed: out.length, failed: errors.length };
  }

  function view(batch: EmulatedBatch) {
    const total = files.get(batch.inputFileId)!.content.split("\n").filter((l) => l.trim()).length;
    const elapsed = Date.now() - batch.createdAt;
    const fate = options.batchFate?.(batch.n);
    if (!batch.result && fate === "failed" && elapsed >= completionMs * 0.1) batch.result = { status: "failed", outputFileId: null, errorFileId: null, completed: 0, failed: 0, error: "injected validation failure" };
    if (!batch.result && batch.cancelledAt !== undefined) finish(batch, "cancelled");
    if (!batch.result && elapsed >= completionMs) finish(batch, fate === "expired" ? "expired" : "completed");
    const r = batch.result;
    const status = r ? r.status : elapsed < completionMs * 0.1 ? "validating" : elapsed < completionMs * 0.8 ? "in_progress" : "finalizing";
    const progress = r ? r.completed : status === "in_progress" ? Math.floor((total * (elapsed / completionMs - 0.1)) / 0.7) : status === "finalizing" ? total : 0;
    return {
      id: batch.id, object: "batch", endpoint: "/v1/chat/completions", input_file_id: batch.inputFileId, completion_window: batch.window, status,
      output_file_id: r?.outputFileId ?? null, error_file_id: r?.errorFileId ?? null, created_at: Math.floor(batch.createdAt / 1000),
      request_counts: { total, completed: Math.min(total, progress), failed: r?.failed ?? 0 },
      errors: r?.error ? { object: "list", data: [{ code: "invalid_request", message: r.error }] } : null, metadata: batch.metadata ?? null,
    };
  }

  async function handle(req: Request, path: string): Promise<Response | undefined> {
    if (req.method === "POST" && path === "/files") {
      const form = await req.formData();
      const file = form.get("file");
      if (form.get("purpose") !== "batch" || !(file instanceof Blob)) return json(400, { error: { message: "expected purpose=batch and a file" } });
      state.uploads++;
      const content = await file.text();
      const id = addFile(content, (file as File).name ?? "upload.jsonl", "batch");
      return json(200, { id, object: "file", bytes: content.length, created_at: Math.floor(Date.now() / 1000), filename: (file as File).name, purpose: "batch" });
    }
    const fileMatch = /^\/files\/([^/]+)(\/content)?$/.exec(path);
    if (req.method === "GET" && fileMatch) {
      const file = files.get(decodeURIComponent(fileMatch[1]!));
      if (!file) return notFound("file");
      return fileMatch[2] ? new Response(file.content, { headers: { "content-type": "application/octet-stream" } }) : json(200, { id: fileMatch[1], object: "file", bytes: file.content.length, filename: file.filename, purpose: file.purpose });
    }
    if (path === "/batches" && req.method === "POST") {
      const parsed = createSchema.safeParse(await req.json());
      if (!parsed.success || !files.has(parsed.data.input_file_id)) return json(400, { error: { message: "bad batch request" } });
      state.creations++;
      const customIds = files.get(parsed.data.input_file_id)!.content.split("\n").filter((l) => l.trim()).map((l) => lineSchema.parse(JSON.parse(l)).custom_id);
      const batch: EmulatedBatch = { id: `batch_${state.creations}`, n: state.creations, customIds, inputFileId: parsed.data.input_file_id, createdAt: Date.now(), window: parsed.data.completion_window, metadata: parsed.data.metadata };
      state.batches.push(batch);
      return json(200, view(batch));
    }
    if (path === "/batches" && req.method === "GET") return json(200, { object: "list", data: [...state.batches].reverse().map(view), has_more: false });
    const batchMatch = /^\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    const batch = batchMatch ? state.batches.find((b) => b.id === decodeURIComponent(batchMatch[1]!)) : undefined;
    if (batchMatch && !batch) return notFound("batch");
    if (batch && batchMatch?.[2] && req.method === "POST") {
      batch.cancelledAt ??= Date.now();
      return json(200, { ...view(batch), status: batch.result?.status === "cancelled" ? "cancelled" : "cancelling" });
    }
    if (batch && req.method === "GET") return json(200, view(batch));
    return undefined;
  }

  return { state, handle };
}
