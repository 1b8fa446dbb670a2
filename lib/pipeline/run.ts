import type { ServiceEvolution } from "../schema/evolution.ts";
import { droppedKeyWarner, normaliseService, parseService, type Service } from "../schema/service.ts";
import { runRecords, type RunContext, type RunOptions, type RunSummary } from "./engine.ts";
import { inputFingerprint, promptsDigest } from "../fingerprint.ts";
import { catalogueHash } from "../catalogue-hash.ts";
import type { EvolutionMeta } from "./evolution.ts";
import { projectService } from "./service.ts";
import { stageModels } from "../model-settings.ts";
import { pythonLineKey } from "../python-line.ts";

export type { RunOptions, RunSummary } from "./engine.ts";

/** One service to project: its record as the input gave it, its fingerprint, its place in the run. */
export interface ServiceWork {
  service: Service;
  value: unknown;
  fingerprint: string;
  position: number;
  meta: Omit<EvolutionMeta, "models">;
}

/** Projects one service: in this process by default, or elsewhere (a queue coordinator hands it to workers). */
export type ServiceDispatch = (work: ServiceWork) => Promise<ServiceEvolution>;

/** `run`: services in, evolutions out; services already complete in the output are skipped. */
export function runServices(rt: RunContext, options: RunOptions, dispatch?: ServiceDispatch): Promise<RunSummary> {
  const warnDropped = droppedKeyWarner((m) => rt.log.warn(m), `input ${options.input}`);
  const meta = { runId: rt.runId, seed: rt.config.seed, created: rt.startedAt, catalogueHash: catalogueHash(rt.data.catalogues) };
  const prompts = promptsDigest(rt.pipeline.domain);
  const fingerprint = (value: unknown) => inputFingerprint({ service: value, catalogueHash: meta.catalogueHash, prompts, config: rt.config });
  return runRecords(rt, options, {
    task: "run",
    resume: true,
    strictUtf8: true,
    callsPerService: {
      descriptions: 1,
      features: rt.data.plateaus.length,
      mapping: rt.data.plateaus.length * rt.data.catalogues.filter((c) => c.items.length > 0).length,
    },
    parse(value) {
      const parsed = parseService(value);
      if (!parsed.ok) return parsed;
      warnDropped(parsed.dropped);
      return { ok: true, item: { service: parsed.service, value }, serviceId: parsed.service.service_id };
    },
    fingerprint,
    pythonKey: (value) => pythonLineKey({ service: normaliseService(value).value, catalogueHash: meta.catalogueHash, mappingTypes: rt.data.catalogues.map((c) => c.field), models: stageModels(rt.config) }),
    process: ({ service, value }, position) =>
      dispatch ? dispatch({ service, value, fingerprint: fingerprint(value), position, meta }) : projectService(rt.pipeline, service, position, meta),
  });
}
