import type { Runtime } from "../runtime.ts";
import { serviceSchema } from "../schema/service.ts";
import { formatIssues } from "../zod-error.ts";
import { runRecords, type RunOptions, type RunSummary } from "./engine.ts";
import { catalogueHash } from "./evolution.ts";
import { projectService } from "./service.ts";

export type { RunOptions, RunSummary, RunStatus } from "./engine.ts";

/** `run`: services in, evolutions out; services already complete in the output are skipped. */
export function runServices(rt: Runtime, options: RunOptions): Promise<RunSummary> {
  const meta = { runId: rt.runId, seed: rt.config.seed, created: rt.startedAt, catalogueHash: catalogueHash(rt.data.catalogues) };
  return runRecords(rt, options, {
    task: "run",
    resume: true,
    callsPerService: {
      descriptions: 1,
      features: rt.data.plateaus.length,
      mapping: rt.data.plateaus.length * rt.data.catalogues.length,
    },
    parse(value) {
      const parsed = serviceSchema.safeParse(value);
      return parsed.success ? { ok: true, item: parsed.data, serviceId: parsed.data.service_id } : { ok: false, reason: formatIssues(parsed.error) };
    },
    process: (service, position) => projectService(rt.pipeline, service, position, meta),
  });
}
