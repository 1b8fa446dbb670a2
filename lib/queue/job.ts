import { z } from "zod";

/** What a queue job carries: one service as the input gave it, and what its answers must be made from. */
export const queueJobSchema = z.object({
  v: z.literal(1),
  serviceId: z.string().min(1),
  /** The service's input fingerprint (record, catalogues, prompts, answer-shaping config); the job id is made from it. */
  fingerprint: z.string().min(1),
  position: z.number().int().min(0),
  service: z.unknown(),
  /** The coordinator's hard budget for the run, shared by every worker (else the worker's own `budget.hardUsd`). */
  budgetUsd: z.number().positive().optional(),
  /** The coordinator's usage limits for the run (`--max-requests`, ...), shared by every worker like the budget. */
  limits: z.object({ maxRequests: z.number().int().positive().optional(), maxTokens: z.number().int().positive().optional(), maxInputTokens: z.number().int().positive().optional(), maxOutputTokens: z.number().int().positive().optional() }).optional(),
  meta: z.object({ runId: z.string(), seed: z.number().nullable(), created: z.string(), catalogueHash: z.string() }),
});
export type QueueJob = z.infer<typeof queueJobSchema>;
