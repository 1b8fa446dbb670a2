import type { AnswerSource } from "../call-spec.ts";
import type { Service } from "../schema/service.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import type { PipelineContext } from "./context.ts";
import { describeService } from "./descriptions.ts";
import type { EvolutionMeta, PlateauParts } from "./evolution.ts";
import { createGaps } from "./gaps.ts";
import { provenance } from "./provenance.ts";

/**
 * The steps after the descriptions call (features, mapping, the evolution's assembly) load once
 * the first request is on its way, while its answer is awaited: the first request never waits
 * for their modules.
 */
let laterSteps: Promise<[typeof import("./features.ts"), typeof import("./mapping.ts"), typeof import("./evolution.ts")]> | undefined;
const loadLaterSteps = () =>
  (laterSteps ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => Promise.all([import("./features.ts"), import("./mapping.ts"), import("./evolution.ts")])));

/**
 * Calls that unlock the most work go first: a descriptions call unlocks 20 more, a features call
 * 3, a mapping call none. Keeping the longest remaining chains moving keeps every slot busy to
 * the end of a run (measured by `bench`); within a stage, earlier services go first.
 */
export function stagePriority(stage: "descriptions" | "features" | "mapping", order: number): number {
  const weight = { descriptions: 2, features: 1, mapping: 0 }[stage];
  return weight * 1e9 - order;
}

/** Records which model answered each stage (more than one after a fallback), and where each answer came from. */
export function answerSet() {
  const models: Record<string, Set<string>> = {};
  const sources: AnswerSource[] = [];
  return {
    add(stage: string, answer: { model: string; source?: AnswerSource }) {
      if (answer.model) (models[stage] ??= new Set()).add(answer.model);
      if (answer.source) sources.push(answer.source);
    },
    sources,
    /** `meta.models`' stage entries: each stage's models, sorted and comma-joined. */
    toJSON: (): Record<string, string> => Object.fromEntries(Object.entries(models).map(([k, v]) => [k, [...v].sort().join(",")])),
  };
}

export type AnswerSet = ReturnType<typeof answerSet>;

/**
 * Like Promise.all, but waits for every branch to settle before it rejects, so a service is only
 * over when none of its calls is still running (a graceful stop then loses no finished answer).
 */
export async function allSettled<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** A plateau with no description, features or mappings: a part of a service whose descriptions stayed invalid. */
const emptyPlateau = (ctx: PipelineContext, plateau: { level: number; name: string }): PlateauParts => ({
  level: plateau.level,
  name: plateau.name,
  description: "",
  features: [],
  mappings: Object.fromEntries(ctx.data.catalogues.map((c) => [c.field, new Map()])),
});

/**
 * The pipeline for one service: descriptions → features per plateau → mapping per plateau and
 * catalogue. Each call starts as soon as its own inputs exist: a plateau's mapping waits only for
 * that plateau's features, never for the other plateaus. A call whose answer stays invalid leaves
 * its part empty and named in the line (lib/pipeline/gaps.ts); any other failure fails the service.
 */
export async function projectService(ctx: PipelineContext, service: Service, order: number, meta: Omit<EvolutionMeta, "models">): Promise<ServiceEvolution> {
  const answers = answerSet();
  const gaps = createGaps(ctx.log, service.service_id);
  const later = loadLaterSteps();
  const described = await gaps.fill("descriptions", describeService(ctx, service, stagePriority("descriptions", order)), () => ({ descriptions: new Map<string, string>(), model: "" }));
  const [{ generateFeatures }, { mapFeatures }, { buildEvolution }] = await later;
  answers.add("descriptions", described);
  // Descriptions left empty: features asked on an empty description would be paid for, then
  // thrown away by the rerun, whose description changes every later prompt. The plateaus stay empty.
  const unasked = described.descriptions.size === 0;
  const plateaus = await allSettled(
    ctx.data.plateaus.map(async (plateau): Promise<PlateauParts> => {
      if (unasked) return emptyPlateau(ctx, plateau);
      const description = described.descriptions.get(plateau.name) ?? "";
      const features = generateFeatures(ctx, service, plateau, description, stagePriority("features", order));
      const generated = await gaps.fill(`features ${plateau.name}`, features, () => ({ features: [], model: "" }));
      if (generated.missingRoles) gaps.short(`features ${plateau.name}`, `no features for ${generated.missingRoles.map((r) => `role "${r}"`).join(", ")}`);
      answers.add("features", generated);
      const mapped = await allSettled(
        ctx.data.catalogues.map(async (catalogue) => {
          const mapping = mapFeatures(ctx, {
            serviceId: service.service_id,
            serviceName: service.name,
            serviceDescription: description,
            plateau,
            features: generated.features,
            catalogue,
            priority: stagePriority("mapping", order),
          });
          const result = await gaps.fill(`mapping ${plateau.name} ${catalogue.field}`, mapping, () => ({ mappings: new Map(), model: "" }));
          answers.add("mapping", result);
          return [catalogue.field, result.mappings] as const;
        }),
      );
      return { level: plateau.level, name: plateau.name, description, features: generated.features, mappings: Object.fromEntries(mapped) };
    }),
  );
  const lineMeta = { ...meta, ...provenance(meta, answers.sources), models: { ...answers.toJSON(), ...gaps.meta() } };
  return buildEvolution({ service, meta: lineMeta, plateaus, roles: ctx.data.roles, catalogues: ctx.data.catalogues });
}
