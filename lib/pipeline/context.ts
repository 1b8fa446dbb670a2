import type { Dataset } from "../data.ts";
import type { Log } from "../log.ts";
import type { Session } from "../session.ts";
import type { descriptionsResponse, featuresResponse } from "../schema/responses.ts";

/** Everything a pipeline step needs, passed explicitly. */
export interface PipelineContext {
  task: string;
  session: Session;
  data: Dataset;
  /** The static domain text at the head of every system prompt. */
  domain: string;
  featuresPerRole: number;
  enumLimit: number;
  /** Ask for a rationale per mapped item (cache and transcripts only). */
  rationale: boolean;
  log: Log;
  /** Response schemas that are the same for every service, built once per run (when there are plateaus and roles). */
  schemas: { descriptions?: ReturnType<typeof descriptionsResponse>; features?: ReturnType<typeof featuresResponse> };
}
