/**
 * The Python tool's command-line flags that have no flag of the same name here, and what takes
 * their place (MIGRATING.md, Flags): said with "unknown flag", so a Makefile carried over from the
 * Python tool is told what to write instead.
 */
const renamed: Record<string, string> = {
  "input-file": "--input",
  "output-file": "--output",
  "mapping-data-dir": "--data",
  "roles-file": "--data (roles.json in the data folder)",
  "strict-mapping": "--strict",
  "fail-on-quarantine": "--strict",
  "json-logs": "--log-format json",
  "allow-prompt-logging": "--log-prompts or --transcripts",
  "transcripts-dir": "--transcripts (transcripts go to the cache store)",
  "use-local-cache": "--cache-mode read",
  "no-use-local-cache": "--cache-mode off",
  "cache-dir": "config cache.base (SA_CACHE__BASE, or SA_CACHE_DIR)",
  seed: "config seed (SA_SEED)",
  trace: "--rationale, --ledger-calls or OTEL_EXPORTER_OTLP_ENDPOINT",
  diagnostics: "preflight",
};

const notNeeded: Record<string, string> = {
  resume: "running the same command again skips what --output already holds; --fresh starts over",
  continue: "running the same command again skips what --output already holds; --fresh starts over",
  "search-model": "there is no web search stage",
  "web-search": "there is no web search",
  "no-web-search": "there is no web search",
  progress: "progress is always shown (bars on a terminal, lines in CI); --quiet hides it",
  "trace-ids": "every final error names the provider's request id",
  "temp-output-dir": "the output is written atomically; cache import --evolutions DIR reads such a folder",
};

/** What to write instead of `flag` (as typed, `--flag` or `--flag=value`), when it is one of the Python tool's. */
export function pythonFlagHint(flag: string): string | undefined {
  const name = flag.replace(/^--?/, "").split("=")[0]!;
  if (Object.hasOwn(renamed, name)) return `the Python tool's --${name} is ${renamed[name]} here`;
  if (Object.hasOwn(notNeeded, name)) return `not needed here: ${notNeeded[name]}`;
  return undefined;
}

/** The Python tool's commands that have no task of the same name here. */
const commands: Record<string, string> = {
  reverse: "cache import --evolutions FILE (it seeds the cache from an evolutions file; map reads evolutions directly)",
  validate: "preflight --input FILE (or run --dry-run); neither calls a model",
};

/** What to run instead of the Python tool's command `name`, when it is one. */
export const pythonCommandHint = (name: string): string | undefined =>
  Object.hasOwn(commands, name) ? `the Python tool's ${name} is ${commands[name]} here` : undefined;
