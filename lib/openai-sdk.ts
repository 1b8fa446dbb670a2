import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomHex } from "./hash.ts";

/**
 * The official openai SDK, loaded from a precompiled copy when there is one.
 *
 * Importing the SDK means reading and compiling its ~200 modules: 25–40 ms on every run that
 * calls an OpenAI endpoint, all of it before the first request. The same code bundled into one
 * file with its JavaScriptCore bytecode (`bun build --bytecode`) loads in under 10 ms. `bun
 * install` builds that copy (package.json's `postinstall`, scripts/_prepare-sdk.ts) under
 * `node_modules/.cache/service-ambitions/`, in a folder named by the SDK's and Bun's versions: an
 * upgrade of either misses it, and the SDK is then imported from node_modules as usual. It is the
 * same SDK either way; only how it is loaded differs.
 */
export type OpenAISdk = typeof import("openai");

const entryPath = () => Bun.resolveSync("openai", import.meta.dir);

/** The installed SDK's version, read from its package.json (next to, or above, its entry file). */
export function sdkVersion(): string {
  for (let dir = dirname(entryPath()); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, "package.json");
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "openai" && pkg.version) return pkg.version;
  }
  throw new Error("openai SDK: package.json not found");
}

/** Where the precompiled copy of this SDK version for this Bun lives. */
export function bundleDir(cacheRoot = defaultCacheRoot()): string {
  return join(cacheRoot, `openai-${sdkVersion()}-bun-${Bun.version}`);
}

function defaultCacheRoot(): string {
  const modules = entryPath().slice(0, entryPath().lastIndexOf("node_modules") + "node_modules".length);
  return join(modules, ".cache", "service-ambitions");
}

/** How the SDK was loaded, for the debug log and tests. */
export let sdkSource: "bundle" | "package" | undefined;

/** The SDK: the precompiled copy when it is there and loads, the package otherwise. */
export async function loadOpenAISdk(cacheRoot?: string): Promise<OpenAISdk> {
  const file = join(bundleDir(cacheRoot), "index.js");
  if (existsSync(file)) {
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

/**
 * Builds the precompiled copy for the installed SDK and this Bun: bundled into a temporary folder,
 * then renamed into place, so a reader never sees half of it. Returns its folder.
 */
export async function buildSdkBundle(cacheRoot = defaultCacheRoot()): Promise<string> {
  const target = bundleDir(cacheRoot);
  if (existsSync(join(target, "index.js"))) return target;
  const temp = `${target}.${randomHex(4)}.tmp`;
  mkdirSync(dirname(target), { recursive: true });
  try {
    const result = await Bun.build({ entrypoints: [entryPath()], outdir: temp, target: "bun", format: "cjs", bytecode: true, naming: "index.js" });
    if (!result.success) throw new Error(result.logs.map((entry) => entry.message).join("; ") || "bun build failed");
    // Another install may have won the race: its copy is the same.
    if (!existsSync(target)) renameSync(temp, target);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return target;
}
