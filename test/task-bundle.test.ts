import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { buildTaskBundle } from "../lib/task-bundle-build.ts";
import { bundleFiles, taskBundleDir } from "../lib/task-bundle.ts";
import { fixtureData, root, tempDir, testKey } from "./helpers.ts";

/**
 * The run task's precompiled bundle (lib/task-bundle.ts), on a copy of the project with a
 * node_modules of its own (links to the real packages), so building, editing and breaking it
 * touches neither this checkout nor its bundle.
 */
const temp = tempDir("sa-task-bundle-");
const copy = join(temp.dir, "project");
const work = join(temp.dir, "work");

function copyProject(to: string): void {
  for (const part of ["lib", "scripts", "providers", "package.json", "tsconfig.json"]) cpSync(join(root, part), join(to, part), { recursive: true });
  mkdirSync(join(to, "node_modules"));
  for (const entry of readdirSync(join(root, "node_modules"))) if (entry !== ".cache") symlinkSync(join(root, "node_modules", entry), join(to, "node_modules", entry));
}

/** A copy of its own with a freshly built bundle, for a test that edits, moves or breaks it. */
async function builtCopy(name: string): Promise<string> {
  const project = join(temp.dir, name);
  copyProject(project);
  await buildTaskBundle("run", project);
  return project;
}

const run = async (args: string[], env: Record<string, string | undefined> = {}, options: { project?: string; preload?: string; cwd?: string } = {}) => {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, CI: "true", SA_NO_PRECOMPILED: undefined, ...env })) if (v !== undefined) e[k] = v;
  const preload = options.preload ? ["--preload", join(root, "test/support", options.preload)] : [];
  const proc = Bun.spawn(["bun", ...preload, join(options.project ?? copy, "scripts/run.ts"), ...args], { cwd: options.cwd ?? work, env: e, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
};
const synthetic = (output: string) => ["--model", "synthetic:demo", "--data", fixtureData, "--input", "in.jsonl", "--output", output, "--fresh"];
const note = (stderr: string) => /task code: ([^"\n]*)/.exec(stderr)?.[1] ?? "";

/**
 * The same run from the bundle and from source, each in a folder of its own with the same relative
 * paths (in.jsonl and `files`), the clock and random ids pinned; both results without the start-up note.
 */
async function both(args: string[], files: Record<string, string> = {}) {
  const results = [];
  for (const [way, env] of Object.entries({ bundle: {}, source: { SA_NO_PRECOMPILED: "1" } })) {
    const cwd = join(work, `both-${way}`);
    rmSync(cwd, { recursive: true, force: true });
    mkdirSync(cwd, { recursive: true });
    for (const [name, text] of Object.entries({ "in.jsonl": readFileSync(join(work, "in.jsonl"), "utf8"), ...files })) writeFileSync(join(cwd, name), text);
    const result = await run([...args, "--verbose"], env, { preload: "fixed-clock.ts", cwd });
    const output = existsSync(join(cwd, "out.jsonl")) ? readFileSync(join(cwd, "out.jsonl"), "utf8") : undefined;
    results.push({ ...result, note: note(result.stderr), stderr: result.stderr.replace(/.*task code: .*\n/, ""), output });
  }
  const [bundled, source] = results as [(typeof results)[0], (typeof results)[0]];
  expect(bundled.note).toStartWith("precompiled bundle");
  expect(source.note).toBe("source (SA_NO_PRECOMPILED=1)");
  return { bundled: { ...bundled, note: "" }, source: { ...source, note: "" } };
}

beforeAll(async () => {
  copyProject(copy);
  mkdirSync(work);
  writeFileSync(join(work, "in.jsonl"), `${JSON.stringify({ service_id: "S1", name: "One", description: "A service." })}\n`);
  await buildTaskBundle("run", copy);
}, 60_000);
afterAll(() => temp.cleanup());

describe("the run task's precompiled bundle (lib/task-bundle.ts)", () => {
  test("bun install's build records every project file that went in; a fresh bundle is what a run loads", async () => {
    const manifest = JSON.parse(readFileSync(bundleFiles(taskBundleDir("run", copy)).manifest, "utf8"));
    const files = manifest.inputs.map(([path]: [string]) => relative(copy, path));
    expect(files).toContain("scripts/_task-run.ts");
    expect(files).toContain("lib/pipeline/run.ts");
    // A package is stamped by its package.json (here the real one the copy's node_modules links to).
    expect(files.some((f: string) => f.endsWith("node_modules/zod/package.json"))).toBe(true);
    // The lazily loaded packages stay out of it, in node_modules.
    for (const pkg of ["exceljs", "bullmq", "ioredis", "@opentelemetry", "js-tiktoken", "openai", "@pydantic"]) expect(files.filter((f: string) => f.includes(`node_modules/${pkg}`))).toEqual([]);
    const ran = await run([...synthetic("out.jsonl"), "--verbose"], {}, { preload: "report-modules.ts" });
    expect(ran.code).toBe(0);
    expect(note(ran.stderr)).toStartWith(`precompiled bundle ${taskBundleDir("run", copy)} (fresh, checked in`);
    const loaded = (JSON.parse(/LOADED (.*)/.exec(ran.stderr)![1]!) as string[]).map((p) => relative(copy, p));
    expect(loaded).toContain(relative(copy, bundleFiles(taskBundleDir("run", copy)).code));
    // From source before the bundle: the freshness check, and the exit-130 handler for a Ctrl-C while it loads.
    expect(loaded.filter((p) => p.startsWith("lib/")).sort()).toEqual(["lib/signals.ts", "lib/task-bundle.ts"]);
  }, 30_000);

  test("a bundled run loads none of the packages left external unless its calls need them", async () => {
    const loaded = async (extra: string[], env: Record<string, string> = {}) => {
      const args = [...synthetic("out.jsonl"), "--verbose", ...extra];
      // A later --model wins over synthetic()'s.
      const result = await run(args, env, { preload: "report-modules.ts" });
      return { note: note(result.stderr), paths: (JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!) as string[]).map((p) => p.slice(p.lastIndexOf("node_modules/"))) };
    };
    const heavy = (paths: string[]) => paths.filter((p) => /^node_modules\/(openai|js-tiktoken|@pydantic|@opentelemetry|exceljs|bullmq|ioredis|csv-stringify|yaml|jsonc-parser|rate-limiter-flexible|cli-progress)\//.test(p) || p.startsWith("node_modules/.cache/service-ambitions/openai"));
    expect(heavy((await loaded([])).paths)).toEqual([]);
    // The control: the same probe sees BullMQ when a run asks for a queue (a URL that is not Redis's is refused once it is loaded).
    const queued = await loaded(["--queue", "http://127.0.0.1:1"]);
    expect(queued.note).toStartWith("precompiled bundle");
    expect(heavy(queued.paths).some((p) => p.startsWith("node_modules/bullmq/"))).toBe(true);
    // And the SDK (or its precompiled copy) when a batch run on an openai model asks for it (the upload to a closed port fails once it is loaded).
    const batch = await loaded(["--model", "openai:gpt-4o-mini", "--batch"], { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: "http://127.0.0.1:1/v1" });
    expect(heavy(batch.paths).some((p) => p.startsWith("node_modules/openai/") || p.startsWith("node_modules/.cache/service-ambitions/openai-"))).toBe(true);
  }, 30_000);

  test("output, stdout, stderr and exit codes are the same byte for byte from the bundle and from source", async () => {
    const ok = await both([...synthetic("out.jsonl"), "--json", "--log-format", "json"]);
    expect(ok.bundled.code).toBe(0);
    expect(JSON.parse(ok.bundled.stdout).status).toBe("ok");
    expect(ok.bundled.output).toContain(`"service_id":"S1"`);
    expect(ok.bundled.stderr).toContain("ok: 1 written");
    expect(ok.bundled).toEqual(ok.source);
    // A usage error: the same message, the same --json object, the same exit code (out.jsonl stays as it was).
    const bad = await both(["--inptu", "x", "--json"]);
    expect(bad.bundled.code).toBe(2);
    expect(bad.bundled.stdout).toContain("unknown flag --inptu");
    expect(bad.bundled).toEqual(bad.source);
  }, 60_000);

  test("an SAError thrown by a plug-in that imports lib/errors.ts from source is an SAError to a bundled run too", async () => {
    const plugin = `import { SAError } from ${JSON.stringify(join(copy, "lib/errors.ts"))};
import { defineProvider } from ${JSON.stringify(join(copy, "providers/define.ts"))};
export default defineProvider({ create: (model) => ({ name: "refuser", model, baseURL: "refuser:", complete: async () => { throw new SAError("E_USAGE", "refuser: this account is closed"); } }) });
`;
    const config = JSON.stringify({ providers: { refuser: { type: "module", module: "./refuser.ts" } }, retry: { attempts: 1 } });
    const args = ["--model", "refuser:any", "--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--json"];
    const refused = await both(args, { "refuser.ts": plugin, "service-ambitions.config.json": config });
    expect(refused.bundled.stderr).toContain("refuser: this account is closed");
    expect(refused.bundled.stderr).not.toContain("unexpected error");
    // E_USAGE's exit code: only an SAError carries it (anything else exits 1 as unexpected).
    expect(refused.bundled.code).toBe(2);
    // The stack trace --verbose prints names the same source files, but bundled code may show a
    // frame more or less (and the plug-in sits in each way's own folder): frames aside, the same.
    const frameless = (r: typeof refused.bundled) => ({ ...r, stderr: r.stderr.replace(/^ {4}at .*\n/gm, "") });
    expect(refused.bundled.stderr).toContain("lib/call/request.ts:");
    expect(frameless(refused.bundled)).toEqual(frameless(refused.source));
  }, 60_000);

  test("the catalogue (scripts/index.ts run) starts from the same bundle", async () => {
    const proc = Bun.spawn(["bun", join(copy, "scripts/index.ts"), "run", ...synthetic("out.jsonl"), "--verbose"], { cwd: work, env: { ...process.env, CI: "true", SA_NO_PRECOMPILED: "" }, stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    expect(note(stderr)).toStartWith(`precompiled bundle ${taskBundleDir("run", copy)} (fresh`);
  }, 30_000);

  test("a checkout that moved, or an edited source file: the run loads source, and says why under --verbose only", async () => {
    const built = await builtCopy("moved-from");
    const moved = join(temp.dir, "moved-to");
    renameSync(built, moved);
    const fromMoved = await run([...synthetic("out.jsonl"), "--verbose"], {}, { project: moved });
    expect(fromMoved.code).toBe(0);
    expect(note(fromMoved.stderr)).toStartWith(`source (precompiled bundle not used: built for ${built};`);
    // Back in place it is fresh again; then one edited library file makes it stale.
    renameSync(moved, built);
    expect(note((await run([...synthetic("out.jsonl"), "--verbose"], {}, { project: built })).stderr)).toStartWith("precompiled bundle");
    appendFileSync(join(built, "lib/errors.ts"), "\n// edited\n");
    const bundleDir = taskBundleDir("run", built);
    const before = readdirSync(join(bundleDir, "..")).map((name) => [name, Bun.file(join(bundleDir, "..", name, "index.js")).lastModified]);
    const edited = await run([...synthetic("out.jsonl"), "--verbose"], {}, { project: built });
    expect(edited.code).toBe(0);
    expect(note(edited.stderr)).toStartWith("source (precompiled bundle not used: lib/errors.ts changed since it was built;");
    // A run never rebuilds: only bun install does.
    expect(readdirSync(join(bundleDir, "..")).map((name) => [name, Bun.file(join(bundleDir, "..", name, "index.js")).lastModified])).toEqual(before);
    // Without --verbose nothing is said about it.
    const quiet = await run(synthetic("out.jsonl"), {}, { project: built });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain("precompiled");
    expect(quiet.stderr).toContain("ok: 1 written");
  }, 60_000);

  test("a corrupt, missing or half-recorded bundle falls back to source, and the run succeeds", async () => {
    const project = await builtCopy("broken");
    const dir = taskBundleDir("run", project);
    const attempt = async () => {
      const result = await run([...synthetic("out.jsonl"), "--verbose"], {}, { project });
      expect({ code: result.code, written: result.stderr.includes("ok: 1 written") }).toEqual({ code: 0, written: true });
      return note(result.stderr);
    };
    writeFileSync(bundleFiles(dir).code, "this is not { JavaScript\n");
    expect(await attempt()).toStartWith("source (precompiled bundle not used: it does not load:");
    rmSync(bundleFiles(dir).code);
    expect(await attempt()).toStartWith("source (precompiled bundle not used: it does not load:");
    writeFileSync(bundleFiles(dir).manifest, "{\"bun\":");
    expect(await attempt()).toStartWith(`source (precompiled bundle not used: ${bundleFiles(dir).manifest} does not read as a bundle's inputs;`);
    rmSync(dir, { recursive: true });
    expect(await attempt()).toStartWith("source (precompiled bundle not used: no bundle (bun install builds it);");
  }, 60_000);

  test("a bundle that does not build is a warning: the install step still succeeds, and runs use source", async () => {
    const project = join(temp.dir, "unbuildable");
    copyProject(project);
    appendFileSync(join(project, "scripts/_task-run.ts"), "\nexport const broken = ;\n");
    const proc = Bun.spawn(["bun", join(project, "scripts/_precompile.ts")], { cwd: project, env: { ...process.env }, stdout: "pipe", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(0);
    expect(stderr).toContain("⚠ task run not precompiled (runs load it from source as usual):");
    const left = existsSync(join(project, "node_modules/.cache/service-ambitions")) ? readdirSync(join(project, "node_modules/.cache/service-ambitions")) : [];
    expect(left.filter((name) => name.startsWith("task-"))).toEqual([]);
  }, 60_000);
});
