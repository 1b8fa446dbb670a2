import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomHex } from "./hash.ts";
import { precompiledOff } from "./task-bundle.ts";

/**
 * Precompiled copies of large packages: the package bundled into one file with its
 * JavaScriptCore bytecode (`bun build --bytecode`), which loads in a fraction of the time it takes
 * to read and compile the package itself (the openai SDK, the price table). `bun install` builds
 * them (package.json's `postinstall`, scripts/_precompile.ts) under
 * `node_modules/.cache/service-ambitions/`, in a folder named by the package's and Bun's versions:
 * an upgrade of either misses it, and the package is then loaded from node_modules as usual. It
 * is the same code either way; only how it is loaded differs.
 */

const entryPath = (name: string) => Bun.resolveSync(name, import.meta.dir);

/** An installed package's version, read from its package.json (next to, or above, its entry file). */
export function installedVersion(name: string): string {
  for (let dir = dirname(entryPath(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, "package.json");
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
    if (pkg.name === name && pkg.version) return pkg.version;
  }
  throw new Error(`${name}: package.json not found`);
}

/** Where the precompiled copy of this version of a package for this Bun lives. */
export function precompiledDir(name: string, cacheRoot = defaultCacheRoot(name)): string {
  return join(cacheRoot, `${safeName(name)}-${installedVersion(name)}-bun-${Bun.version}`);
}

const safeName = (name: string) => name.replace(/^@/, "").replace(/\//g, "-");

function defaultCacheRoot(name: string): string {
  const entry = entryPath(name);
  const modules = entry.slice(0, entry.lastIndexOf("node_modules") + "node_modules".length);
  return join(modules, ".cache", "service-ambitions");
}

/** The copy's file, when there is one. */
export function precompiledFile(name: string, cacheRoot?: string): string | undefined {
  const file = join(precompiledDir(name, cacheRoot), "index.js");
  return existsSync(file) ? file : undefined;
}

/**
 * The package: its precompiled copy when there is one, it loads and `fits` (has what the caller
 * uses), else the package from node_modules. A copy that does not load is no copy: it is the same code.
 * `SA_NO_PRECOMPILED=1` leaves every copy aside.
 */
export function loadPrecompiled<T>(name: string, fits: (module: T) => boolean, cacheRoot?: string): { module: T; from: "copy" | "package" } {
  const file = precompiledOff() ? undefined : precompiledFile(name, cacheRoot);
  if (file) {
    try {
      const module = require(file) as T;
      if (fits(module)) return { module, from: "copy" };
    } catch {
      // Fall back to the package below.
    }
  }
  return { module: require(name) as T, from: "package" };
}

/**
 * `bun build --target=bun --format=cjs --bytecode` into `outdir` (as index.js, with its bytecode
 * beside it): the one build both the package copies and the task bundles (lib/task-bundle-build.ts)
 * are made with. A failed build throws with the build's own messages.
 */
export async function buildBytecode(options: { entrypoints: string[]; outdir: string } & Partial<Bun.BuildConfig>): Promise<Bun.BuildOutput> {
  const result = await Bun.build({ target: "bun", format: "cjs", bytecode: true, naming: "index.js", ...options });
  if (!result.success) throw new Error(result.logs.map((entry) => entry.message).join("; ") || "bun build failed");
  return result;
}

/**
 * Builds the precompiled copy of an installed package for this Bun: bundled into a temporary
 * folder, then renamed into place, so a reader never sees half of it. Returns its folder.
 */
export async function buildPrecompiled(name: string, cacheRoot?: string): Promise<string> {
  const target = precompiledDir(name, cacheRoot);
  if (existsSync(join(target, "index.js"))) return target;
  const temp = `${target}.${randomHex(4)}.tmp`;
  mkdirSync(dirname(target), { recursive: true });
  try {
    await buildBytecode({ entrypoints: [entryPath(name)], outdir: temp });
    // Another install may have won the race: its copy is the same.
    if (!existsSync(target)) renameSync(temp, target);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return target;
}

/** A folder an install keeps, and the start of the names of its other versions' folders. */
export interface KeptCopy {
  dir: string;
  family: string;
}

/** The copy of this version of a package kept by an install, and its family (`openai-<version>-bun-<bun>`). */
export const keptPackageCopy = (name: string, cacheRoot?: string): KeptCopy => ({ dir: precompiledDir(name, cacheRoot), family: `${safeName(name)}-` });

/**
 * Removes what earlier installs left beside each kept folder for other versions of the same
 * package or task (its family), which no run will use again. Other folders there are left alone,
 * and so is a folder being built (`*.tmp`). Returns the names removed.
 */
export function pruneStale(kept: KeptCopy[]): string[] {
  const removed: string[] = [];
  for (const { dir, family } of kept) {
    const root = dirname(dir);
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root)) {
      // A family's other members: its prefix, then a version (a digit), never a longer family's name.
      if (name === basename(dir) || !name.startsWith(family) || !/^\d/.test(name.slice(family.length)) || name.endsWith(".tmp")) continue;
      rmSync(join(root, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed.sort();
}
