import type { calcPrice as CalcPrice } from "@pydantic/genai-prices";
import type { Usage } from "../providers/types.ts";
import { SAError } from "./errors.ts";
import type { Log } from "./log.ts";
import type { Config } from "./schema/config.ts";
import { allModels } from "./model-settings.ts";
import { installedVersion, loadPrecompiled } from "./precompiled.ts";

/** The price table (lib/precompiled.ts builds its fast-loading copy). */
export const priceTablePackage = "@pydantic/genai-prices";

/** Recorded in the ledger, so a cost can be traced to the price table that produced it. */
export const priceDataVersion = `@pydantic/genai-prices@${packageVersion("@pydantic/genai-prices")}`;

/** The installed table's version ("unknown" if its package.json cannot be found). */
function packageVersion(name: string): string {
  try {
    return installedVersion(name);
  } catch {
    return "unknown";
  }
}

/** Providers that never bill. */
const freeProviders = new Set(["synthetic"]);

export interface Pricing {
  /** USD for one call, or null when the model has no known price (never a silent 0). */
  cost(modelId: string, usage: Pick<Usage, "inputTokens" | "cachedInputTokens" | "outputTokens">): number | null;
}

/** USD kept to nano-dollars: sums of many small costs neither drift nor print as 0.30000000000000004. */
export const roundUsd = (usd: number) => Math.round(usd * 1e9) / 1e9;

// The price table loads on the first priced call, not at start: a run's first requests go out
// without waiting for it, and free or overridden models never need it.
let calcPrice: typeof CalcPrice | undefined;
const prices = () => (calcPrice ??= loadPriceTable().calcPrice);

type PriceTable = { calcPrice: typeof CalcPrice };

/** The table's precompiled copy when `bun install` made one (half the CPU time), else the package. */
const loadPriceTable = (): PriceTable => loadPrecompiled<PriceTable>(priceTablePackage, (table) => typeof table.calcPrice === "function").module;

type Rates = { input: number; cachedInput?: number; output: number };
const linearCost = (rates: Rates, inputTokens: number, cached: number, outputTokens: number) =>
  roundUsd(((inputTokens - cached) * rates.input + cached * (rates.cachedInput ?? rates.input) + outputTokens * rates.output) / 1e6);

/**
 * A model's USD per million tokens, read from the price table once (a lookup there matches the
 * model against every pattern, which costs more than the rest of a cached call). Null when its
 * prices are not linear (tiers by prompt size): those are priced call by call.
 */
function tableRates(provider: string, model: string): Rates | null | undefined {
  const price = (input: number, cached: number, output: number) =>
    prices()({ input_tokens: input, cache_read_tokens: cached, output_tokens: output }, model, { providerId: provider })?.total_price;
  const [input, cachedInput, output] = [price(1e6, 0, 0), price(1e6, 1e6, 0), price(0, 0, 1e6)];
  if (input === undefined || cachedInput === undefined || output === undefined) return undefined;
  const rates = { input, cachedInput, output };
  const probe = price(1000, 300, 500);
  return probe !== undefined && Math.abs(probe - linearCost(rates, 1000, 300, 500)) < 1e-9 ? rates : null;
}

export function createPricing(overrides: Config["pricing"], log?: Log): Pricing {
  const warned = new Set<string>();
  const rates = new Map<string, Rates | null | undefined>();
  return {
    cost(modelId, usage) {
      const at = modelId.indexOf(":");
      const provider = modelId.slice(0, at);
      const model = modelId.slice(at + 1);
      if (freeProviders.has(provider)) return 0;
      const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
      const override = overrides[modelId];
      if (override) return linearCost(override, usage.inputTokens, cached, usage.outputTokens);
      // Bundled data only: updatePrices() would fetch over the network.
      if (!rates.has(modelId)) rates.set(modelId, tableRates(provider, model));
      const known = rates.get(modelId);
      if (known) return linearCost(known, usage.inputTokens, cached, usage.outputTokens);
      const price = known === null ? prices()({ input_tokens: usage.inputTokens, cache_read_tokens: cached, output_tokens: usage.outputTokens }, model, { providerId: provider }) : null;
      if (price) return roundUsd(price.total_price);
      if (!warned.has(modelId)) {
        warned.add(modelId);
        log?.warn(`pricing: no price known for ${modelId}; its cost is recorded as null (add it under "pricing" in the config)`);
      }
      return null;
    },
  };
}

/** The models among `modelIds` with no known price (bundled table or `pricing` entry). */
function unpricedModels(pricing: Pricing, modelIds: string[]): string[] {
  const probe = { inputTokens: 1_000, cachedInputTokens: 0, outputTokens: 1_000 };
  return [...new Set(modelIds)].filter((id) => pricing.cost(id, probe) === null);
}

/**
 * A hard budget counts only what it can price: with a model of unknown price it would let every
 * call through. Refuse that before any call.
 */
export function assertBudgetPriced(config: Pick<Config, "budget" | "model" | "models" | "pricing">): void {
  if (config.budget.hardUsd === undefined) return;
  const unpriced = unpricedModels(createPricing(config.pricing), allModels(config));
  if (!unpriced.length) return;
  const example = JSON.stringify({ pricing: { [unpriced[0]!]: { input: 0.15, output: 0.6 } } });
  throw new SAError("E_CONFIG", `budget $${config.budget.hardUsd}: no price is known for ${unpriced.join(", ")}, so the budget could not be kept; add USD per million tokens under "pricing" in the config, e.g. ${example}`);
}
