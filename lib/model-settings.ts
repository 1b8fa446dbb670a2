import type { CallSettings } from "../providers/types.ts";
import type { Stage } from "./call-spec.ts";
import { isReasoningModel } from "./reasoning-models.ts";
import type { Config } from "./schema/config.ts";

export const stages = ["descriptions", "features", "mapping"] as const satisfies readonly Stage[];

type ModelsConfig = Pick<Config, "model" | "models">;

/** The model each stage calls first: `models.<stage>`, else `model`. */
export function stageModels(config: ModelsConfig): Record<Stage, string> {
  return { descriptions: config.models.descriptions ?? config.model, features: config.models.features ?? config.model, mapping: config.models.mapping ?? config.model };
}

/** A stage's models in the order they are tried: its own, then each fallback once. */
export function stageChain(config: ModelsConfig, stage: Stage): string[] {
  const first = stageModels(config)[stage];
  return [first, ...new Set(config.models.fallback.filter((m) => m !== first))];
}

/** Every model a run may call, each once: the stages' models, then the fallbacks. */
export function allModels(config: ModelsConfig): string[] {
  return [...new Set(stages.flatMap((stage) => stageChain(config, stage)))];
}

/**
 * A warning when `--model` reaches no stage: --descriptions-model, --features-model and
 * --mapping-model are all given (a config file's `models.<stage>` give way to `--model`, lib/config.ts).
 */
export function unusedModelFlag(config: ModelsConfig, flag: string): string | undefined {
  if (Object.values(stageModels(config)).includes(flag)) return undefined;
  return `--model ${flag} is used by no stage: --descriptions-model, --features-model and --mapping-model are all given`;
}

/** One line naming the stages' models, e.g. for a run's first log line. */
export function describeModels(config: ModelsConfig): string {
  const models = stageModels(config);
  const distinct = new Set(Object.values(models));
  return distinct.size === 1 ? [...distinct][0]! : stages.map((s) => `${s} ${models[s]}`).join(", ");
}

type SettingsConfig = Pick<Config, "temperature" | "seed" | "reasoning" | "maxOutputTokens" | "modelSettings">;

/**
 * What a call to `modelId` sends: the global settings, overridden by `modelSettings[modelId]`,
 * minus what the model would reject (a reasoning model takes no temperature; any other model no
 * reasoning effort). `dropped` names each setting left out that the user asked for.
 */
export function callSettings(config: SettingsConfig, modelId: string): { settings: CallSettings; dropped: string[] } {
  const own = config.modelSettings[modelId] ?? {};
  const reasons = own.reasoningModel ?? isReasoningModel(modelId);
  const temperature = own.temperature ?? config.temperature;
  const effort = (own.reasoning ?? config.reasoning)?.effort;
  const dropped: string[] = [];
  if (reasons && temperature !== undefined) dropped.push(`temperature (${modelId} is a reasoning model and rejects it)`);
  // A global effort carried over from the Python tool's config is expected to miss non-reasoning models.
  if (!reasons && own.reasoning) dropped.push(`reasoning.effort (${modelId} is not a reasoning model; set reasoningModel: true if it is)`);
  const settings: CallSettings = {
    seed: config.seed,
    temperature: reasons ? undefined : temperature,
    reasoningEffort: reasons ? effort : undefined,
    maxOutputTokens: own.maxOutputTokens ?? config.maxOutputTokens,
  };
  return { settings: Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as CallSettings, dropped };
}
