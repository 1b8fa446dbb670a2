import type { AnswerSource } from "../call-spec.ts";

/**
 * The newest answer a line is built from: the later `at`, then the greater run id. Times are ISO
 * strings as the cache stores them, compared as text (the same order as the times they name), so
 * the answer chosen never depends on the order the calls finished in.
 */
export function newestSource(sources: Iterable<AnswerSource | undefined>): AnswerSource | undefined {
  let newest: AnswerSource | undefined;
  for (const s of sources) {
    if (s && (!newest || s.at > newest.at || (s.at === newest.at && s.runId > newest.runId))) newest = s;
  }
  return newest;
}

/**
 * A line's `run_id` and `created` name the provenance of its answers: the run that made the newest
 * of them, and when. The same cached answers then give the same bytes on every rerun; a line that
 * made no call keeps the run's own.
 */
export function provenance(run: { runId: string; created: string }, sources: Iterable<AnswerSource | undefined>): { runId: string; created: string } {
  const newest = newestSource(sources);
  return newest ? { runId: newest.runId, created: newest.at } : { runId: run.runId, created: run.created };
}
