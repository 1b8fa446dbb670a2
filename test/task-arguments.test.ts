import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

// An argument of another action was dropped without a word: `cache clear --namespace NS --yes`
// removed every entry, `cache stats DIR` reported on the config's store, `batch list ID` listed all.
test.each([
  [["cache", "clear", "--namespace", "default:mapping", "--yes"], "cache clear: --namespace is for cache prune only (see --help)"],
  [["cache", "clear", "--older-than", "30d", "--yes"], "cache clear: --older-than is for cache prune only (see --help)"],
  [["cache", "stats", "old-cache"], 'cache stats: a folder ("old-cache") is for cache import only (see --help)'],
  [["cache", "prune", "--older-than", "30d", "--evolutions", "x.jsonl"], "cache prune: --evolutions is for cache import only (see --help)"],
  [["batch", "list", "batch_abc"], 'batch list takes no id ("batch_abc"): batch status ID shows one batch'],
  // Two outputs asked for where stdout takes one: usage, as diff, refuses --json with --format md.
  [["usage", "--json", "--format", "md"], "--json and --format are exclusive"],
  // A flag of a mode that is not on changed nothing: --batch-below without batch mode, as --local-workers without --queue.
  [["run", "--batch-below", "5", "--model", "synthetic:demo"], "--batch-below needs --batch (or batch.enabled in the config)"],
  [["map", "--batch-below", "5", "--model", "synthetic:demo"], "--batch-below needs --batch (or batch.enabled in the config)"],
])("%p is refused, exit 2, and nothing is done", async ([task, ...args], message) => {
  const { dir, cleanup } = tempDir();
  try {
    const result = await runScript(task!, args, { cwd: dir });
    expect(result.stderr).toBe(`✖ ${message}\n`);
    expect(result.code).toBe(2);
    // --json's object says so too, and nothing else reaches stdout.
    expect(result.stdout).toBe(args.includes("--json") ? `${JSON.stringify({ status: "error", exitCode: 2, code: "E_USAGE", error: message })}\n` : "");
  } finally {
    cleanup();
  }
});

test("each action still takes its own arguments", async () => {
  const { dir, cleanup } = tempDir();
  try {
    expect((await runScript("cache", ["prune", "--namespace", "default:mapping", "--older-than", "30d"], { cwd: dir })).code).toBe(0);
    expect((await runScript("cache", ["clear", "--yes"], { cwd: dir })).code).toBe(0);
    expect((await runScript("cache", ["stats", "-y"], { cwd: dir })).code).toBe(0);
    expect((await runScript("batch", ["list"], { cwd: dir })).code).toBe(0);
  } finally {
    cleanup();
  }
});

test("run with queue.url in its config but no --queue works in its own process, and says so once", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeJsonl(join(dir, "in.jsonl"), makeServices(1));
    // Nothing listens there: a run that tried the queue would fail.
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "synthetic:demo", queue: { url: "redis://127.0.0.1:1/0" } }));
    const result = await runScript("run", ["--input", "in.jsonl", "--output", "out.jsonl"], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stderr.split("\n").filter((l) => l.includes("config queue.url is set, but this run works in this process: give --queue"))).toHaveLength(1);
  } finally {
    cleanup();
  }
});
