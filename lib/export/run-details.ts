import { formatCount } from "../format.ts";
import type { Summary } from "./summary.ts";

export { formatCount };

/** The run details every report opens with, as label/value pairs. */
export function runDetails(s: Summary): Array<[string, string]> {
  const models = [...s.run.models].map(([stage, set]) => `${stage}: ${[...set].sort().join(", ")}`).join("; ");
  return [
    [s.run.runIds.length > 1 ? "Runs" : "Run", s.run.runIds.join(", ") || "none"],
    ["Models", models || "not recorded"],
    ["Created", s.run.created || "not recorded"],
    ["Catalogue hash", s.run.catalogueHashes.join(", ") || "not recorded"],
    ["Services", formatCount(s.totals.services)],
    ["Plateaus", formatCount(s.labels.plateaus.size)],
    ["Features", formatCount(s.totals.features)],
    ["Mappings", formatCount(s.totals.mappings)],
  ];
}
