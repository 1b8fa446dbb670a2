import { expect, test } from "bun:test";
import { z } from "zod";
import { zodResponseFormat } from "openai/helpers/zod";
import type { ChatRequest, Provider } from "../../providers/types.ts";

const schema = z.strictObject({
  items: z.array(z.strictObject({ role: z.enum(["a", "b"]), name: z.string(), level: z.int().min(1).max(5), note: z.string().nullable() })),
});

export const contractRequest = (content = "hello"): ChatRequest => ({
  messages: [
    { role: "system", content: "You answer with JSON." },
    { role: "user", content },
  ],
  schema,
  schemaName: "contract",
  jsonSchema: zodResponseFormat(schema, "contract").json_schema.schema as Record<string, unknown>,
});

/** The contract every provider meets; each provider's test file calls this once. */
export function testProvider(name: string, make: () => Promise<Provider> | Provider): void {
  test(`${name}: answers with JSON that fits the schema`, async () => {
    const provider = await make();
    const result = await provider.complete(contractRequest());
    const parsed = schema.parse(JSON.parse(result.content));
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

  test(`${name}: names itself for the cache key`, async () => {
    const provider = await make();
    expect(provider.name).toBe(name);
    expect(provider.model).toBeTruthy();
    expect(provider.baseURL).toBeTruthy();
  });
}
