import { loadPrecompiled } from "./precompiled.ts";

/**
 * The official openai SDK, loaded from a precompiled copy when there is one (lib/precompiled.ts).
 *
 * Importing the SDK means reading and compiling its ~200 modules: 25–40 ms on every run that
 * calls an OpenAI endpoint, all of it before the first request. Its precompiled copy loads in
 * under 10 ms. Without the copy, the SDK is loaded from node_modules as before.
 */
export type OpenAISdk = typeof import("openai");

/** How the SDK was loaded, for the debug log and tests. */
export let sdkSource: "bundle" | "package" | undefined;

/** The SDK: the precompiled copy when it is there and loads, the package otherwise. */
export function loadOpenAISdk(cacheRoot?: string): OpenAISdk {
  const { module, from } = loadPrecompiled<OpenAISdk>("openai", (sdk) => typeof sdk.OpenAI === "function" && typeof sdk.APIError === "function", cacheRoot);
  sdkSource = from === "copy" ? "bundle" : "package";
  return module;
}
