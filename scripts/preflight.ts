#!/usr/bin/env bun
import { createCacheStorage } from "../lib/cache.ts";
import { loadDataset, type Dataset } from "../lib/data.ts";
import { SAError, errorMessage } from "../lib/errors.ts";
import { estimateRun, readServices, type RunEstimate } from "../lib/estimate.ts";
import { readLedger, type Ledger } from "../lib/ledger.ts";
import { recoverLedger } from "../lib/ledger-recover.ts";
import { assertBudgetPriced, createPricing } from "../lib/pricing.ts";
import { buildDomainText, descriptionsPrompt, featuresPrompt, mappingPrompt } from "../lib/prompts/build.ts";
import type { Config } from "../lib/schema/config.ts";
import type { Service } from "../lib/schema/service.ts";
import { canListModels, checkEndpointSecrets, checkListedModels, createProviders } from "../lib/endpoints.ts";
import type { Provider } from "../providers/types.ts";
import { allModels, describeModels } from "../lib/model-settings.ts";
import { sharedArgs } from "./_args.ts";
import { defineTask, runTask } from "./_task.ts";

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  problems?: string[];
}

const task = defineTask({
  meta: { name: "preflight", description: "Check config, environment, data, prompts, input, cache and budget before any money is spent" },
  args: {
    ...sharedArgs,
    online: { type: "boolean", description: "Also ask the provider for its models (GET /models); never calls a model" },
    batch: { type: "boolean", description: "Estimate at the Batch API's price (run --batch; config batch.priceFactor)" },
  },
  async run({ args, log, config: load }) {
    const checks: Check[] = [];
    const check = async (name: string, fn: () => Promise<string | { detail: string; problems: string[] }>) => {
      try {
        const result = await fn();
        const c = typeof result === "string" ? { name, ok: true, detail: result } : { name, ok: result.problems.length === 0, detail: result.detail, problems: result.problems };
        checks.push(c);
        return c.ok;
      } catch (error) {
        checks.push({ name, ok: false, detail: errorMessage(error) });
        return false;
      }
    };

    let config: (Config & { configFile?: string }) | undefined;
    await check("config", async () => {
      config = await load();
      return config.configFile ? `valid (${config.configFile})` : "valid (defaults, no config file)";
    });
    let data: Dataset | undefined;
    let services: Service[] = [];
    let estimate: RunEstimate | undefined;
    if (config) {
      const cfg = config;
      await check("data", async () => {
        data = await loadDataset(cfg);
        return `${cfg.dataDir}: ${data.roles.length} roles, ${data.plateaus.length} plateaus, ${data.catalogues.map((c) => `${c.field} (${c.items.length} items, ${c.facets.length} facets)`).join(", ")}`;
      });
      if (data) {
        const d = data;
        await check("prompts", async () => {
          const domain = buildDomainText(d);
          const sample: Service = { service_id: "PREFLIGHT", name: "Preflight", description: "A sample service.", jobs_to_be_done: [], features: [] };
          const plateau = d.plateaus[0]!;
          descriptionsPrompt(domain, d, sample);
          featuresPrompt(domain, d, sample, plateau, "A description.", cfg.featuresPerRole);
          const features = [{ feature_id: "F1", name: "A feature", description: "What it does." }];
          for (const catalogue of d.catalogues) mappingPrompt(domain, { catalogue, serviceName: sample.name, serviceDescription: "A description.", plateau, features, rationale: cfg.rationale });
          const from = (file: string | null) => file ?? "none";
          return `every template renders; situational context: ${from(d.sources.situationalContext)}; inspirations: ${from(d.sources.inspirations)}`;
        });
      }
      const input = args.input ?? cfg.input;
      await check("input", async () => {
        if (!input) throw new SAError("E_USAGE", "no --input given");
        const result = await readServices(input);
        services = result.services;
        const problems = result.bad.map((b) => `${input}:${b.line}: ${b.reason}`);
        return { detail: `${input}: ${services.length} valid services${problems.length ? `, ${problems.length} bad lines` : ""}`, problems };
      });
      await check("cache", async () => {
        const storage = await createCacheStorage(cfg.cache as { driver: string });
        try {
          const key = `preflight:probe:${process.pid}`;
          await storage.setItem(key, { probe: true });
          const back = (await storage.getItem(key)) as { probe?: boolean } | null;
          await storage.removeItem(key);
          if (!back?.probe) throw new Error("the value written could not be read back");
          if (await storage.hasItem(key)) throw new Error("the probe entry could not be deleted");
          return `${cfg.cache.driver} store: write, read and delete work`;
        } finally {
          await storage.dispose();
        }
      });
      const models = allModels(cfg);
      let providers: Provider[] = [];
      await check("environment", async () => {
        // Built through the registry as a run builds them; nothing is sent until asked.
        providers = await createProviders(models, cfg, { env: process.env, http: { ...cfg.retry, requestTimeout: cfg.requestTimeout } });
        return checkEndpointSecrets(providers, cfg, process.env);
      });
      if (args.online && canListModels(providers)) await check("provider", () => checkListedModels(providers));
      if (data) {
        const d = data;
        await check("estimate", async () => {
          let ledger: Ledger | undefined;
          try {
            await recoverLedger(cfg.ledger.path, log);
            ledger = readLedger(cfg.ledger.path);
          } catch (error) {
            log.warn(`ledger: ${errorMessage(error)}; estimating from config defaults`);
          }
          estimate = await estimateRun({ services, data: d, config: cfg, pricing: createPricing(cfg.pricing, log), ledger });
          const batch = args.batch || cfg.batch.enabled;
          if (batch) estimate = { ...estimate, costUsd: estimate.costUsd === null ? null : estimate.costUsd * cfg.batch.priceFactor, priceFactor: cfg.batch.priceFactor };
          const cost = estimate.costUsd === null ? "cost unknown (no price for the model)" : `about $${estimate.costUsd.toFixed(4)}${batch ? ` at the batch price (×${cfg.batch.priceFactor})` : ""}`;
          const detail = `${estimate.calls} calls, about ${estimate.inputTokens} input and ${estimate.outputTokens} output tokens, ${cost} with ${describeModels(cfg)} (before cache hits)`;
          const budget = cfg.budget.hardUsd;
          const problems = budget !== undefined && estimate.costUsd !== null && estimate.costUsd > budget ? [`the estimate $${estimate.costUsd.toFixed(4)} is over the budget $${budget}`] : [];
          try {
            assertBudgetPriced(cfg);
          } catch (error) {
            problems.push(errorMessage(error));
          }
          return { detail: budget !== undefined ? `${detail}; budget $${budget}` : detail, problems };
        });
      }
    }

    const ok = checks.every((c) => c.ok);
    if (args.json) process.stdout.write(`${JSON.stringify({ ok, checks, estimate: estimate ?? null })}\n`);
    else {
      const lines = checks.flatMap((c) => [`${c.ok ? "✔" : "✖"} ${c.name}: ${c.detail}`, ...(c.problems ?? []).map((p) => `    ${p}`)]);
      process.stdout.write(`${lines.join("\n")}\n${ok ? "preflight passed" : `preflight failed: ${checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`}\n`);
    }
    if (!config) return 2;
    return ok ? 0 : 1;
  },
});

export default task;

if (import.meta.main) await runTask(task);
