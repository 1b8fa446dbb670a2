import { isSAError } from "../errors.ts";
import type { Log } from "../log.ts";

/** Where an evolution names its gaps: `meta.models` is the one free-form record the Python tool's schema allows. */
export const GAPS_KEY = "incomplete";

/**
 * The parts of one service left empty because every model's answer stayed invalid after its
 * re-ask (each answer is quarantined): the run goes on, as the Python tool does, and the line
 * names its gaps so that resume does the service again (`isComplete` in lib/output.ts) and
 * `--strict` fails the run. Labels: `descriptions`, `features <plateau>`, `mapping <plateau> <field>`.
 */
export function createGaps(log: Log, serviceId: string) {
  const labels: string[] = [];
  return {
    /** The step's result, or `empty()` when its answer stayed invalid; anything else still throws. */
    async fill<T>(label: string, step: Promise<T>, empty: () => T): Promise<T> {
      try {
        return await step;
      } catch (error) {
        if (!isSAError(error, "E_VALIDATION")) throw error;
        labels.push(label);
        log.warn(`service ${serviceId}: ${label} left empty (${error.message}; quarantined); a rerun asks again`, { serviceId });
        return empty();
      }
    },
    /** A part kept although short of what was asked (a role left without features after the re-ask): named like an empty part, so a rerun asks again. */
    short(label: string, reason: string): void {
      labels.push(label);
      log.warn(`service ${serviceId}: ${label} incomplete (${reason}; quarantined); a rerun asks again`, { serviceId });
    },
    /** What goes into `meta.models`, with gaps carried from the input (`map`): nothing for a whole service. */
    meta(carried: string[] = []): Record<string, string> {
      const all = [...new Set([...labels, ...carried])].sort();
      return all.length ? { [GAPS_KEY]: all.join(", ") } : {};
    },
  };
}

export type Gaps = ReturnType<typeof createGaps>;

/** The gaps an evolution's line names, if any. */
export const gapsOf = (models: Record<string, unknown> | undefined): string | undefined => {
  const value = models?.[GAPS_KEY];
  return typeof value === "string" && value ? value : undefined;
};
