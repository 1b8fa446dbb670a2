import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "./jsonl.ts";
import { redact } from "./redact.ts";

export interface QuarantineEntry {
  kind: "input" | "answer" | "mapping" | "service" | "output";
  reason: string;
  file?: string;
  line?: number;
  serviceId?: string;
  stage?: string;
  model?: string;
  data?: unknown;
}

export interface Quarantine {
  add(entry: QuarantineEntry): void;
  readonly count: number;
  readonly path: string;
}

/** Rejected lines and answers, one JSON object per line in `<dir>/<runId>.jsonl`, with the reason. */
export function createQuarantine(dir: string, runId: string, now: () => Date = () => new Date()): Quarantine {
  const path = join(dir, `${runId}.jsonl`);
  let count = 0;
  return {
    add(entry) {
      if (count === 0) mkdirSync(dir, { recursive: true });
      count++;
      appendFileSync(path, `${redact(canonicalJson({ time: now().toISOString(), ...entry }))}\n`);
    },
    get count() {
      return count;
    },
    path,
  };
}
