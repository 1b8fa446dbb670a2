import type { Dataset } from "../data.ts";
import type { Log } from "../log.ts";
import type { Session } from "../session.ts";

/** Everything a pipeline step needs, passed explicitly. */
export interface PipelineContext {
  task: string;
  session: Session;
  data: Dataset;
  /** The static domain text at the head of every system prompt. */
  domain: string;
  featuresPerRole: number;
  enumLimit: number;
  log: Log;
}
