import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fixtureData, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

// A Python tool user's folder: its config/app.yaml keeps the cache in ${XDG_CACHE_HOME}/service-ambitions,
// which already holds the Python tool's answers (<context>/<service>/.../<key>.json). Ours go beside them.
let dir: string;
let cleanup: () => void;
let cacheDir: string;
let pythonFiles: string[];

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const pythonFilesLeft = () => filesUnder(join(cacheDir, "university")).map((f) => relative(cacheDir, f)).sort();
const env = () => ({ XDG_CACHE_HOME: join(dir, "xdg") });
const cache = (...args: string[]) => runScript("cache", args, { cwd: dir, env: env() });

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-cache-pyfolder-"));
  cpSync(join(root, "fixtures", "python-config"), dir, { recursive: true });
  cacheDir = join(dir, "xdg", "service-ambitions");
  cpSync(join(root, "fixtures", "python-cache", "university"), join(cacheDir, "university"), { recursive: true });
  pythonFiles = pythonFilesLeft();
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
  const run = await runScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, env: env() });
  expect(run.code).toBe(0);
});
afterAll(() => cleanup());

describe("cache tasks on the Python tool's cache folder, shared with its files", () => {
  test("stats counts our entries only, not the Python tool's <key>.json files", async () => {
    const json = JSON.parse((await cache("stats", "--json")).stdout);
    expect(json.store).toBe(`fs ${cacheDir}`);
    expect(json.total.entries).toBe(21);
    expect(json.namespaces.map((n: { namespace: string }) => n.namespace).filter((ns: string) => ns.startsWith("university"))).toEqual([]);
  });

  test("prune and clear remove our entries and leave every file of the Python tool", async () => {
    expect(JSON.parse((await cache("prune", "--older-than", "0d", "--json")).stdout)).toEqual({ removed: 21 });
    expect(pythonFilesLeft()).toEqual(pythonFiles);
    const input = writeJsonl(join(dir, "in2.jsonl"), makeServices(1));
    expect((await runScript("run", ["--model", "synthetic:demo", "--input", input, "--output", "out2.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, env: env() })).code).toBe(0);
    expect(JSON.parse((await cache("clear", "--yes", "--json")).stdout)).toEqual({ removed: 21 });
    expect(pythonFilesLeft()).toEqual(pythonFiles);
    // And they can still be imported afterwards.
    expect((await cache("import", cacheDir)).stdout).toContain("migrated 42,");
  });
});
