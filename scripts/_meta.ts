import type { TaskMeta } from "./_task.ts";

/**
 * Every task's name and description, with no imports: `list` reads this table without loading
 * any task or its dependencies. Each task file takes its meta from here.
 */
export const taskMeta = {
  preflight: { name: "preflight", description: "Check config, environment, data, prompts, input, cache and budget before any money is spent" },
  run: { name: "run", description: "Run the whole pipeline: services JSONL in, evolutions JSONL out" },
  worker: { name: "worker", description: "Work a BullMQ queue in Redis: project one service per job for run --queue coordinators" },
  queue: { name: "queue", description: "Operate a worker queue: status | retry-failed | drain | clean" },
  map: { name: "map", description: "(Re)map the features of evolutions or feature records to the catalogues" },
  export: { name: "export", description: "Turn evolutions into CSV, XLSX, Markdown, JSON or an HTML report" },
  diff: { name: "diff", description: "Compare two evolutions files service by service (exit 1 when they differ)" },
  check: { name: "check", description: "Review an evolutions file: gaps, repeats, falling levels, unused items" },
  cache: { name: "cache", description: "Inspect and manage the cache: stats, prune, clear, import a Python tool cache" },
  usage: { name: "usage", description: "Report what runs cost: by stage and by model, live against cached" },
  batch: { name: "batch", description: "Show and manage the Batch API batches of run --batch: list, status ID, cancel ID" },
  bench: { name: "bench", description: "Benchmark the pipeline against a local test server (and the AI SDK script) and print its efficiency" },
  "bench-export": { name: "bench-export", description: "Measure each export's peak memory and time on N synthetic services" },
} satisfies Record<string, TaskMeta>;
