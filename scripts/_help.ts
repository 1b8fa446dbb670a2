import type { ArgsDef } from "citty";
import type { TaskMeta } from "./_task.ts";

/** Help text: plain (no colour codes, so it reads the same in a pipe), wrapped at 80 columns. */
const WIDTH = 80;

/** A few command lines per task, shown under "Examples". */
const examples: Record<string, string[]> = {
  preflight: ["preflight --model openai:gpt-4o-mini -i services.jsonl", "preflight --online --budget 5 --json > preflight.json"],
  run: ["run --model synthetic:demo -i services.jsonl -o out/evo.jsonl", "run -i in.jsonl -o out.jsonl --budget 5 --concurrency 16", "run --queue redis://127.0.0.1:6379/0 -i in.jsonl -o out.jsonl", "run -i in.jsonl -o out.jsonl --batch --batch-below 20"],
  worker: ["worker --queue redis://127.0.0.1:6379/0 --concurrency 8", "worker --queue redis://redis.internal:6379/2 --grace 60"],
  queue: ["queue status --queue redis://127.0.0.1:6379/0", "queue retry-failed", "queue clean --json"],
  map: ["map --input out/evolutions.jsonl --output out/mapped.jsonl", "map -i out/evo.jsonl -o out/apps.jsonl --sets applications"],
  export: [
    "export -i out/evolutions.jsonl -o out/report.html --data data",
    "export -i out/evolutions.jsonl -o out/report.xlsx",
    "export -i out/evolutions.jsonl -o out/features.csv --no-bom",
    "export -i out/evolutions.jsonl -o out/story.md --view narrative",
  ],
  diff: ["diff out/before.jsonl out/after.jsonl", "diff old.jsonl new.jsonl --json | jq .features", "diff old.jsonl new.jsonl --format html -o changes.html"],
  check: ["check -i out/evolutions.jsonl --data data", "check -i out/evolutions.jsonl --json > checks.json"],
  cache: ["cache stats", "cache prune --older-than 30d", "cache clear --yes", "cache import ~/python-tool/.cache"],
  usage: ["usage", "usage --all --since 7d", 'usage --format md >> "$GITHUB_STEP_SUMMARY"'],
  batch: ["batch list", "batch list --all --json", "batch status batch_abc123", "batch cancel batch_abc123"],
  "bench-export": ["bench-export --services 10000 --formats xlsx,html", "bench-export --evolutions out/evolutions.jsonl --formats all"],
  bench: ["bench --services 20 --latency 200 --compare", "bench --services 40 --server-tpm 1000000", "bench --cached 1000", "bench --workers 1,2,4 --server-rpm 1200 --concurrency 2"],
};

const stopped = "130  stopped by Ctrl-C (143: by SIGTERM)";
const pipelineCodes = [
  "0    every service written",
  "1    bad input lines or failed services; with --strict, anything quarantined",
  "2    bad usage or config, or an input that cannot be read",
  "3    stopped by a usage limit or the budget",
  stopped,
  "141  the reader of --output - went away",
];
/** What each exit code means, for the tasks whose codes say more than ok or failed. */
const exitCodes: Record<string, string[]> = {
  run: pipelineCodes,
  map: pipelineCodes,
  export: ["0    exported", "1    exported, but some input lines were bad", "2    bad usage or config, or an input that cannot be read", stopped],
  diff: ["0    the two files are the same", "1    they differ", "2    bad usage, or a file that cannot be read or has a bad line", stopped],
  check: ["0    no check set to error failed", "1    a check set to error failed, a line was bad, or (--strict) any warning", "2    bad usage or config, or an input that cannot be read", stopped],
};

export function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}

function flag(name: string, def: ArgsDef[string]): string {
  const aliases = ["alias" in def ? (def.alias ?? []) : []].flat().map((a) => `-${a}, `).join("");
  const value = def.type === "string" ? ` ${name.replace(/-/g, "_").toUpperCase()}` : "";
  return `${aliases}--${name}${value}`;
}

function optionLines(args: ArgsDef): string[] {
  const out: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const head = `  ${flag(name, def)}`;
    const description = `${def.description ?? ""}${def.type === "boolean" && def.default === true ? ` (--no-${name} to turn off)` : ""}`;
    // A long flag gets its own line, its description indented below it.
    const [first, ...rest] = wrap(description, WIDTH, head.length <= 28 ? 30 : 8);
    if (head.length <= 28) out.push(`${head.padEnd(30)}${first}`, ...rest.map((l) => `${" ".repeat(30)}${l}`));
    else out.push(head, ...[first, ...rest].map((l) => `${" ".repeat(8)}${l}`));
  }
  return out;
}

export function renderHelp(meta: TaskMeta, args: ArgsDef): string {
  const positionals = Object.entries(args).filter(([, d]) => d.type === "positional");
  const usage = `Usage: bun scripts/${meta.name}.ts ${positionals.map(([n, d]) => (d.required === false ? `[${n.toUpperCase()}]` : n.toUpperCase())).join(" ")}${positionals.length ? " " : ""}[options]`;
  const out = [...wrap(meta.description, WIDTH, 0), "", usage, `   or: service-ambitions ${meta.name} ...`, ""];
  if (positionals.length) {
    out.push("Arguments:");
    for (const [n, d] of positionals) out.push(`  ${n.toUpperCase().padEnd(28)}${wrap(d.description ?? "", WIDTH, 30).join(`\n${" ".repeat(30)}`)}`);
    out.push("");
  }
  out.push("Options:", ...optionLines(args), `  ${"-h, --help".padEnd(28)}Show this help`, `  ${"--version".padEnd(28)}Print the version`);
  const codes = exitCodes[meta.name];
  if (codes) out.push("", "Exit codes:", ...codes.map((c) => `  ${c}`));
  const list = examples[meta.name];
  if (list?.length) out.push("", "Examples:", ...list.map((e) => `  bun scripts/${e.replace(/^(\S+)/, "$1.ts")}`));
  return `${out.join("\n")}\n`;
}
