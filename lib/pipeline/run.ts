import { droppedKeyWarner, parseService } from "../schema/service.ts";
import { runRecords, type RunContext, type RunOptions, type RunSummary } from "./engine.ts";
import { inputFingerprint, promptsDigest } from "../fingerprint.ts";
import { catalogueHash } from "./evolution.ts";
import { projectService } from "./service.ts";

export type { RunOptions, RunSummary, RunStatus } from "./engine.ts";

/** `run`: services in, evolutions out; services already complete in the output are skipped. */
export function runServices(rt: RunContext, options: RunOptions): Promise<RunSummary> {
  const warnDropped = droppedKeyWarner((m) => rt.log.warn(m), `input ${options.input}`);
  const meta = { runId: rt.runId, seed: rt.config.seed, created: rt.startedAt, catalogueHash: catalogueHash(rt.data.catalogues) };
  const prompts = promptsDigest(rt.pipeline.domain);
  return runRecords(rt, options, {
    task: "run",
    resume: true,
    callsPerService: {
      descriptions: 1,
      features: rt.data.plateaus.length,
      mapping: rt.data.plateaus.length * rt.data.catalogues.filter((c) => c.items.length > 0).length,
    },
    parse(value) {
      const parsed = parseService(value);
      if (!parsed.ok) return parsed;
      warnDropped(parsed.dropped);
      return { ok: true, item: parsed.service, serviceId: parsed.service.service_id };
    },
    fingerprint: (value) => inputFingerprint({ service: value, catalogueHash: meta.catalogueHash, prompts, config: rt.config }),
    process: (service, position) => projectService(rt.pipeline, service, position, meta),
  });
}
