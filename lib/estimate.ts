import type { Dataset } from "./data.ts";
import { readRecords } from "./jsonl.ts";
import type { Ledger } from "./ledger.ts";
import type { Pricing } from "./pricing.ts";
import { buildDomainText, descriptionsPrompt, featuresPrompt, mappingPrompt, type MappingPromptInput } from "./prompts/build.ts";
import type { Config } from "./schema/config.ts";
import { duplicateReason, parseService, type Service } from "./schema/service.ts";
import type { Stage } from "./session.ts";
import { countPromptTokens, countTokens } from "./tokens.ts";
import { stageModels } from "./model-settings.ts";

export interface StageEstimate {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Output tokens per call: from past runs in the ledger when there are any, else the config default. */
  outputPerCall: number;
  outputSource: "ledger" | "config";
  /** The stage's own model (`models.<stage>`, else `model`), which prices it. */
  model: string;
  /** USD, or null when the stage's model has no known price. */
  costUsd: number | null;
}

export interface RunEstimate {
  services: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** USD, or null when some stage's model has no known price. */
  costUsd: number | null;
  /** The primary model (`model`); each stage's own is in `byStage`. */
  model: string;
  byStage: Record<Stage, StageEstimate>;
  /** Set when priced at the Batch API's share of the live price (`preflight --batch`). */
  priceFactor?: number;
}

/** The model a past run used for a stage, when its ledger record says. */
const runModel = (run: Ledger["runs"][number], stage: string): unknown => (run.models as Record<string, unknown> | undefined)?.[stage] ?? run.model;

/** Average output tokens per live call of each stage over the ledger's runs of that stage's model (all runs when unset). */
export function observedOutput(ledger: Ledger | undefined, models?: Partial<Record<Stage, string>>): Partial<Record<Stage, number>> {
  const sums: Record<string, { output: number; calls: number }> = {};
  for (const run of ledger?.runs ?? []) {
    for (const [stage, t] of Object.entries(run.byStage)) {
      const model = models?.[stage as Stage];
      const used = runModel(run, stage);
      if (model && used !== undefined && used !== model) continue;
      const s = (sums[stage] ??= { output: 0, calls: 0 });
      s.output += t.outputTokens;
      s.calls += t.liveCalls;
    }
  }
  // Answers always have output tokens: a stage that shows none only holds calls that failed before
  // any answer (as older ledgers recorded them), and must not teach the estimate 0.
  return Object.fromEntries(Object.entries(sums).filter(([, s]) => s.calls > 0 && s.output > 0).map(([k, s]) => [k, Math.round(s.output / s.calls)]));
}

const placeholderFeatures = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ feature_id: `F${String(i).padStart(5, "0")}`, name: "An estimated feature name", description: "A one-sentence description of what the feature offers this role at this plateau." }));

/**
 * Predicts what `run` would send for these services, counting the prompts with js-tiktoken
 * (o200k_base). Prompts that depend on earlier answers use the expected answer sizes.
 */
export async function estimateRun(input: { services: Service[]; data: Dataset; config: Config; pricing: Pricing; ledger?: Ledger }): Promise<RunEstimate> {
  const { data, config } = input;
  const models = stageModels(config);
  const observed = observedOutput(input.ledger, models);
  const outputPerCall = (stage: Stage) => observed[stage] ?? config.estimate[stage];
  const domain = buildDomainText(data);
  const featuresPerPlateau = Math.max(1, data.roles.length) * config.featuresPerRole;
  const features = placeholderFeatures(featuresPerPlateau);
  const descriptionText = "x ".repeat(Math.round(outputPerCall("descriptions") / Math.max(1, data.plateaus.length)));
  const stageEstimate = (stage: Stage): StageEstimate => ({ calls: 0, inputTokens: 0, outputTokens: 0, outputPerCall: outputPerCall(stage), outputSource: observed[stage] ? "ledger" : "config", model: models[stage], costUsd: null });
  const byStage: Record<Stage, StageEstimate> = { descriptions: stageEstimate("descriptions"), features: stageEstimate("features"), mapping: stageEstimate("mapping") };
  const mappingPerService = await mappingPromptTokens(domain, data, { serviceDescription: descriptionText, features, rationale: config.rationale });
  const nameTokens = async (s: Service) => countTokens(s.name);
  for (const service of input.services) {
    byStage.descriptions.calls++;
    byStage.descriptions.inputTokens += await countPromptTokens(descriptionsPrompt(domain, data, service));
    for (const plateau of data.plateaus) {
      byStage.features.calls++;
      byStage.features.inputTokens += await countPromptTokens(featuresPrompt(domain, data, service, plateau, descriptionText, config.featuresPerRole));
      for (const catalogue of data.catalogues.filter((c) => c.items.length > 0)) {
        byStage.mapping.calls++;
        byStage.mapping.inputTokens += mappingPerService.get(`${plateau.level}:${catalogue.field}`)! + (await nameTokens(service));
      }
    }
  }
  return priced(byStage, { services: input.services.length, model: config.model, pricing: input.pricing });
}

/**
 * Mapping prompts depend on the service only through its name and its description at the
 * plateau: one count per plateau and catalogue (`<level>:<field>`), with the expected description.
 */
async function mappingPromptTokens(domain: string, data: Dataset, prompt: Pick<MappingPromptInput, "serviceDescription" | "features" | "rationale">): Promise<Map<string, number>> {
  const tokens = new Map<string, number>();
  for (const plateau of data.plateaus) {
    for (const catalogue of data.catalogues) {
      const messages = mappingPrompt(domain, { ...prompt, catalogue, serviceName: "", plateau });
      tokens.set(`${plateau.level}:${catalogue.field}`, await countPromptTokens(messages));
    }
  }
  return tokens;
}

/** Each stage's output tokens and cost from its calls, and the run's totals. */
function priced(byStage: Record<Stage, StageEstimate>, run: { services: number; model: string; pricing: Pricing }): RunEstimate {
  for (const s of Object.values(byStage)) {
    s.outputTokens = s.calls * s.outputPerCall;
    s.costUsd = run.pricing.cost(s.model, { inputTokens: s.inputTokens, cachedInputTokens: 0, outputTokens: s.outputTokens });
  }
  const stages = Object.values(byStage);
  const costs = stages.map((s) => s.costUsd);
  return {
    services: run.services,
    calls: stages.reduce((n, s) => n + s.calls, 0),
    inputTokens: stages.reduce((n, s) => n + s.inputTokens, 0),
    outputTokens: stages.reduce((n, s) => n + s.outputTokens, 0),
    costUsd: costs.some((c) => c === null) ? null : costs.reduce<number>((n, c) => n + c!, 0),
    model: run.model,
    byStage,
  };
}

/** Valid services from an input file, and the bad lines with their reasons. */
export async function readServices(path: string): Promise<{ services: Service[]; bad: Array<{ line: number; reason: string }> }> {
  const services: Service[] = [];
  const bad: Array<{ line: number; reason: string }> = [];
  const seen = new Set<string>();
  for await (const record of readRecords(path, { strictUtf8: true })) {
    if (record.error) {
      bad.push({ line: record.line, reason: record.error });
      continue;
    }
    const parsed = parseService(record.value);
    if (!parsed.ok) bad.push({ line: record.line, reason: parsed.reason });
    else if (seen.has(parsed.service.service_id)) bad.push({ line: record.line, reason: duplicateReason(parsed.service.service_id) });
    else {
      seen.add(parsed.service.service_id);
      services.push(parsed.service);
    }
  }
  return { services, bad };
}
