import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildPrecompiled, installedVersion, keptPackageCopy, precompiledDir, precompiledFile, pruneStale } from "../lib/precompiled.ts";
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

  test("an install removes the copies of other versions of what it keeps, and nothing else", () => {
    const root = join(temp.dir, "prune");
    const openai = keptPackageCopy("openai", root);
    const task = { dir: join(root, `task-run-bun-${Bun.version}`), family: "task-run-bun-" };
    const stale = ["openai-0.0.1-bun-1.0.0", "task-run-bun-1.0.0"];
    // Not of a kept family (another package, a longer family name), or a build in progress: left alone.
    const others = ["pydantic-genai-prices-0.0.1-bun-1.0.0", "openai-agents-1.0.0-bun-1.0.0", "task-runner-bun-1.0.0", "openai-9-bun-9.abcd.tmp"];
    for (const name of [basename(openai.dir), basename(task.dir), ...stale, ...others]) {
      mkdirSync(join(root, name), { recursive: true });
      writeFileSync(join(root, name, "index.js"), "");
    }
    expect(pruneStale([openai, task])).toEqual([...stale].sort());
    expect(readdirSync(root).sort()).toEqual([basename(openai.dir), basename(task.dir), ...others].sort());
    expect(pruneStale([openai, task])).toEqual([]);
  });

  test("a kept folder seen through another checkout's linked node_modules is not another version", () => {
    // A project copy whose node_modules links to this one keeps this checkout's package copies by
    // their real path: its own task bundle family lives in its own folder, so this one's stays.
    const real = join(temp.dir, "real");
    const mine = { dir: join(real, `task-run-bun-${Bun.version}`), family: "task-run-bun-" };
    mkdirSync(mine.dir, { recursive: true });
    const copy = { dir: join(temp.dir, "copy", `task-run-bun-${Bun.version}`), family: "task-run-bun-" };
    expect(pruneStale([keptPackageCopy("openai", real), copy])).toEqual([]);
    expect(existsSync(mine.dir)).toBe(true);
  });
});
