import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { cacheHasher, cacheKey } from "../../lib/cache.ts";
import { prepareAttempt } from "../../lib/call/attempt.ts";
import type { CallContext, Route } from "../../lib/call/context.ts";
import type { CallSpec } from "../../lib/call-spec.ts";
import { createResponseFormats } from "../../lib/response-format.ts";
import type { Provider } from "../../providers/types.ts";

const provider = { name: "openai", model: "gpt-4o-mini", baseURL: "http://127.0.0.1:1/v1", complete: async () => ({}) } as unknown as Provider;
const route: Route = { provider, settings: { temperature: 0.2 } };
const schema = z.strictObject({ mappings: z.array(z.strictObject({ feature_id: z.string() })) });

/** A call whose message texts count how often they are read: hashing reads every one. */
function countedSpec() {
  const reads = { count: 0 };
  const message = (role: "system" | "user", text: string) => ({
    role,
    get content() {
      reads.count++;
      return text;
    },
  });
  const spec: CallSpec<unknown> = { task: "run", stage: "mapping", serviceId: "S 1", priority: 0, messages: [message("system", "s".repeat(2000)), message("user", "u")], schema, schemaName: "m", pins: { feature_id: ["F2", "F1"] } };
  return { spec, reads };
}

describe("an attempt's hash and key", () => {
  test("are made on first use, not when the attempt is prepared (a live call with the cache off never needs them)", () => {
    const { spec, reads } = countedSpec();
    const ctx = { namespace: "ns", formats: createResponseFormats() } as unknown as CallContext;
    const attempt = prepareAttempt(ctx, spec, route);
    expect(attempt.model).toBe("openai:gpt-4o-mini");
    expect(reads.count).toBe(0);
    const key = attempt.key;
    expect(reads.count).toBeGreaterThan(0);
    const after = reads.count;
    expect(attempt.key).toBe(key); // made once
    expect(attempt.hash).toBe(key.split(":").at(-1)!);
    expect(reads.count).toBe(after);
  });

  test("are the same as made at once from the same parts", () => {
    const { spec } = countedSpec();
    const formats = createResponseFormats();
    const attempt = prepareAttempt({ namespace: "ns", formats } as unknown as CallContext, spec, route);
    const keySchema = createResponseFormats().forCall(schema, spec.pins).keySchema;
    const hash = cacheHasher({ provider: "openai", baseURL: provider.baseURL, model: "gpt-4o-mini", temperature: 0.2, stage: "mapping" })(spec.messages, keySchema);
    expect(attempt.hash).toBe(hash);
    expect(attempt.key).toBe(cacheKey("ns", "mapping", "S 1", hash));
  });
});
