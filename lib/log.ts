// The core alone: the reporters are ours, and consola's own (with their dependencies) never load.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { printableLines } from "./printable.ts";
import { redact } from "./redact.ts";

export type LogFormat = "text" | "json";
export interface LogOptions {
  verbose?: boolean;
  quiet?: boolean;
  /** @default "text" */
  format?: LogFormat;
}

/** Fields added to every JSON log line (run id, and the service id where a line carries one). */
const fields: Record<string, unknown> = {};
export function setLogField(key: string, value: unknown): void {
  fields[key] = value;
}

/** While a live display owns the terminal (the progress bars), text lines go to it, to be written above it. */
let divert: ((text: string) => void) | undefined;
export function divertLogLines(to: ((text: string) => void) | undefined): void {
  divert = to;
}

const badges: Record<string, string> = { error: "✖", fatal: "✖", warn: "⚠", info: "ℹ", success: "✔", debug: "·", trace: "·", log: "", ready: "✔", start: "◐", box: "" };

function splitArgs(args: unknown[]): { message: string; extra: Record<string, unknown> } {
  const extra: Record<string, unknown> = {};
  const parts: unknown[] = [];
  for (const arg of args) {
    if (arg && typeof arg === "object" && !(arg instanceof Error) && !Array.isArray(arg)) Object.assign(extra, arg);
    else parts.push(arg instanceof Error ? arg.message : arg);
  }
  // Plain strings need no formatter; node:util's inspect is slow to load, so only other values load it.
  const message = parts.every((p) => typeof p === "string") ? parts.join(" ") : require("node:util").formatWithOptions({ colors: false }, ...parts);
  return { message: redact(message), extra };
}

// `stderr`: the lines go to the process's stderr (not a stream a test handed in), which a display may take over.
const textReporter = (out: () => NodeJS.WriteStream, stderr: boolean) => ({
  log(obj: LogObject) {
    const { message, extra } = splitArgs(obj.args);
    const scope = typeof extra.serviceId === "string" ? `[${extra.serviceId}] ` : "";
    const badge = badges[obj.type] ?? "";
    // Ids and words from the input or a model may hold escape sequences: shown, never acted on.
    let line = `${badge ? `${badge} ` : ""}${printableLines(scope + message)}`;
    // A stack trace only when asked for with --verbose (level 4+).
    const error = obj.args.find((a): a is Error => a instanceof Error);
    if (error?.stack && obj.level >= 4) line += `\n${redact(error.stack)}`;
    if (divert && stderr) divert(`${line}\n`);
    else out().write(`${line}\n`);
  },
});

const jsonReporter = (out: () => NodeJS.WriteStream) => ({
  log(obj: LogObject) {
    const { message, extra } = splitArgs(obj.args);
    const record = { time: obj.date.toISOString(), level: obj.type, message, ...fields, ...extra };
    out().write(`${redact(JSON.stringify(record))}\n`);
  },
});

/** Builds the logger: everything on stderr, so stdout stays for results. */
export function createLog(options: LogOptions = {}, stream?: NodeJS.WriteStream): ConsolaInstance {
  const level = options.quiet ? 0 : options.verbose ? 4 : 3;
  // stderr is made on the first line written: making it loads node's streams (milliseconds), which a quiet run may never need.
  const out = () => stream ?? process.stderr;
  const reporter = options.format === "json" ? jsonReporter(out) : textReporter(out, !stream);
  return createConsola({ level, reporters: [reporter] });
}

export type Log = ConsolaInstance;
export const silentLog: Log = createConsola({ level: -999, reporters: [] });
