import { describe, expect, test } from "bun:test";
import { createProvider } from "../../providers/index.ts";
import { endpointSchema } from "../../lib/schema/providers.ts";
import { contractRequest, testProvider } from "./contract.ts";

const http = { attempts: 1, baseMs: 1, capMs: 1, requestTimeout: 1000 };
const endpoints = { example: endpointSchema.parse({ type: "module", module: "./fixtures/providers/example.ts", options: { greeting: "hi" } }) };
const make = () => createProvider("example:any", { env: {}, http }, { endpoints });

describe("example plug-in (fixtures/providers/example.ts)", () => {
  testProvider("example", make);

  test("declares its capabilities and its own price", async () => {
    const p = await make();
    expect(p.capabilities?.reasoning).toBe(false);
    expect(p.price?.({ inputTokens: 1000, cachedInputTokens: 0, outputTokens: 0 })).toBe(1e-6);
    expect((await p.complete(contractRequest())).responseId).toMatch(/^example-/);
  });

  test("a module that exports no provider is a usage error naming the entry", async () => {
    const bad = { broken: endpointSchema.parse({ type: "module", module: "./fixtures/services.jsonl" }) };
    let message = "";
    try {
      await createProvider("broken:any", { env: {}, http }, { endpoints: bad });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("providers.broken.module");
  });
});
