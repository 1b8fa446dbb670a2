import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { Glob } from "bun";
import { root } from "./helpers.ts";

/**
 * Which part may import which. The parts, outermost first: scripts/ (tasks) → lib/ (the library,
 * with lib/pipeline/ knowing only the session) → providers/ (one file per provider). A rule names
 * a folder and the folders or packages its files must not import.
 */
const folderRules: Array<{ from: string; forbid: string[]; why: string }> = [
  { from: "lib/", forbid: ["scripts/", "test/", "bench/"], why: "the library never reaches back into tasks or tests" },
  { from: "providers/", forbid: ["scripts/", "test/", "lib/pipeline/"], why: "providers know requests, not the pipeline" },
  { from: "lib/pipeline/", forbid: ["providers/", "scripts/"], why: "the pipeline reaches models only through the session" },
  { from: "lib/pipeline/", forbid: ["lib/runtime.ts"], why: "the pipeline gets its narrow RunContext, never the whole runtime" },
  { from: "scripts/", forbid: ["test/"], why: "tasks never load test code" },
];

/** Heavy or vendor packages and the only files allowed to load them. */
const packageRules: Array<{ pkg: RegExp; only: RegExp; why: string }> = [
  { pkg: /^@opentelemetry\//, only: /^lib\/tracing-otel\.ts$/, why: "tracing loads only when an endpoint is set" },
  { pkg: /^exceljs$/, only: /^lib\/export\//, why: "only the XLSX export needs it" },
  { pkg: /^ioredis$/, only: /^lib\//, why: "Redis clients are built in the library" },
  { pkg: /^(ai|@ai-sdk\/.*|p-limit)$/, only: /^bench\//, why: "the AI SDK baseline belongs to the benchmark, never to the product" },
];

const specifier = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** Every import of every source file, as [file, target] with relative targets resolved from the root. */
function imports(): Array<{ file: string; target: string }> {
  const found: Array<{ file: string; target: string }> = [];
  for (const folder of ["lib", "providers", "scripts"]) {
    for (const path of new Glob(`${folder}/**/*.ts`).scanSync({ cwd: root })) {
      const text = readFileSync(join(root, path), "utf8");
      for (const match of text.matchAll(specifier)) {
        const spec = (match[1] ?? match[2])!;
        const target = spec.startsWith(".") ? relative(root, join(root, dirname(path), spec)) : spec;
        found.push({ file: path, target });
      }
    }
  }
  return found;
}

describe("architecture", () => {
  const all = imports();

  test("the import scan sees the project's imports", () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all).toContainEqual({ file: "scripts/_task-run.ts", target: "lib/pipeline/run.ts" });
  });

  test.each(folderRules)("$from imports none of $forbid ($why)", ({ from, forbid }) => {
    const bad = all.filter((i) => i.file.startsWith(from) && forbid.some((f) => i.target.startsWith(f)));
    expect(bad).toEqual([]);
  });

  test("the pipeline names no Runtime at all, not even as a type", () => {
    const named = [...new Glob("lib/pipeline/**/*.ts").scanSync({ cwd: root })].filter((path) => /\bRuntime\b/.test(readFileSync(join(root, path), "utf8")));
    expect(named).toEqual([]);
  });

  test.each(packageRules)("$pkg is loaded only where allowed ($why)", ({ pkg, only }) => {
    const bad = all.filter((i) => pkg.test(i.target) && !only.test(i.file));
    expect(bad).toEqual([]);
  });

  test("stdout is written only through lib/stdout.ts, which listens for a reader that goes away", () => {
    // scripts/index.ts prints the list and the version without loading it.
    const allowed = new Set(["lib/stdout.ts", "scripts/index.ts"]);
    const writers = ["lib", "providers", "scripts"].flatMap((folder) => [...new Glob(`${folder}/**/*.ts`).scanSync({ cwd: root })]);
    const bad = writers.filter((path) => !allowed.has(path) && /process\.stdout\.(write|end|pipe|on)\b|\.pipe\(process\.stdout/.test(readFileSync(join(root, path), "utf8")));
    expect(bad).toEqual([]);
  });
});
