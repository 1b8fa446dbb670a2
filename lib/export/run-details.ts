import { formatCount } from "../format.ts";
import type { Summary } from "./summary.ts";

export { formatCount };

/** The run details every report opens with, as label/value pairs; counts stay numbers (a spreadsheet sums them). */
export function runDetails(s: Summary): Array<[string, string | number]> {
  const models = [...s.run.models].map(([stage, set]) => `${stage}: ${[...set].sort().join(", ")}`).join("; ");
  return [
    [s.run.runIds.length > 1 ? "Runs" : "Run", s.run.runIds.join(", ") || "none"],
    ["Models", models || "not recorded"],
    ["Created", s.run.created || "not recorded"],
    ["Catalogue hash", s.run.catalogueHashes.join(", ") || "not recorded"],
    ["Services", s.totals.services],
    // The plateaus the evolutions reach; the data folder may name more (its names give their order only).
    ["Plateaus", s.levelsByPlateau.size],
    ["Features", s.totals.features],
    ["Mappings", s.totals.mappings],
    ["Incomplete services", s.run.incomplete.size],
    ...(s.run.incomplete.size ? [["Left empty", leftEmpty(s.run.incomplete)] as [string, string]] : []),
  ];
}

/** Past this many services with gaps, the rest are counted: `check` lists them all. */
const LEFT_EMPTY_SHOWN = 20;

/** `S1: features Enhanced; S2: descriptions`, the first few services with parts left empty. */
function leftEmpty(incomplete: Map<string, string>): string {
  const shown = [...incomplete].slice(0, LEFT_EMPTY_SHOWN).map(([id, parts]) => `${id}: ${parts}`);
  const more = incomplete.size - shown.length;
  return `${shown.join("; ")}${more > 0 ? `; and ${formatCount(more)} more (check lists them all)` : ""}`;
}

/** A detail as text reads it: counts with thousands separators. */
export const detailText = (value: string | number) => (typeof value === "number" ? formatCount(value) : value);
