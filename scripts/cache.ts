#!/usr/bin/env bun
import { existsSync, statSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { pruneCache } from "../lib/cache-prune.ts";
import { parseDuration } from "../lib/duration.ts";
import { importEvolutions, importPythonCache } from "../lib/cache-import.ts";
import { describeStore, entryFilter, statsText, storeStats } from "../lib/cache-stats.ts";
import { formatCount } from "../lib/format.ts";
import { createCacheStorage, storeFailure } from "../lib/cache.ts";
import { SAError } from "../lib/errors.ts";
import type { Config } from "../lib/schema/config.ts";
import type { Storage } from "unstorage";
import { readLedger } from "../lib/ledger.ts";
import { commonArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";
import type { Log } from "../lib/log.ts";

/** Asks on a terminal; a script must say --yes, since nobody is there to answer. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new SAError("E_USAGE", "cache clear removes every entry: give --yes to confirm (no terminal to ask)");
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

/** The store, its namespaces and total, its oldest and newest entries, and the last run's hit rate. */
async function statsReport(storage: Storage, config: Config): Promise<{ data: unknown; text: string }> {
  const stats = await storeStats(storage, describeStore(config.cache), entryFilter(config.cache));
  const last = readLedger(config.ledger.path).runs.at(-1);
  const served = last ? last.totals.cachedCalls + last.totals.liveCalls : 0;
  const hitRate = last && served ? last.totals.cachedCalls / served : null;
  const lastRun = last ? { runId: last.runId, hitRate, cachedCalls: last.totals.cachedCalls, liveCalls: last.totals.liveCalls } : null;
  const hits = last
    ? `hit rate of the last run (${last.runId}): ${hitRate === null ? "n/a" : `${(hitRate * 100).toFixed(1)}%`} (${formatCount(last.totals.cachedCalls)} cached, ${formatCount(last.totals.liveCalls)} live)`
    : "no run in the ledger yet";
  return { data: { driver: config.cache.driver, ...stats, lastRun }, text: `${statsText(stats)}\n${hits}` };
}

/** What one action is given. */
interface ActionContext {
  args: { "older-than"?: string; namespace?: string; yes?: boolean; dir?: string; evolutions?: string };
  log: Log;
  storage: Storage;
  config: Config;
  /** Writes the action's result: its JSON with --json, else its line. */
  out(data: unknown, text: string): void;
}

/** `cache prune`: by age, by namespace, or both. */
async function prune({ args, storage, config, out }: ActionContext): Promise<number> {
  const olderThan = args["older-than"];
  const olderThanMs = olderThan === undefined ? undefined : parseDuration(olderThan);
  if (olderThan !== undefined && olderThanMs === undefined) throw new SAError("E_USAGE", `--older-than: expected an age such as 30d, 12h, 45m, got "${olderThan}"`);
  if (olderThanMs === undefined && !args.namespace) throw new SAError("E_USAGE", "prune needs --older-than and/or --namespace (use `cache clear` to remove everything)");
  const removed = await pruneCache(storage, { namespace: args.namespace, olderThanMs, isEntry: entryFilter(config.cache) });
  out({ removed }, `removed ${removed} entries`);
  return 0;
}

/** `cache clear`: every entry, after asking (or --yes). */
async function clear({ args, log, storage, config, out }: ActionContext): Promise<number> {
  const store = describeStore(config.cache);
  const all = await storage.getKeys();
  const entries = all.filter(entryFilter(config.cache));
  if (entries.length > 0 && !args.yes && !(await confirm(`Remove all ${formatCount(entries.length)} entries from ${store}? [y/N] `))) {
    log.warn("cache clear: nothing removed");
    return 1;
  }
  // The queue's and the rate limits' keys in the same Redis stay.
  if (entries.length === all.length) await storage.clear();
  else for (const key of entries) await storage.removeItem(key);
  out({ removed: entries.length }, `removed ${formatCount(entries.length)} entries from ${store}`);
  return 0;
}

/** `cache import`: a Python cache folder, or an evolutions file (or folder of them). */
async function importAnswers({ args, log, storage, out }: ActionContext): Promise<number> {
  const { dir, evolutions } = args;
  if (!dir && !evolutions) throw new SAError("E_USAGE", "cache import needs a Python cache folder (cache import DIR) or an evolutions file (cache import --evolutions FILE)");
  if (dir && evolutions) throw new SAError("E_USAGE", "cache import: give a folder or --evolutions FILE, not both");
  const source = (dir ?? evolutions)!;
  if (!existsSync(source)) throw new SAError("E_INPUT_UNREADABLE", `cache import ${source}: not found`);
  if (dir && !statSync(dir).isDirectory()) throw new SAError("E_USAGE", `cache import ${dir}: a file, not a folder (give the Python tool's cache folder; an evolutions file goes with --evolutions FILE)`);
  const report = dir ? await importPythonCache(storage, dir) : await importEvolutions(storage, source);
  for (const problem of report.problems) log.warn(`import: ${problem}`);
  log.info(`import: ${report.migrated} migrated, ${report.skipped} skipped, ${report.invalid} invalid`);
  out(report, `migrated ${report.migrated}, skipped ${report.skipped}, invalid ${report.invalid}`);
  return report.invalid > 0 ? 1 : 0;
}

const actions = {
  async stats({ storage, config, out }: ActionContext) {
    const report = await statsReport(storage, config);
    out(report.data, report.text);
    return 0;
  },
  prune,
  clear,
  import: importAnswers,
} satisfies Record<string, (context: ActionContext) => Promise<number>>;
const actionNames = Object.keys(actions) as (keyof typeof actions)[];

/** The action each of the task's own arguments belongs to (`--yes` is harmless anywhere). */
const ownerOf = { dir: "import", evolutions: "import", "older-than": "prune", namespace: "prune" } as const;

/**
 * Another action's argument is a usage error, never dropped: `cache clear --namespace x --yes`
 * would clear every namespace, and `cache stats DIR` report on the config's store, not on DIR.
 */
function refuseOthersArgs(action: string, args: Record<string, unknown>): void {
  for (const [arg, owner] of Object.entries(ownerOf)) {
    if (owner === action || args[arg] === undefined) continue;
    const given = arg === "dir" ? `a folder ("${String(args[arg])}")` : `--${arg}`;
    throw new SAError("E_USAGE", `cache ${action}: ${given} is for cache ${owner} only (see --help)`);
  }
}

const task = defineTask({
  meta: taskMeta.cache,
  args: {
    action: { type: "positional", description: `${actionNames.join(" | ")}`, required: true },
    dir: { type: "positional", description: "import: the Python tool's cache folder", required: false },
    evolutions: { type: "string", description: "import: seed the cache from this evolutions file, or a folder of them (ours or the Python tool's), instead" },
    "older-than": { type: "string", description: "prune: entries older than this, e.g. 30d, 12h" },
    namespace: { type: "string", description: "prune: only this namespace, e.g. default:mapping or transcripts" },
    yes: { type: "boolean", alias: "y", description: "clear: do not ask (needed when not on a terminal)" },
    ...commonArgs,
  },
  async run({ args, log, config: load }) {
    const action = args.action as keyof typeof actions;
    if (!actionNames.includes(action)) throw new SAError("E_USAGE", `cache: unknown action "${args.action}" (known: ${actionNames.join(", ")})`);
    refuseOthersArgs(action, args);
    const config = await load();
    const storage = await createCacheStorage(config.cache);
    const out = (data: unknown, text: string) => void writeStdout(args.json ? `${JSON.stringify(data)}\n` : `${text}\n`);
    try {
      return await actions[action]({ args, log, storage, config, out });
    } catch (error) {
      if (error instanceof SAError) throw error;
      throw new SAError("E_CACHE", `cache ${action}: ${describeStore(config.cache)} failed (${storeFailure(storage, error)})`, { cause: error });
    } finally {
      await storage.dispose();
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
