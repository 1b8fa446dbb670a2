import { SAError, errorMessage, isSAError } from "../errors.ts";
import { readRecords, type InputRecord } from "../jsonl.ts";
import { unlessAborted } from "../unless-aborted.ts";
import type { Accepted, Dispatcher } from "./dispatcher.ts";
import type { EngineRun } from "./engine-types.ts";
import { halt } from "./run-state.ts";
import { duplicateReason } from "../schema/service.ts";
import { PYTHON_LINE } from "../python-line.ts";

/** Bad input lines printed one by one; the rest are counted in one line (all are quarantined). */
export const MAX_BAD_LINES_LOGGED = 20;

/**
 * Reads the input to its end (or a stop, or --max-services) and dispatches each good record.
 * An input that breaks off (an unreadable file, a bad JSON array) stops the run as fatal.
 */
export async function readInput<T>(run: EngineRun<T>, dispatcher: Dispatcher<T>): Promise<void> {
  const { options, state } = run;
  try {
    for await (const record of untilStopped(readRecords(options.input, { strictUtf8: run.handler.strictUtf8 }), run.rt.limiter.stopped)) {
      if (state.stop || state.order.size >= (options.maxServices ?? Number.POSITIVE_INFINITY)) break;
      const accepted = record.error ? badLine(run, record.line, record.error, record.text) : accept(run, record);
      if (accepted) await dispatcher.dispatch(accepted);
    }
    keptUnderRefresh(run);
  } catch (error) {
    const fatal = isSAError(error) ? error : new SAError("E_INPUT_UNREADABLE", `input ${options.input}: ${errorMessage(error)}`, { cause: error });
    halt(run, { status: "fatal", reason: errorMessage(error), error: fatal });
  }
}

/**
 * The records until a stop: one that comes while the next line is awaited (stdin still open, a
 * terminal or a producer that has not finished) ends the reading at once.
 */
async function* untilStopped<R>(records: AsyncGenerator<R>, stopped: AbortSignal): AsyncGenerator<R> {
  let waiting = false;
  try {
    for (;;) {
      waiting = true;
      const next = await unlessAborted(records.next(), stopped);
      if (!next || next.done) return;
      waiting = false;
      yield next.value;
    }
  } finally {
    // Closed as a `for await` would close it, unless a read still waits (it would wait behind it).
    if (!waiting) await records.return(undefined);
  }
}

/** A record to process, or nothing: a bad line, a duplicate, a skip, or a service already done. */
function accept<T>(run: EngineRun<T>, record: InputRecord): Accepted<T> | undefined {
  const { handler, state, writer } = run;
  const { value } = record;
  const parsed = handler.parse(value);
  // `record.line` is read only for a bad line (a JSON array input finds its lines on demand).
  if (!parsed.ok) return "reason" in parsed ? badLine(run, record.line, parsed.reason, value) : undefined;
  const { serviceId } = parsed;
  if (state.order.has(serviceId)) return badLine(run, record.line, duplicateReason(serviceId), value);
  state.order.add(serviceId);
  const fingerprint = handler.fingerprint?.(value);
  const redo = writer.done.has(serviceId);
  const held = writer.done.get(serviceId);
  const python = held?.startsWith(PYTHON_LINE) ?? false;
  if (redo && (python ? held === handler.pythonKey?.(value) : held === fingerprint)) {
    if (python) keptPythonLine(run);
    state.counts.skipped++;
    return undefined;
  }
  if (redo) run.rt.log.debug(`service ${serviceId}: its line in the output was ${python ? "written by the Python tool from another service record, catalogues or models" : "made from other inputs"}; doing it again`, { serviceId });
  return { item: parsed.item, serviceId, fingerprint, redo };
}

/**
 * Under `--cache-mode refresh` the services already in the output are still kept, as in every
 * mode: the mode applies to the calls this run makes. The Python tool's `run` (without `--resume`)
 * made every service again, so this is said once, with the way to make them again.
 */
function keptUnderRefresh<T>(run: EngineRun<T>): void {
  const { skipped } = run.state.counts;
  if (run.rt.config.cacheMode !== "refresh" || skipped === 0) return;
  run.rt.log.warn(`--cache-mode refresh: ${skipped} service${skipped === 1 ? "" : "s"} already in ${run.options.output} kept as they are (refresh applies to the calls this run makes); --fresh makes them again`);
}

/** Says once that lines the Python tool wrote are kept: they carry no fingerprint, so what they carry was compared. */
function keptPythonLine<T>(run: EngineRun<T>): void {
  if (run.state.keptPython) return;
  run.state.keptPython = true;
  run.rt.log.info(`output ${run.options.output}: keeping lines written by the Python tool whose service record, catalogues and stage models match this run (--fresh redoes them)`);
}

/** Counts and quarantines a bad line; prints the first ones (a file that is not text has one per line). */
function badLine(run: EngineRun<unknown>, line: number, reason: string, data?: unknown): undefined {
  const { options, state } = run;
  state.counts.bad++;
  if (state.counts.bad <= MAX_BAD_LINES_LOGGED) run.rt.log.error(`input ${options.input}:${line}: ${reason}`);
  run.rt.quarantine.add({ kind: "input", file: options.input, line, reason, data });
  return undefined;
}
