import { describe, expect, test } from "bun:test";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { taskMeta } from "../scripts/_meta.ts";
import { tasks } from "../scripts/index.ts";
import { fixtureData, root, runScript, tempDir, testKey } from "./helpers.ts";

const run = async (args: string[], cwd: string, env: Record<string, string | undefined> = {}) => {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) e[k] = v;
  const proc = Bun.spawn(args, { cwd, env: e, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
};

describe("task catalogue", () => {
  test("list shows every task with a description; --json gives the same", async () => {
    const text = await run(["bun", "scripts/index.ts", "list"], root);
    const json = JSON.parse((await run(["bun", "scripts/index.ts", "list", "--json"], root)).stdout);
    const names = json.tasks.map((t: { name: string }) => t.name);
    expect(names).toEqual(["preflight", "run", "worker", "queue", "map", "export", "diff", "check", "cache", "usage", "batch", "bench", "bench-export"]);
    for (const t of json.tasks) expect(text.stdout).toContain(`${t.name}`);
    for (const t of json.tasks) expect(t.description.length).toBeGreaterThan(10);
  });

  test("list with an unknown flag, or an unknown task, is a usage error (exit 2) and lists nothing", async () => {
    for (const args of [["list", "--jsn"], ["list", "--json", "--bogus"], ["bogus"]]) {
      const result = await run(["bun", "scripts/index.ts", ...args], root);
      // Nothing is listed; with --json the one object on stdout is the error, as every task gives it.
      const stdout = args.includes("--json") ? `${JSON.stringify({ status: "error", exitCode: 2, code: "E_USAGE", error: result.stderr.trim().slice(2) })}\n` : "";
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout });
      expect(result.stderr).toMatch(/^✖ .*(--jsn|--bogus|"bogus")/);
    }
  });

  test("list loads no task module and none of their dependencies; running a task loads it", async () => {
    const loaded = async (args: string[]) => {
      const result = await run(["bun", "--preload", "./test/support/report-modules.ts", "scripts/index.ts", ...args], root);
      const paths: string[] = JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!);
      return paths.map((p) => relative(root, p)).filter((p) => p !== "test/support/report-modules.ts").sort();
    };
    expect(await loaded(["list"])).toEqual(["scripts/_meta.ts", "scripts/index.ts"]);
    expect(await loaded(["list", "--json"])).toEqual(["scripts/_meta.ts", "scripts/index.ts"]);
    // The control: the same probe sees a task and its dependencies when one runs.
    const usage = await loaded(["usage", "--help"]);
    expect(usage).toContain("scripts/usage.ts");
    expect(usage.some((p) => p.startsWith("node_modules/citty/"))).toBe(true);
  });

  // These probes name the project's own modules, so they run the task from source
  // (SA_NO_PRECOMPILED=1): from its precompiled bundle they are all one file. The packages a bundled
  // run loads are pinned the same way in test/task-bundle.test.ts.
  test("a run without --queue loads neither BullMQ nor the queue code", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify({ service_id: "S1", name: "One", description: "A service." })}\n`);
      const loaded = async (extra: string[]) => {
        const args = ["bun", "--preload", join(root, "test/support/report-modules.ts"), join(root, "scripts/run.ts"), "--model", "synthetic:demo", "--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--quiet", ...extra];
        const result = await run(args, dir, { CI: "true", SA_NO_PRECOMPILED: "1" });
        return (JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!) as string[]).map((p) => relative(root, p));
      };
      const plain = await loaded([]);
      expect(plain).toContain("lib/pipeline/run.ts");
      expect(plain.filter((p) => p.includes("node_modules/bullmq/") || p.startsWith("lib/queue/"))).toEqual([]);
      // The control: the same probe sees the queue code when a run asks for it (a URL that is not
      // Redis's is refused once the code is loaded, so no server is needed).
      const queued = await loaded(["--queue", "http://127.0.0.1:1", "--fresh"]);
      expect(queued.some((p) => p.startsWith("lib/queue/"))).toBe(true);
    } finally {
      cleanup();
    }
  }, 30_000);

  test("a run loads at start only what its calls need: no Batch API code, tokenizer, price table for a free model, SDK it does not use, OpenTelemetry or exceljs", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify({ service_id: "S1", name: "One", description: "A service." })}\n`);
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ retry: { attempts: 1 } }));
      const loaded = async (extra: string[], env: Record<string, string> = {}) => {
        const args = ["bun", "--preload", join(root, "test/support/report-modules.ts"), join(root, "scripts/run.ts"), "--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--quiet", "--fresh", ...extra];
        const result = await run(args, dir, { CI: "true", SA_NO_PRECOMPILED: "1", ...env });
        return (JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!) as string[]).map((p) => relative(root, p));
      };
      const plain = await loaded(["--model", "synthetic:demo"]);
      expect(plain).toContain("lib/pipeline/run.ts");
      expect(plain.filter((p) => p.startsWith("lib/batch/") && p !== "lib/batch/run-key.ts")).toEqual([]);
      for (const pkg of ["openai", "js-tiktoken", "@pydantic/genai-prices", "@opentelemetry", "exceljs", "bullmq"]) {
        expect(plain.filter((p) => p.startsWith(`node_modules/${pkg}/`))).toEqual([]);
      }
      // Nor the SDK's precompiled copy (lib/openai-sdk.ts).
      expect(plain.filter((p) => p.startsWith("node_modules/.cache/"))).toEqual([]);
      // The control: the same probe sees the SDK and the Batch API code when a batch run on an
      // openai model asks for them (the upload to a closed port fails once they are loaded).
      const batch = await loaded(["--model", "openai:gpt-4o-mini", "--batch"], { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: "http://127.0.0.1:1/v1" });
      expect(batch).toContain("lib/batch/mode.ts");
      // The SDK itself, or its precompiled copy when `bun install` made one.
      expect(batch.some((p) => p.startsWith("node_modules/openai/") || p.startsWith("node_modules/.cache/service-ambitions/openai-"))).toBe(true);
    } finally {
      cleanup();
    }
  }, 30_000);

  test("run's static imports leave out what the first request does not need; a run loads it", async () => {
    const later = ["lib/pipeline/features.ts", "lib/pipeline/mapping.ts", "lib/pipeline/evolution.ts", "lib/ledger-recover.ts"];
    const script = `await import(${JSON.stringify(join(root, "scripts/_task-run.ts"))}); process.stderr.write("LOADED " + JSON.stringify(Object.keys(require.cache)) + "\\n");`;
    const result = await run(["bun", "-e", script], root);
    const imported = (JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!) as string[]).map((p) => relative(root, p));
    expect(imported).toContain("lib/pipeline/service.ts");
    expect(imported.filter((p) => later.includes(p))).toEqual([]);
    // Nor what only other flags or tasks use: the Python tool's config schema, the imported-answers
    // namespace (--reuse-imported), dry-run stand-ins, the review checks, --help and --version.
    const never = ["lib/config-python.ts", "lib/cache-imported.ts", "lib/call/dry-run.ts", "lib/review/checks.ts", "scripts/_help.ts", "lib/version.ts"];
    expect(imported.filter((p) => never.includes(p))).toEqual([]);
    // The control: a run loads each of them (the steps after the first answer, the ledger's recovery).
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify({ service_id: "S1", name: "One", description: "A service." })}\n`);
      const args = ["bun", "--preload", join(root, "test/support/report-modules.ts"), join(root, "scripts/run.ts"), "--model", "synthetic:demo", "--data", fixtureData, "--input", "in.jsonl", "--output", "out.jsonl", "--quiet"];
      // The control: --reuse-imported loads the imported namespace's lookup (on a cache miss).
      const reused = await run([...args, "--reuse-imported"], dir, { CI: "true", SA_NO_PRECOMPILED: "1" });
      expect(reused.code).toBe(0);
      expect(reused.stderr).toContain("lib/cache-imported.ts");
      const ran = await run([...args, "--fresh"], dir, { CI: "true", SA_NO_PRECOMPILED: "1" });
      expect(ran.code).toBe(0);
      const loaded = (JSON.parse(/LOADED (.*)/.exec(ran.stderr)![1]!) as string[]).map((p) => relative(root, p));
      expect(later.filter((p) => !loaded.includes(p))).toEqual([]);
      expect(loaded.filter((p) => never.includes(p))).toEqual([]);
    } finally {
      cleanup();
    }
  }, 30_000);

  test("each task takes its meta from the static table list reads", async () => {
    for (const [name, load] of Object.entries(tasks)) {
      const meta = (await load()).default.meta;
      expect(meta).toBe(taskMeta[name as keyof typeof taskMeta]);
      expect(meta.name).toBe(name);
    }
  });

  test("bunx service-ambitions <task> works from the checkout", async () => {
    const result = await run(["bunx", "service-ambitions", "list", "--json"], root);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).tasks).toHaveLength(13);
  });

  test("--version on the catalogue and on every task prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const tasks = JSON.parse((await run(["bun", "scripts/index.ts", "list", "--json"], root)).stdout).tasks.map((t: { name: string }) => t.name);
    const commands = [["bun", "scripts/index.ts", "--version"], ...tasks.map((t: string) => ["bun", `scripts/${t}.ts`, "--version"]), ["bun", "scripts/index.ts", "map", "--version"]];
    for (const command of commands) {
      const result = await run(command, root);
      expect({ command, code: result.code, stdout: result.stdout }).toEqual({ command, code: 0, stdout: `service-ambitions ${version}\n` });
    }
  });

  test("an unknown task or flag is a usage error (exit 2) naming it", async () => {
    const task = await run(["bun", "scripts/index.ts", "frobnicate"], root);
    expect(task.code).toBe(2);
    expect(task.stderr).toContain('unknown task "frobnicate"');
    const flag = await run(["bun", "scripts/run.ts", "--inptu", "x"], root);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown flag --inptu");
    const number = await run(["bun", "scripts/run.ts", "--concurrency", "lots", "--input", "x", "--output", "y"], root);
    expect(number.code).toBe(2);
    expect(number.stderr).toContain("--concurrency");
  });

  test("with --json, an unknown task or a bad list flag still prints its one JSON object on stdout (exit 2)", async () => {
    for (const args of [["frobnicate", "--json"], ["list", "--json", "--bogus"]]) {
      const result = await run(["bun", "scripts/index.ts", ...args], root);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      const lines = result.stdout.split("\n").filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ status: "error", exitCode: 2, code: "E_USAGE" });
    }
    // Without --json stdout stays empty: the error is on stderr only.
    expect((await run(["bun", "scripts/index.ts", "frobnicate"], root)).stdout).toBe("");
  });
});

describe("preflight", () => {
  test("bad lines: exit 1, each line named", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("preflight", ["--input", join(root, "fixtures/services-with-bad-lines.jsonl"), "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("✖ input");
      expect(result.stdout).toMatch(/services-with-bad-lines\.jsonl:2: invalid JSON/);
      expect(result.stdout).toMatch(/services-with-bad-lines\.jsonl:3: name:/);
    } finally {
      cleanup();
    }
  });

  test("a data file or an input file that cannot be read: exit 2, as run exits, naming it", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const noData = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", join(dir, "nowhere"), "--model", "synthetic:demo"], { cwd: dir });
      expect(noData.code).toBe(2);
      expect(noData.stdout).toMatch(/✖ data: .*nowhere/);
      const noInput = await runScript("preflight", ["--input", join(dir, "missing.jsonl"), "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(noInput.code).toBe(2);
      expect(noInput.stdout).toMatch(/✖ input: .*missing\.jsonl/);
      const run = await runScript("run", ["--input", join(dir, "missing.jsonl"), "--output", "out.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(run.code).toBe(2);
    } finally {
      cleanup();
    }
  });

  test("a good setup: exit 0 with an estimate, and no model call", async () => {
    const { startTestServer } = await import("../lib/test-server.ts");
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData, "--json", "--online"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report.ok).toBe(true);
      expect(report.checks.map((c: { name: string }) => c.name)).toEqual(["config", "data", "prompts", "input", "cache", "environment", "provider", "estimate"]);
      expect(report.estimate.calls).toBe(168);
      expect(report.estimate.costUsd).toBeGreaterThan(0);
      expect(server.requests).toHaveLength(0); // GET /models is not a model call, and is not recorded
      const text = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(text.stdout).toMatch(/✔ estimate: 168 calls/);
      expect(text.stdout).toContain("preflight passed");
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("an input or data it cannot read at all is exit 2, as run exits; bad lines stay exit 1", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const common = ["--model", "synthetic:demo"];
      const missingInput = await runScript("preflight", ["--input", "nope.jsonl", "--data", fixtureData, ...common], { cwd: dir });
      expect(missingInput.code).toBe(2);
      expect(missingInput.stdout).toContain("✖ input: nope.jsonl: file not found");
      cpSync(fixtureData, join(dir, "data"), { recursive: true });
      rmSync(join(dir, "data", "technologies.json"));
      const missingData = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", "data", ...common], { cwd: dir });
      expect(missingData.code).toBe(2);
      expect(missingData.stdout).toContain("technologies.json: file not found");
      const run = await runScript("run", ["--input", join(root, "fixtures/services.jsonl"), "--output", "out.jsonl", "--data", "data", ...common], { cwd: dir });
      expect(run.code).toBe(2);
      const badLines = await runScript("preflight", ["--input", join(root, "fixtures/services-with-bad-lines.jsonl"), "--data", fixtureData, ...common], { cwd: dir });
      expect(badLines.code).toBe(1);
    } finally {
      cleanup();
    }
  });

  test("without OPENAI_API_KEY it names the variable; over budget it fails", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const noKey = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
      expect(noKey.code).toBe(1);
      expect(noKey.stdout).toContain("✖ environment: OPENAI_API_KEY is not set");
      const budget = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl"), "--data", fixtureData, "--budget", "0.0001"], { cwd: dir });
      expect(budget.code).toBe(1);
      expect(budget.stdout).toContain("over the budget");
      writeFileSync(join(dir, "service-ambitions.config.json"), '{"concurrency": "many"}');
      const badConfig = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl")], { cwd: dir });
      expect(badConfig.code).toBe(2);
      // The file and line, named once: not "config: config FILE".
      expect(badConfig.stdout).toMatch(/✖ config: \S*service-ambitions\.config\.json:1: concurrency/);
      writeFileSync(join(dir, "service-ambitions.config.json"), "{}");
      const badEnv = await runScript("preflight", ["--input", join(root, "fixtures/services.jsonl")], { cwd: dir, env: { SA_RPM: "fast" } });
      expect(badEnv.code).toBe(2);
      expect(badEnv.stdout).toContain("✖ config: SA_RPM (rpm): ");
    } finally {
      cleanup();
    }
  });
});

describe("README", () => {
  test("the Makefile example works as written and skips up-to-date steps", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const makefile = /```make\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(makefile).toBeDefined();
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "Makefile"), makefile!);
      const env = { SA_CACHE__BASE: join(dir, "cache"), SA_LEDGER__PATH: join(dir, "usage.json"), SA_QUARANTINE_DIR: join(dir, "quarantine"), OPENAI_API_KEY: testKey };
      const first = await run(["make", "-f", join(dir, "Makefile"), `OUT=${join(dir, "out")}`], root, env);
      expect(first.code).toBe(0);
      for (const f of ["preflight.json", "evolutions.jsonl", "mapped.jsonl", "report.html", "report.xlsx", "features.csv"]) expect(readFileSync(join(dir, "out", f)).length).toBeGreaterThan(0);
      const second = await run(["make", "-f", join(dir, "Makefile"), `OUT=${join(dir, "out")}`, "-q"], root, env);
      expect(second.code).toBe(0); // -q: everything is up to date
    } finally {
      cleanup();
    }
  });
});
