import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadOpenAISdk } from "../lib/openai-sdk.ts";
import { buildPrecompiled, installedVersion, precompiledDir } from "../lib/precompiled.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { tempDir, testKey } from "./helpers.ts";
import * as sdkModule from "../lib/openai-sdk.ts";

describe("the openai SDK's precompiled copy (lib/openai-sdk.ts)", () => {
  let server: TestServer;
  const temp = tempDir("sa-sdk-");
  beforeAll(() => {
    server = startTestServer();
  });
  afterAll(async () => {
    await server.stop();
    temp.cleanup();
  });

  test("is built per SDK and Bun version, loads, and answers a chat call like the package", async () => {
    const root = join(temp.dir, "built");
    const dir = await buildPrecompiled("openai", root);
    expect(dir).toBe(precompiledDir("openai", root));
    expect(dir).toEndWith(`openai-${installedVersion("openai")}-bun-${Bun.version}`);
    expect(existsSync(join(dir, "index.js"))).toBe(true);
    expect(existsSync(join(dir, "index.js.jsc"))).toBe(true);
    const sdk = await loadOpenAISdk(root);
    expect(sdkModule.sdkSource).toBe("bundle");
    const client = new sdk.OpenAI({ apiKey: testKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Say hi" }],
      response_format: { type: "json_schema", json_schema: { name: "hi", strict: true, schema: { type: "object", properties: { hi: { type: "string" } }, required: ["hi"], additionalProperties: false } } },
    });
    expect(typeof answer.choices[0]?.message.content).toBe("string");
    expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${testKey}`);
    // Its errors are its own classes, as the provider's `instanceof` checks expect.
    const failed = await (async () => {
      try {
        await new sdk.OpenAI({ apiKey: testKey, baseURL: "http://127.0.0.1:1/v1", maxRetries: 0 }).models.list();
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(failed).toBeInstanceOf(sdk.APIConnectionError);
  });

  test("a second build keeps the copy that is there", async () => {
    const root = join(temp.dir, "built");
    const before = Bun.file(join(precompiledDir("openai", root), "index.js")).lastModified;
    await buildPrecompiled("openai", root);
    expect(Bun.file(join(precompiledDir("openai", root), "index.js")).lastModified).toBe(before);
  });

  test("SA_NO_PRECOMPILED=1 leaves the copy aside", () => {
    const root = join(temp.dir, "built");
    process.env.SA_NO_PRECOMPILED = "1";
    try {
      loadOpenAISdk(root);
      expect(sdkModule.sdkSource).toBe("package");
    } finally {
      delete process.env.SA_NO_PRECOMPILED;
    }
    // The control: the same copy is used without it.
    loadOpenAISdk(root);
    expect(sdkModule.sdkSource).toBe("bundle");
  });

  test("without a copy, or with one that does not load, the package is imported", async () => {
    const sdk = await loadOpenAISdk(join(temp.dir, "empty"));
    expect(sdkModule.sdkSource).toBe("package");
    expect(typeof sdk.OpenAI).toBe("function");
    const broken = join(temp.dir, "broken");
    mkdirSync(precompiledDir("openai", broken), { recursive: true });
    writeFileSync(join(precompiledDir("openai", broken), "index.js"), "throw new Error('half a file');\n");
    const fallback = await loadOpenAISdk(broken);
    expect(sdkModule.sdkSource).toBe("package");
    expect(typeof fallback.APIError).toBe("function");
  });
});
