import { expect, test } from "bun:test";
import { z } from "zod";
import type { ChatRequest, Provider } from "../../providers/types.ts";

export const contractSchema = z.strictObject({
  items: z.array(z.strictObject({ role: z.enum(["a", "b"]), name: z.string(), level: z.int().min(1).max(5), note: z.string().nullable() })),
});

/** A provider-neutral request: messages, a JSON Schema and its name, and no SDK type. */
export const contractRequest = (content = "hello", settings: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [
    { role: "system", content: "You answer with JSON." },
    { role: "user", content },
  ],
  schemaName: "contract",
  jsonSchema: z.toJSONSchema(contractSchema, { target: "draft-7" }) as Record<string, unknown>,
  ...settings,
});

/** The contract every provider meets (built-in or plug-in); each provider's test file calls this once. */
export function testProvider(name: string, make: () => Promise<Provider> | Provider): void {
  test(`${name}: answers with JSON that fits the schema`, async () => {
    const provider = await make();
    const result = await provider.complete(contractRequest());
    const parsed = contractSchema.parse(JSON.parse(result.content));
    expect(parsed.items.map((i) => i.role).sort()).toEqual(["a", "b"]);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.model).toBeTruthy();
    expect(result.retries).toBe(0);
  });

  test(`${name}: the same request gets the same answer`, async () => {
    const provider = await make();
    const [a, b] = [await provider.complete(contractRequest("same")), await provider.complete(contractRequest("same"))];
    expect(a.content).toBe(b.content);
  });

  test(`${name}: takes the settings (temperature, seed, reasoning effort, output cap)`, async () => {
    const provider = await make();
    const result = await provider.complete(contractRequest("settings", { temperature: 0, seed: 7, reasoningEffort: "low", maxOutputTokens: 500 }));
    contractSchema.parse(JSON.parse(result.content));
  });

  test(`${name}: names itself for the cache key`, async () => {
    const provider = await make();
    expect(provider.name).toBe(name);
    expect(provider.model).toBeTruthy();
    expect(provider.baseURL).toBeTruthy();
  });

  test(`${name}: lists models when it declares listModels`, async () => {
    const provider = await make();
    if (!provider.listModels) return;
    const models = await provider.listModels();
    expect(models.length).toBeGreaterThan(0);
    expect(models.every((m) => typeof m === "string")).toBe(true);
  });
}
