import { describe, expect, test } from "bun:test";
import { allModels, callSettings, describeModels, stageChain, stageModels } from "../lib/model-settings.ts";
import { isReasoningModel } from "../lib/reasoning-models.ts";
import { configSchema, type ConfigInput } from "../lib/schema/config.ts";

const config = (input: ConfigInput) => configSchema.parse(input);

describe("per-stage models", () => {
  test("each stage falls back to model, then to the fallbacks", () => {
    const c = config({ model: "openai:gpt-5-mini", models: { descriptions: "openai:gpt-5", mapping: "openai:gpt-5-nano", fallback: ["openai:gpt-4.1-mini", "openai:gpt-5"] } });
    expect(stageModels(c)).toEqual({ descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" });
    expect(stageChain(c, "descriptions")).toEqual(["openai:gpt-5", "openai:gpt-4.1-mini"]);
    expect(stageChain(c, "features")).toEqual(["openai:gpt-5-mini", "openai:gpt-4.1-mini", "openai:gpt-5"]);
    expect(allModels(c)).toEqual(["openai:gpt-5", "openai:gpt-4.1-mini", "openai:gpt-5-mini", "openai:gpt-5-nano"]);
    expect(describeModels(c)).toBe("descriptions openai:gpt-5, features openai:gpt-5-mini, mapping openai:gpt-5-nano");
    expect(describeModels(config({ model: "synthetic:a" }))).toBe("synthetic:a");
  });
});

describe("reasoning models", () => {
  test.each([
    ["openai:gpt-5", true],
    ["openai:gpt-5-mini", true],
    ["openai:gpt-5-nano-2025-08-07", true],
    ["openai:gpt-5.1", true],
    ["openai:gpt-5-chat-latest", false],
    ["openai:o1", true],
    ["openai:o3-mini", true],
    ["openai:o4-mini", true],
    ["openai:gpt-4o-mini", false],
    ["openai:gpt-4.1", false],
    ["openai:omni-moderation-latest", false],
    ["synthetic:demo", false],
    // A routed model id names its vendor first (OpenRouter, LiteLLM): the model is what follows.
    ["openrouter:openai/gpt-5", true],
    ["openrouter:openai/o3-mini", true],
    ["openrouter:openai/gpt-5-chat", false],
    ["openrouter:openai/gpt-4o-mini", false],
  ])("%s → %p", (id, expected) => {
    expect(isReasoningModel(id)).toBe(expected);
  });
});

describe("the settings each model is sent", () => {
  test("a reasoning model gets the effort and never a temperature", () => {
    const c = config({ temperature: 0.3, reasoning: { effort: "medium" }, maxOutputTokens: 4000 });
    const { settings, dropped } = callSettings(c, "openai:gpt-5");
    expect(settings).toEqual({ seed: 0, reasoningEffort: "medium", maxOutputTokens: 4000 });
    expect(dropped).toEqual(["temperature (openai:gpt-5 is a reasoning model and rejects it)"]);
  });

  test("any other model gets the temperature and no effort; a global effort is left out quietly", () => {
    const { settings, dropped } = callSettings(config({ temperature: 0.3, reasoning: { effort: "high" } }), "openai:gpt-4o-mini");
    expect(settings).toEqual({ seed: 0, temperature: 0.3 });
    expect(dropped).toEqual([]);
  });

  test("modelSettings win over the global settings, and can say a model reasons", () => {
    const c = config({
      temperature: 0.3,
      reasoning: { effort: "low" },
      maxOutputTokens: 1000,
      modelSettings: {
        "openai:gpt-5": { reasoning: { effort: "high" }, maxOutputTokens: 9000 },
        "openai:my-reasoner": { reasoningModel: true },
        "openai:gpt-5-chat-latest": { temperature: 0.7 },
        "openai:gpt-4o": { reasoning: { effort: "high" } },
      },
    });
    expect(callSettings(c, "openai:gpt-5").settings).toEqual({ seed: 0, reasoningEffort: "high", maxOutputTokens: 9000 });
    expect(callSettings(c, "openai:my-reasoner").settings).toEqual({ seed: 0, reasoningEffort: "low", maxOutputTokens: 1000 });
    expect(callSettings(c, "openai:gpt-5-chat-latest").settings).toEqual({ seed: 0, temperature: 0.7, maxOutputTokens: 1000 });
    expect(callSettings(c, "openai:gpt-4o").dropped).toEqual(["reasoning.effort (openai:gpt-4o is not a reasoning model; set reasoningModel: true if it is)"]);
  });

  test("a bad effort or a model key that is not provider:model is a config error", () => {
    expect(configSchema.safeParse({ reasoning: { effort: "extreme" } }).success).toBe(false);
    expect(configSchema.safeParse({ modelSettings: { "gpt-5": {} } }).success).toBe(false);
    expect(configSchema.safeParse({ modelSettings: { "openai:gpt-5": { topK: 3 } } }).success).toBe(false);
  });
});
