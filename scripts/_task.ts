import { defineCommand, runCommand, type ArgsDef, type CommandDef, type ParsedArgs } from "citty";
import { SAError, errorMessage, isSAError } from "../lib/errors.ts";
import { createLog, setLogField, type Log } from "../lib/log.ts";
import { redact } from "../lib/redact.ts";
import { exitOnSignal, signalExitCode, type StopSignal } from "../lib/signals.ts";
import { flushStdout, writeStdout } from "../lib/stdout.ts";
import { loadConfig, type LoadedConfig } from "../lib/config.ts";
import { unusedModelFlag } from "../lib/model-settings.ts";
import { pythonFlagHint } from "../lib/python-flags.ts";
import { configOverrides } from "./_args.ts";

export interface TaskMeta {
  name: string;
  description: string;
}

export interface TaskContext<T extends ArgsDef> {
  args: ParsedArgs<T>;
  log: Log;
  /** Loads file → SA_* → flags, once. */
  config(extra?: Record<string, unknown>): Promise<LoadedConfig>;
}

export interface Task<T extends ArgsDef = ArgsDef> {
  meta: TaskMeta;
  args: T;
  /** Returns the exit code. Throws SAError for anything the user must fix. */
  run(context: TaskContext<T>): Promise<number>;
}

/** Nitro's `defineTask`: an identity function, there for type inference. */
export const defineTask = <const T extends ArgsDef>(task: Task<T>): Task<T> => task;

function unknownFlag(rawArgs: string[], args: ArgsDef): string | undefined {
  const known = new Set(["help", "h"]);
  const switches = new Set(["h"]);
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    known.add(`no-${name}`);
    for (const a of ["alias" in def ? (def.alias ?? []) : []].flat()) {
      known.add(a);
      if (def.type === "boolean") switches.add(a);
    }
  }
  // `-vv` is `-v -v`: a run of one-letter switches (the Python tool's `-vvvv` and `-qq` among them).
  const letters = (raw: string) => /^-[A-Za-z]{2,}$/.test(raw) && [...raw.slice(1)].every((c) => switches.has(c));
  for (const raw of rawArgs) {
    if (raw === "--") break;
    const m = /^--?([^=]+)/.exec(raw);
    if (m && raw !== "-" && !/^-\d/.test(raw) && !known.has(m[1]!) && !letters(raw)) return raw.split("=")[0];
  }
  return undefined;
}

/**
 * The flag (as typed) that takes a value and was given none. citty parses with node's
 * `parseArgs` in non-strict mode: a value flag at the end of the line becomes "" and
 * `--budget --json` takes "--json" as its value, so a spending cap would silently vanish.
 */
export function missingValue(rawArgs: string[], args: ArgsDef): string | undefined {
  const valued = valuedFlags(args);
  for (let i = 0; i < rawArgs.length; i++) {
    const raw = rawArgs[i]!;
    if (raw === "--") break;
    const eq = raw.startsWith("--") ? raw.indexOf("=") : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    if (!valued.has(flag)) continue;
    const value = eq > 0 ? raw.slice(eq + 1) : rawArgs[++i];
    // "-" is stdin/stdout and "-5" a (bad) number for the flag's own check; "--json" is a flag.
    if (value === undefined || value.trim() === "" || (value.startsWith("-") && value !== "-" && !/^-\d/.test(value))) return flag;
  }
  return undefined;
}

/** The flags that take a value, as typed (`--output`, `-o`). */
function valuedFlags(args: ArgsDef): Set<string> {
  const valued = new Set<string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type !== "string" && def.type !== "enum") continue;
    valued.add(`--${name}`);
    for (const a of ["alias" in def ? (def.alias ?? []) : []].flat()) valued.add(a.length === 1 ? `-${a}` : `--${a}`);
  }
  return valued;
}

/**
 * The first argument no positional of the task takes. citty drops it without a word, so
 * `check -i a.jsonl b.jsonl` would check a.jsonl alone and `export ... --view all features` export all.
 */
export function extraArgument(rawArgs: string[], args: ArgsDef): string | undefined {
  const valued = valuedFlags(args);
  const room = Object.values(args).filter((def) => def.type === "positional").length;
  const positionals: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const raw = rawArgs[i]!;
    if (raw === "--") {
      positionals.push(...rawArgs.slice(i + 1));
      break;
    }
    if (raw === "-" || !raw.startsWith("-")) positionals.push(raw);
    else if (valued.has(raw)) i++;
  }
  return positionals[room];
}

/** A task's `config()`: file → SA_* → flags, loaded once; a `--model` that no stage uses is said once. */
function configLoader(args: Record<string, unknown>, log: Log, taskName: string): TaskContext<ArgsDef>["config"] {
  let loaded: LoadedConfig | undefined;
  return async (extra = {}) => {
    if (!loaded) {
      loaded = await loadConfig({ configPath: args.config as string | undefined, overrides: { ...configOverrides(args), ...extra }, log });
      const unused = typeof args.model === "string" ? unusedModelFlag(loaded, args.model) : undefined;
      if (unused) log.warn(unused);
    }
    setLogField("task", taskName);
    return loaded;
  };
}

/** The command line's mistakes citty lets through, as usage errors. */
function refuseBadArgs(rawArgs: string[], args: ArgsDef, logFormat: string | undefined): void {
  const bad = unknownFlag(rawArgs, args);
  if (bad) {
    const hint = pythonFlagHint(bad);
    throw new SAError("E_USAGE", hint ? `unknown flag ${bad}: ${hint} (see MIGRATING.md)` : `unknown flag ${bad} (see --help)`);
  }
  const empty = missingValue(rawArgs, args);
  if (empty) throw new SAError("E_USAGE", `${empty} needs a value (see --help)`);
  const extra = extraArgument(rawArgs, args);
  if (extra !== undefined) throw new SAError("E_USAGE", `unexpected argument "${extra}" (see --help)`);
  if (logFormat !== "text" && logFormat !== "json") throw new SAError("E_USAGE", `--log-format: expected text or json, got "${logFormat}"`);
}

/** Tasks that say themselves how a signal ended them (run and map their summary, preflight its checks). */
const ownSignalWords = new Set(["run", "map", "preflight"]);
/** Tasks that exit 130 or 143 on a signal without `--json` too (the README's exit codes); the others keep the default action. */
const signalExits = new Set(["export", "diff", "check"]);

/**
 * Ctrl-C or SIGTERM ends export, diff and check with exit 130 or 143 (an export's temp file goes
 * with it, lib/export/sink.ts), and with `--json` every other task too, with its one object
 * (`{status: "interrupted", exitCode}`). A listener waits for the event loop to turn (an export
 * streams in chunks, so that is well under a second).
 */
function exitOnSignalFor(name: string, json: boolean): void {
  if (ownSignalWords.has(name)) return;
  const words = (signal: StopSignal) => `${JSON.stringify({ status: "interrupted", exitCode: signalExitCode(signal), stopReason: `${signal} received` })}\n`;
  if (json) exitOnSignal(process.exit, { lastWords: words });
  else if (signalExits.has(name)) exitOnSignal();
}

/**
 * Whether a switch was given: `--quiet`, `-q`, or within a run of one-letter switches (`-qq`, the
 * Python tool's `-vvvv`), which the parser takes as the switch too; the log must agree with it.
 */
export function switchGiven(rawArgs: string[], name: string, letter: string): boolean {
  const end = rawArgs.indexOf("--");
  const flags = end < 0 ? rawArgs : rawArgs.slice(0, end);
  return flags.some((raw) => raw === `--${name}` || (/^-[A-Za-z]+$/.test(raw) && raw.includes(letter)));
}

/** Says why a task failed: one line, the stack with --verbose, --json's object. Returns the exit code. */
function reportFailure(caught: unknown, options: { log: Log; verbose: boolean; json: boolean }): number {
  const { log } = options;
  // citty's own argument errors (a missing positional) are usage errors too.
  const error = (caught as Error)?.name === "CLIError" ? new SAError("E_USAGE", `${(caught as Error).message} (see --help)`, { cause: caught }) : caught;
  const code = isSAError(error) ? error.exitCode : 1;
  const message = isSAError(error) ? error.message : `unexpected error: ${errorMessage(error)}`;
  log.error(message);
  if (options.verbose && error instanceof Error) log.debug(error);
  else if (!isSAError(error)) log.info("run again with --verbose for the stack trace");
  // Scripts that parse --json output still get one object, even when the task could not start.
  if (options.json) void writeStdout(`${JSON.stringify({ status: "error", exitCode: code, code: isSAError(error) ? error.code : "E_UNEXPECTED", error: redact(message) })}\n`);
  return code;
}

/**
 * Runs a task as a program. Only this prints the final error and exits. `note` is a debug line
 * from the start-up (scripts/_start.ts: whether the task's code came from its bundle), logged
 * at the end.
 */
export async function runTask<T extends ArgsDef>(task: Task<T>, rawArgs = process.argv.slice(2), options: { note?: string } = {}): Promise<never> {
  const command: CommandDef<T> = defineCommand({ meta: task.meta, args: task.args });
  const verbose = switchGiven(rawArgs, "verbose", "v");
  const quiet = switchGiven(rawArgs, "quiet", "q");
  const formatAt = rawArgs.findIndex((a) => a === "--log-format" || a.startsWith("--log-format="));
  const format = formatAt < 0 ? "text" : rawArgs[formatAt]!.includes("=") ? rawArgs[formatAt]!.split("=")[1] : rawArgs[formatAt + 1];
  const log = createLog({ verbose, quiet, format: format === "json" ? "json" : "text" });
  let code: number;
  try {
    if (rawArgs.includes("--help") || rawArgs.includes("-h")) {
      // Help and the version line load only when asked for.
      void writeStdout((await import("./_help.ts")).renderHelp(task.meta, task.args));
      code = 0;
    } else if (rawArgs.includes("--version")) {
      void writeStdout(`${(await import("../lib/version.ts")).versionLine()}\n`);
      code = 0;
    } else {
      refuseBadArgs(rawArgs, task.args, format);
      exitOnSignalFor(task.meta.name, rawArgs.includes("--json"));
      let exit = 0;
      await runCommand(
        defineCommand({
          ...command,
          run: async ({ args }) => {
            exit = await task.run({ args: args as ParsedArgs<T>, log, config: configLoader(args, log, task.meta.name) });
          },
        }),
        { rawArgs },
      );
      code = exit;
    }
  } catch (caught) {
    code = reportFailure(caught, { log, verbose, json: rawArgs.includes("--json") });
  }
  // Said last, so the line carries the run's fields (task, run id) like every other.
  if (options.note) log.debug(options.note);
  // Bun drops what a slow pipe has not taken yet when the process exits: wait for it.
  await flushStdout();
  process.exit(code);
}
