import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeFromSchema } from "../lib/fake-answer.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

/**
 * A reasoning model that spends its whole output cap on reasoning: no answer, finish_reason
 * "length". The descriptions call is answered (with the same usage), so each plateau's features
 * call is made: a service whose descriptions stay empty asks nothing more.
 */
function cutOffServer() {
  const models: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      const body = (await req.json()) as { model: string; max_completion_tokens?: number; response_format?: { json_schema?: { name?: string; schema?: Record<string, unknown> } } };
      models.push(body.model);
      const cap = body.max_completion_tokens ?? 4000;
      const schema = body.response_format?.json_schema;
      const described = schema?.name === "plateau_descriptions" ? JSON.stringify(fakeFromSchema(schema.schema ?? {}, "cap")) : undefined;
      return Response.json({
        id: "chatcmpl-cut",
        object: "chat.completion",
        created: 1,
        model: body.model,
        choices: [{ index: 0, finish_reason: described ? "stop" : "length", message: { role: "assistant", content: described ?? "", refusal: null } }],
        usage: { prompt_tokens: 1000, completion_tokens: cap, total_tokens: 1000 + cap, completion_tokens_details: { reasoning_tokens: cap } },
      });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1`, models, stop: () => server.stop(true) };
}

describe("an answer cut off at the output cap", () => {
  test("is not re-asked (the same cap would cut it again); its reason names the cap, and the usage is still paid for", async () => {
    const server = cutOffServer();
    const { dir, cleanup } = tempDir("sa-output-cap-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-5", maxOutputTokens: 2000 }));
      const result = await runScript("run", ["--input", "services.jsonl", "--output", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url, env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      // Descriptions and each plateau's features asked once each: no re-asks.
      expect(server.models).toHaveLength(6);
      expect(result.stderr).toContain("cut off at the output cap (2000 tokens, 2000 of them reasoning)");
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { totals: { liveCalls: number; outputTokens: number } };
      expect(summary.totals).toMatchObject({ liveCalls: 6, outputTokens: 12_000 });
      const quarantine = readdirSync(join(dir, ".sa", "quarantine")).map((f) => readFileSync(join(dir, ".sa", "quarantine", f), "utf8")).join("");
      expect(quarantine).toContain("cut off at the output cap");
    } finally {
      cleanup();
      server.stop();
    }
  }, 60_000);
});
