import { describe, expect, test } from "bun:test";
import { createTokenForecast } from "../lib/token-forecast.ts";

const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, cachedInputTokens: 0, outputTokens, reasoningTokens: 0 });
const configured = { descriptions: 900, features: 1500, mapping: 1200 };

describe("token forecast", () => {
  test("output: config first, then the ledger's history, then this run's high percentile", () => {
    const none = createTokenForecast({ configured });
    expect(none.output("mapping", "openai:m")).toBe(1200);
    const asked: string[] = [];
    const forecast = createTokenForecast({ configured, history: (model) => (asked.push(model), { mapping: 400 }) });
    expect(forecast.output("mapping", "openai:m")).toBe(400);
    expect(forecast.output("features", "openai:m")).toBe(1500);
    expect(asked).toEqual(["openai:m"]); // the ledger is read once per model
    // Answers of 100..199 tokens: the 90th percentile, once a few are in.
    for (let i = 0; i < 100; i++) forecast.observe({ stage: "mapping", model: "openai:m", counted: 1000, usage: usage(1000, 100 + i) });
    expect(forecast.output("mapping", "openai:m")).toBe(190);
    // Per stage and per model.
    expect(forecast.output("mapping", "openai:other")).toBe(400);
    expect(forecast.output("descriptions", "openai:m")).toBe(900);
  });

  test("recent answers count: the percentile follows a change in answer sizes", () => {
    const forecast = createTokenForecast({ configured });
    for (let i = 0; i < 200; i++) forecast.observe({ stage: "features", model: "m", counted: 10, usage: usage(10, 1000) });
    for (let i = 0; i < 200; i++) forecast.observe({ stage: "features", model: "m", counted: 10, usage: usage(10, 300) });
    expect(forecast.output("features", "m")).toBe(300);
  });

  test("input: our count scaled by billed ÷ counted so far, per model (all models' until a model has its own)", () => {
    const forecast = createTokenForecast({ configured });
    expect(forecast.input(1000, "m")).toBe(1000);
    forecast.observe({ stage: "descriptions", model: "m", counted: 800, usage: usage(1000, 50) });
    forecast.observe({ stage: "features", model: "m", counted: 1200, usage: usage(1500, 50) });
    expect(forecast.input(1000, "m")).toBe(1250);
    // Not answered yet: weighed by what the run's other models were billed, not by our count alone.
    expect(forecast.input(1000, "other")).toBe(1250);
    forecast.observe({ stage: "mapping", model: "other", counted: 1000, usage: usage(3000, 50) });
    expect(forecast.input(1000, "other")).toBe(3000);
    expect(forecast.input(1000, "m")).toBe(1250);
    // A failed call (no usage) teaches nothing.
    forecast.observe({ stage: "features", model: "m", counted: 5000, usage: usage(0, 0) });
    expect(forecast.input(1000, "m")).toBe(1250);
  });
});
