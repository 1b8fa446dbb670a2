import type { Service } from "../schema/service.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import type { PipelineContext } from "./context.ts";
import { describeService } from "./descriptions.ts";
import { buildEvolution, type EvolutionMeta, type PlateauParts } from "./evolution.ts";
import { generateFeatures } from "./features.ts";
import { mapFeatures } from "./mapping.ts";

/** Records which model answered each stage (more than one after a fallback). */
function modelSet() {
  const models: Record<string, Set<string>> = {};
  return {
    add(stage: string, model: string) {
      if (model) (models[stage] ??= new Set()).add(model);
    },
    toJSON: () => Object.fromEntries(Object.entries(models).map(([k, v]) => [k, [...v].sort().join(",")])),
  };
}

/**
 * The pipeline for one service: descriptions → features per plateau → mapping per plateau and
 * set. Each call starts as soon as its own inputs exist: a plateau's mapping waits only for
 * that plateau's features, never for the other plateaus.
 */
export async function projectService(ctx: PipelineContext, service: Service, priority: number, meta: Omit<EvolutionMeta, "models">): Promise<ServiceEvolution> {
  const models = modelSet();
  const { descriptions, model } = await describeService(ctx, service, priority);
  models.add("descriptions", model);
  const plateaus = await Promise.all(
    ctx.data.plateaus.map(async (plateau): Promise<PlateauParts> => {
      const description = descriptions.get(plateau.name) ?? "";
      // Deeper stages of a service go first, so started services finish before new ones begin.
      const generated = await generateFeatures(ctx, service, plateau, description, priority + 1);
      models.add("features", generated.model);
      const mapped = await Promise.all(
        ctx.data.catalogues.map(async (catalogue) => {
          const result = await mapFeatures(ctx, {
            serviceId: service.service_id,
            serviceName: service.name,
            plateau,
            features: generated.features,
            catalogue,
            priority: priority + 2,
          });
          models.add("mapping", result.model);
          return [catalogue.field, result.mappings] as const;
        }),
      );
      return { level: plateau.level, name: plateau.name, description, features: generated.features, mappings: Object.fromEntries(mapped) };
    }),
  );
  return buildEvolution({ service, meta: { ...meta, models: models.toJSON() }, plateaus, roles: ctx.data.roles, catalogues: ctx.data.catalogues });
}
