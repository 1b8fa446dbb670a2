import { createCacheStorage, storeFailure } from "../lib/cache.ts";
import { describeStore } from "../lib/cache-stats.ts";
import type { Dataset } from "../lib/data.ts";
import { SAError, errorMessage, type ErrorCode } from "../lib/errors.ts";
import { estimateRun, readServices, type RunEstimate } from "../lib/estimate.ts";
import { readLedger, type Ledger } from "../lib/ledger.ts";
import { recoverLedger } from "../lib/ledger-recover.ts";
import type { Log } from "../lib/log.ts";
import { describeModels } from "../lib/model-settings.ts";
import { assertBudgetPriced, createPricing } from "../lib/pricing.ts";
import { overLimits } from "../lib/usage-guard.ts";
import { buildDomainText, descriptionsPrompt, featuresPrompt, mappingPrompt } from "../lib/prompts/build.ts";
import type { Config } from "../lib/schema/config.ts";
import type { Service } from "../lib/schema/service.ts";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  problems?: string[];
  /** A check that threw: its error's code (`E_DATA` for a data file that cannot be read, ...). */
  code?: ErrorCode;
}

/** What a check returns: a detail line, or a detail with the problems it found. */
type Outcome = string | { detail: string; problems: string[] };

/** An error that names its subject first ("config FILE:3: ...", or "config: " and a variable's name) is not prefixed twice. */
const checkDetail = (c: Check) => (c.detail.startsWith(`${c.name} `) ? c.detail.slice(c.name.length + 1) : c.detail.startsWith(`${c.name}: `) ? c.detail.slice(c.name.length + 2) : c.detail);

/** The list of checks of one preflight: each runs whatever failed before it, and never throws. */
export function createChecks() {
  const list: Check[] = [];
  return {
    list,
    async run(name: string, fn: () => Promise<Outcome>): Promise<boolean> {
      let check: Check;
      try {
        const result = await fn();
        check = typeof result === "string" ? { name, ok: true, detail: result } : { name, ok: result.problems.length === 0, detail: result.detail, problems: result.problems };
      } catch (error) {
        check = { name, ok: false, detail: errorMessage(error), code: error instanceof SAError ? error.code : "E_UNEXPECTED" };
      }
      list.push(check);
      return check.ok;
    },
    ok: () => list.every((c) => c.ok),
    /** The failed checks as log lines (--json's stderr): the summary on stdout is for programs, these for the person reading the job's log. */
    failures: () => list.filter((c) => !c.ok).flatMap((c) => [`${c.name}: ${checkDetail(c)}`, ...(c.problems ?? [])]),
    text(): string {
      const lines = list.flatMap((c) => [`${c.ok ? "✔" : "✖"} ${c.name}: ${checkDetail(c)}`, ...(c.problems ?? []).map((p) => `    ${p}`)]);
      const failed = list.filter((c) => !c.ok).map((c) => c.name);
      return `${lines.join("\n")}\n${failed.length ? `preflight failed: ${failed.join(", ")}` : "preflight passed"}\n`;
    },
  };
}
export type Checks = ReturnType<typeof createChecks>;

export interface PreflightInput {
  config: Config;
  args: { input?: string; batch?: boolean; online?: boolean };
  log: Log;
  data: Dataset;
  services: Service[];
}

export const dataSummary = (config: Config, data: Dataset) =>
  `${config.dataDir}: ${data.roles.length} roles, ${data.plateaus.length} plateaus, ${data.catalogues.map((c) => `${c.field} (${c.items.length} items, ${c.facets.length} facets)`).join(", ")}`;

/** Renders every template with a sample service, so a broken template fails here, not mid-run. */
export async function checkPrompts(config: Config, data: Dataset): Promise<string> {
  const domain = buildDomainText(data);
  const sample: Service = { service_id: "PREFLIGHT", name: "Preflight", description: "A sample service.", jobs_to_be_done: [], features: [] };
  const plateau = data.plateaus[0]!;
  descriptionsPrompt(domain, data, sample);
  featuresPrompt(domain, data, sample, plateau, "A description.", config.featuresPerRole);
  const features = [{ feature_id: "F1", name: "A feature", description: "What it does." }];
  for (const catalogue of data.catalogues) {
    mappingPrompt(domain, { catalogue, serviceName: sample.name, serviceDescription: "A description.", plateau, features, rationale: config.rationale });
  }
  const from = (file: string | null) => file ?? "none";
  return `every template renders; situational context: ${from(data.sources.situationalContext)}; inspirations: ${from(data.sources.inspirations)}`;
}

/** Every line of the input, bad ones by number. */
export async function checkInput(input: string | undefined): Promise<{ detail: string; problems: string[]; services: Service[] }> {
  if (!input) throw new SAError("E_USAGE", "no --input given");
  const { services, bad } = await readServices(input);
  const problems = bad.map((b) => `${input}:${b.line}: ${b.reason}`);
  const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  return { detail: `${input}: ${count(services.length, "valid service")}${problems.length ? `, ${count(problems.length, "bad line")}` : ""}`, problems, services };
}

/** A write, read and delete probe against the configured cache store, when a run would use it. */
export async function checkCacheStore(config: Config, options: { batch?: boolean } = {}): Promise<string> {
  const store = describeStore(config.cache);
  // A run with the cache off touches no store, unless it keeps transcripts or batches there: no probe to fail it.
  if (config.cacheMode === "off" && !config.transcripts && !config.batch.enabled && !options.batch) return `off: a run reads and writes nothing in ${store}`;
  const storage = await createCacheStorage(config.cache);
  try {
    const key = `preflight:probe:${process.pid}`;
    await storage.setItem(key, { probe: true }).catch((error) => {
      throw new SAError("E_CACHE", `${store} cannot be written to (${storeFailure(storage, error)})`, { cause: error });
    });
    const back = (await storage.getItem(key)) as { probe?: boolean } | null;
    await storage.removeItem(key);
    if (!back?.probe) throw new SAError("E_CACHE", `${store}: the value written could not be read back`);
    if (await storage.hasItem(key)) throw new SAError("E_CACHE", `${store}: the probe entry could not be deleted`);
    return `${store}: write, read and delete work`;
  } finally {
    await storage.dispose();
  }
}

async function pastRuns(config: Config, log: Log): Promise<Ledger | undefined> {
  try {
    await recoverLedger(config.ledger.path, log);
    return readLedger(config.ledger.path);
  } catch (error) {
    log.warn(`${errorMessage(error)}; estimating from config defaults`);
    return undefined;
  }
}

/** Calls, tokens and cost of the run (at the batch price with --batch), against the budget and the usage limits. */
export async function checkEstimate(input: PreflightInput): Promise<{ detail: string; problems: string[]; estimate: RunEstimate }> {
  const { config, log } = input;
  let estimate = await estimateRun({ services: input.services, data: input.data, config, pricing: createPricing(config.pricing, log), ledger: await pastRuns(config, log) });
  const batch = input.args.batch || config.batch.enabled;
  const factor = config.batch.priceFactor;
  if (batch) estimate = { ...estimate, costUsd: estimate.costUsd === null ? null : estimate.costUsd * factor, priceFactor: factor };
  const cost = estimate.costUsd === null ? "cost unknown (no price for the model)" : `about $${estimate.costUsd.toFixed(4)}${batch ? ` at the batch price (×${factor})` : ""}`;
  const detail = `${estimate.calls} calls, about ${estimate.inputTokens} input and ${estimate.outputTokens} output tokens, ${cost} with ${describeModels(config)} (before cache hits and services already in the output; run --dry-run counts only what is not cached)`;
  const budget = config.budget.hardUsd;
  const problems = overLimits(estimate, config.limits, config.budget);
  try {
    assertBudgetPriced(config);
  } catch (error) {
    problems.push(errorMessage(error));
  }
  return { detail: budget !== undefined ? `${detail}; budget $${budget}` : detail, problems, estimate };
}
