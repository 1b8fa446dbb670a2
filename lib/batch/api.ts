import { ofetch, type $Fetch } from "ofetch";
import { openaiApiKey } from "../../providers/openai.ts";
import { z } from "zod";
import { SAError } from "../errors.ts";
import { plainRetryDelay, refuseLongWaits, requestIdOf } from "../http.ts";
import { retryStatusCodes } from "../retry-status.ts";
import { redact } from "../redact.ts";

/** A batch as the OpenAI Batch API describes it (the fields we read). */
export const remoteBatchSchema = z.looseObject({
  id: z.string(),
  status: z.enum(["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"]),
  input_file_id: z.string(),
  output_file_id: z.string().nullish(),
  error_file_id: z.string().nullish(),
  created_at: z.number(),
  request_counts: z.object({ total: z.number(), completed: z.number(), failed: z.number() }).nullish(),
  errors: z.looseObject({ data: z.array(z.looseObject({ message: z.string().nullish() })).nullish() }).nullish(),
});
export type RemoteBatch = z.infer<typeof remoteBatchSchema>;

/** Terminal statuses: nothing more will change. */
export const finishedStatuses = new Set<RemoteBatch["status"]>(["failed", "completed", "expired", "cancelled"]);

export interface BatchApi {
  upload(jsonl: string, filename: string): Promise<string>;
  create(inputFileId: string, completionWindow: string, metadata: Record<string, string>): Promise<RemoteBatch>;
  retrieve(id: string): Promise<RemoteBatch>;
  cancel(id: string): Promise<RemoteBatch>;
  list(limit?: number): Promise<RemoteBatch[]>;
  content(fileId: string): Promise<string>;
}

export interface BatchApiOptions {
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  retry: { attempts: number; baseMs: number; capMs: number; maxWaitMs?: number };
  requestTimeout: number;
}

const parse = (what: string, data: unknown): RemoteBatch => {
  const parsed = remoteBatchSchema.safeParse(data);
  if (!parsed.success) throw new SAError("E_PROVIDER", `batch API: ${what} answered with something that is not a batch`);
  return parsed.data;
};

/** What an ofetch error says: the status, the provider's words and the request id; else its own message. */
function failureOf(error: unknown): string {
  const { status, data, response } = error as { status?: number; data?: { error?: { message?: unknown } }; response?: Response };
  if (!status) return (error as Error).message.split("\n")[0] ?? "error";
  const words = typeof data?.error?.message === "string" ? ` ${data.error.message}` : "";
  const id = requestIdOf(response?.headers);
  const requestId = id && redact(id);
  return `HTTP ${status}${words}${requestId ? ` (request id ${requestId})` : ""}`;
}

/**
 * The Files and Batches endpoints of an OpenAI-compatible API, over ofetch (which owns the
 * retries, as for chat calls). Key and base URL come from the environment, as for the openai provider.
 */
export function createBatchApi(options: BatchApiOptions): BatchApi {
  const apiKey = openaiApiKey(options.env);
  if (!apiKey) throw new SAError("E_USAGE", "OPENAI_API_KEY is not set, nor SA_OPENAI_API_KEY (needed for batch mode)");
  const baseURL = (options.env.OPENAI_BASE_URL || "https://api.openai.com/v1").replace(/\/+$/, "");
  const api: $Fetch = ofetch.create({
    baseURL,
    headers: { authorization: `Bearer ${apiKey}` },
    retry: options.retry.attempts - 1,
    retryStatusCodes,
    // The chat calls' waits: retry-after honoured, else backoff with jitter up to the cap.
    retryDelay: plainRetryDelay(options.retry),
    onResponseError: refuseLongWaits(options.retry),
    timeout: options.requestTimeout,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  } as Parameters<typeof ofetch.create>[0]);
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const status = (error as { status?: number }).status;
      throw new SAError(status === 401 ? "E_USAGE" : "E_PROVIDER", `batch API: ${what} failed (${redact(failureOf(error))})`, { cause: error, details: { status } });
    }
  };
  return {
    upload: (jsonl, filename) =>
      call("file upload", async () => {
        const form = new FormData();
        form.append("purpose", "batch");
        form.append("file", new Blob([jsonl], { type: "application/jsonl" }), filename);
        const file = await api<{ id: string }>("/files", { method: "POST", body: form });
        return file.id;
      }),
    create: (inputFileId, completionWindow, metadata) =>
      call("batch creation", async () => parse("create", await api("/batches", { method: "POST", body: { input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: completionWindow, metadata } }))),
    retrieve: (id) => call(`batch ${id}`, async () => parse("retrieve", await api(`/batches/${encodeURIComponent(id)}`))),
    cancel: (id) => call(`cancel of ${id}`, async () => parse("cancel", await api(`/batches/${encodeURIComponent(id)}/cancel`, { method: "POST" }))),
    list: (limit = 100) => call("batch list", async () => ((await api<{ data: unknown[] }>("/batches", { query: { limit } })).data ?? []).map((b) => parse("list", b))),
    content: (fileId) => call(`file ${fileId}`, () => api(`/files/${encodeURIComponent(fileId)}/content`, { responseType: "text" }) as Promise<string>),
  };
}
