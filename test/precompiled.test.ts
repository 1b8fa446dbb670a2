import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPrecompiled, installedVersion, precompiledDir, precompiledFile, pruneStale } from "../lib/precompiled.ts";
import { createPricing, priceTablePackage } from "../lib/pricing.ts";
import { tempDir } from "./helpers.ts";

describe("precompiled packages (lib/precompiled.ts)", () => {
  const temp = tempDir("sa-precompiled-");
  afterAll(() => temp.cleanup());

  test("the price table's copy is built per package and Bun version and prices a call as the package does", async () => {
    const root = join(temp.dir, "built");
    expect(precompiledFile(priceTablePackage, root)).toBeUndefined();
    const dir = await buildPrecompiled(priceTablePackage, root);
    expect(dir).toBe(precompiledDir(priceTablePackage, root));
    expect(dir).toEndWith(`pydantic-genai-prices-${installedVersion(priceTablePackage)}-bun-${Bun.version}`);
    expect(existsSync(join(dir, "index.js.jsc"))).toBe(true);
    const copy = require(precompiledFile(priceTablePackage, root)!) as typeof import("@pydantic/genai-prices");
    const original = require(priceTablePackage) as typeof import("@pydantic/genai-prices");
    const usage = { input_tokens: 1234, cache_read_tokens: 200, output_tokens: 567 };
    const priced = copy.calcPrice(usage, "gpt-4o-mini", { providerId: "openai" })?.total_price;
    expect(priced).toBeGreaterThan(0);
    expect(priced).toBe(original.calcPrice(usage, "gpt-4o-mini", { providerId: "openai" })?.total_price);
  });

  test("pricing gives the package's price whichever copy it loaded", () => {
    const original = require(priceTablePackage) as typeof import("@pydantic/genai-prices");
    const cost = createPricing({}).cost("openai:gpt-4o-mini", { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500 });
    const expected = original.calcPrice({ input_tokens: 1000, output_tokens: 500 }, "gpt-4o-mini", { providerId: "openai" })?.total_price;
    expect(cost).toBeCloseTo(expected!, 9);
  });

  test("an install removes the copies of other versions and leaves the current ones and builds in progress", () => {
    const root = join(temp.dir, "prune");
    const current = [precompiledDir("openai", root), join(root, `task-run-bun-${Bun.version}`)];
    const stale = ["openai-0.0.1-bun-1.0.0", "task-run-bun-1.0.0", "pydantic-genai-prices-0.0.1-bun-1.0.0"];
    for (const dir of [...current, ...stale.map((name) => join(root, name)), join(root, "openai-9-bun-9.abcd.tmp")]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "index.js"), "");
    }
    expect(pruneStale(current)).toEqual([...stale].sort());
    for (const dir of current) expect(existsSync(join(dir, "index.js"))).toBe(true);
    for (const name of stale) expect(existsSync(join(root, name))).toBe(false);
    expect(existsSync(join(root, "openai-9-bun-9.abcd.tmp"))).toBe(true);
    expect(pruneStale(current)).toEqual([]);
  });
});
