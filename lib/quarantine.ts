import { appendFileSync, existsSync, mkdirSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { SAError } from "./errors.ts";
import { fsReason } from "./fs-reason.ts";
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

/**
 * Rejected lines and answers, one JSON object per line in `<dir>/<runId>.jsonl`, with the reason.
 * A write the disk refuses takes back what it wrote of the line and throws E_WRITE: the run stops
 * as for any full disk, rather than go on with what it rejects kept nowhere.
 */
export function createQuarantine(dir: string, runId: string, now: () => Date = () => new Date()): Quarantine {
  const path = join(dir, `${runId}.jsonl`);
  let count = 0;
  let size = 0;
  return {
    add(entry) {
      const line = `${redact(canonicalJson({ time: now().toISOString(), ...entry }))}\n`;
      try {
        if (count === 0) mkdirSync(dir, { recursive: true });
        appendFileSync(path, line);
      } catch (error) {
        if (existsSync(path)) truncateSync(path, size);
        throw new SAError("E_WRITE", `quarantine ${path}: cannot be written (${fsReason(error)}); stopped before paying for more calls`, { cause: error });
      }
      size += Buffer.byteLength(line);
      count++;
    },
    get count() {
      return count;
    },
    path,
  };
}
