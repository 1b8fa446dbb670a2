import { describe, expect, test } from "bun:test";
import { loadDataset } from "../lib/data.ts";
import { estimateRun, observedOutput, readServices } from "../lib/estimate.ts";
import { emptyTotals, type Ledger } from "../lib/ledger.ts";
import { createPricing } from "../lib/pricing.ts";
import { configSchema } from "../lib/schema/config.ts";
import { fixtureData, fixtureServices, root } from "./helpers.ts";

const config = configSchema.parse({ dataDir: fixtureData, model: "openai:gpt-4o-mini" });

describe("estimate", () => {
  test("predicts 21 calls a service, tokens and a cost before anything is spent", async () => {
    const data = await loadDataset(config);
    const { services } = await readServices(fixtureServices);
    const estimate = await estimateRun({ services, data, config, pricing: createPricing({}) });
    expect(estimate.calls).toBe(21 * services.length);
    expect(estimate.byStage.mapping.calls).toBe(15 * services.length);
    expect(estimate.inputTokens).toBeGreaterThan(estimate.calls * 200);
    expect(estimate.outputTokens).toBe(services.length * (900 + 5 * 1500 + 15 * 1200));
    expect(estimate.costUsd).toBeGreaterThan(0);
    expect(estimate.byStage.features.outputSource).toBe("config");
  });

  test("past runs in the ledger refine the expected output per call", async () => {
    const data = await loadDataset(config);
    const features = { ...emptyTotals(), liveCalls: 10, outputTokens: 4000 };
    const ledger: Ledger = { version: 1, priceDataVersion: "x", runs: [{ runId: "r", task: "run", startedAt: "", finishedAt: null, status: "ok", stopReason: null, totals: emptyTotals(), byModel: {}, byStage: { features } }] };
    expect(observedOutput(ledger)).toEqual({ features: 400 });
    const estimate = await estimateRun({ services: (await readServices(fixtureServices)).services.slice(0, 1), data, config, pricing: createPricing({}), ledger });
    expect(estimate.byStage.features).toMatchObject({ outputPerCall: 400, outputSource: "ledger", outputTokens: 2000 });
  });

  test("an unpriced model gives a null cost", async () => {
    const data = await loadDataset(config);
    const estimate = await estimateRun({ services: [], data, config: { ...config, model: "openai:unknown-model-x" }, pricing: createPricing({}) });
    expect(estimate.costUsd).toBeNull();
  });

  test("bad lines are named with their line numbers", async () => {
    const { services, bad } = await readServices(`${root}/fixtures/services-with-bad-lines.jsonl`);
    expect(services.map((s) => s.service_id)).toEqual(["B1", "B4"]);
    expect(bad.map((b) => b.line)).toEqual([2, 3]);
    expect(bad[1]!.reason).toContain("name");
  });
});
