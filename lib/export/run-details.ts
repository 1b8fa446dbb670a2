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
    ["Plateaus", s.labels.plateaus.size],
    ["Features", s.totals.features],
    ["Mappings", s.totals.mappings],
  ];
}

/** A detail as text reads it: counts with thousands separators. */
export const detailText = (value: string | number) => (typeof value === "number" ? formatCount(value) : value);
