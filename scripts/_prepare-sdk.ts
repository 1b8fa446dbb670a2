#!/usr/bin/env bun
/**
 * Run by `bun install` (package.json `postinstall`): precompiles the openai SDK and the price
 * table so runs load them faster (lib/precompiled.ts). It never fails an install: without a copy,
 * runs import the package as usual. `bun scripts/_prepare-sdk.ts` builds them again by hand.
 */
import { buildPrecompiled } from "../lib/precompiled.ts";

// The SDK (lib/openai-sdk.ts) and the price table (lib/pricing.ts).
for (const name of ["openai", "@pydantic/genai-prices"]) {
  try {
    const started = performance.now();
    const dir = await buildPrecompiled(name);
    process.stderr.write(`${name} precompiled in ${Math.round(performance.now() - started)} ms: ${dir}\n`);
  } catch (error) {
    process.stderr.write(`${name} not precompiled (runs import it as usual): ${(error as Error).message}\n`);
  }
}
