import { buildPrecompiled, installedVersion, precompiledDir, precompiledFile } from "./precompiled.ts";

/**
 * The official openai SDK, loaded from a precompiled copy when there is one (lib/precompiled.ts).
 *
 * Importing the SDK means reading and compiling its ~200 modules: 25–40 ms on every run that
 * calls an OpenAI endpoint, all of it before the first request. Its precompiled copy loads in
 * under 10 ms. Without the copy, the SDK is imported from node_modules as before.
 */
export type OpenAISdk = typeof import("openai");

/** The installed SDK's version. */
export const sdkVersion = (): string => installedVersion("openai");

/** Where the precompiled copy of this SDK version for this Bun lives. */
export const bundleDir = (cacheRoot?: string): string => precompiledDir("openai", cacheRoot);

/** How the SDK was loaded, for the debug log and tests. */
export let sdkSource: "bundle" | "package" | undefined;

/** The SDK: the precompiled copy when it is there and loads, the package otherwise. */
export async function loadOpenAISdk(cacheRoot?: string): Promise<OpenAISdk> {
  const file = precompiledFile("openai", cacheRoot);
  if (file) {
    try {
      const sdk = (await import(file)) as OpenAISdk;
      if (typeof sdk.OpenAI === "function" && typeof sdk.APIError === "function") {
        sdkSource = "bundle";
        return sdk;
      }
    } catch {
      // A copy that does not load is no copy: the package below is the same SDK.
    }
  }
  sdkSource = "package";
  return import("openai");
}

/** Builds the precompiled copy for the installed SDK and this Bun; returns its folder. */
export const buildSdkBundle = (cacheRoot?: string): Promise<string> => buildPrecompiled("openai", cacheRoot);
