#!/usr/bin/env bun
/**
 * Run by `bun install` (package.json `postinstall`): precompiles the openai SDK so runs load it
 * faster (lib/openai-sdk.ts). It never fails an install: without the copy, runs import the SDK
 * as usual. `bun scripts/_prepare-sdk.ts` builds it again by hand.
 */
import { buildSdkBundle } from "../lib/openai-sdk.ts";

try {
  const started = performance.now();
  const dir = await buildSdkBundle();
  process.stderr.write(`openai SDK precompiled in ${Math.round(performance.now() - started)} ms: ${dir}\n`);
} catch (error) {
  process.stderr.write(`openai SDK not precompiled (runs import it as usual): ${(error as Error).message}\n`);
}
