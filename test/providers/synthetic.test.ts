import { describe, expect, test } from "bun:test";
import { createProvider, parseModelId } from "../../providers/index.ts";
import { isSAError } from "../../lib/errors.ts";
import { contractRequest, testProvider } from "./contract.ts";

const context = { env: {}, http: { attempts: 1, baseMs: 1, capMs: 1, requestTimeout: 1000 } };

describe("synthetic provider", () => {
  testProvider("synthetic", () => createProvider("synthetic:demo", context));

  test("different prompts give different answers", async () => {
    const p = await createProvider("synthetic:demo", context);
    expect((await p.complete(contractRequest("one"))).content).not.toBe((await p.complete(contractRequest("two"))).content);
  });
});

describe("provider registry", () => {
  test("an unknown provider lists the known ones", () => {
    try {
      parseModelId("acme:big");
      throw new Error("expected an error");
    } catch (error) {
      expect(isSAError(error, "E_USAGE")).toBe(true);
      expect((error as Error).message).toContain("known: openai, synthetic");
    }
  });
  test("a model id needs provider:model", () => {
    expect(() => parseModelId("gpt-4o")).toThrow("provider:model");
    expect(parseModelId("openai:ft:gpt-4o:org")).toEqual({ provider: "openai", model: "ft:gpt-4o:org", id: "openai:ft:gpt-4o:org" });
  });
});
