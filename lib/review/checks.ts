import { roleOf, type PlateauResult, type ServiceEvolution } from "../schema/evolution.ts";
import type { CheckId, Severity } from "./checks-config.ts";
import { gapsOf } from "../pipeline/gaps.ts";

export { checkIds, type CheckId, type ChecksConfig, type Severity } from "./checks-config.ts";

export const defaultSeverity: Record<CheckId, Severity> = {
  incomplete: "error",
  "missing-role": "error",
  "repeated-feature": "warning",
  "falling-level": "warning",
  "unmapped-feature": "warning",
  "unused-item": "warning",
  "unknown-item": "warning",
  "brand-name": "error",
  "names-plateau": "warning",
};

export const checkTitles: Record<CheckId, string> = {
  incomplete: "A service with plateaus missing or parts left empty (answers that stayed invalid)",
  "missing-role": "A role without features at a plateau",
  "repeated-feature": "A feature repeated across plateaus, or twice at one",
  "falling-level": "A plateau whose average level is below the one before",
  "unmapped-feature": "A feature mapped to nothing",
  "unused-item": "A catalogue item no feature uses",
  "unknown-item": "A mapping to an item the catalogue does not have",
  "brand-name": "A description that names a brand",
  "names-plateau": "A description that names its plateau",
};

export interface Finding {
  check: CheckId;
  severity: Exclude<Severity, "off">;
  serviceId?: string;
  plateau?: string;
  message: string;
}

/** Lower case, words only, in order: "Self-service  Portal" and "self service portal" are the same feature. */
export const normaliseName = (name: string) => name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
/** The same words in any order, and plurals ("bookings", "booking"), count as the same name. */
const wordSet = (name: string) =>
  normaliseName(name)
    .split(" ")
    .map((w) => (w.length > 3 ? w.replace(/(?<!s)s$/, "") : w))
    .sort()
    .join(" ");

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const mentions = (text: string, word: string) => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(word)}($|[^\\p{L}\\p{N}])`, "iu").test(text);

const averageLevel = (p: PlateauResult) => (p.features.length ? p.features.reduce((s, f) => s + f.score.level, 0) / p.features.length : undefined);

export function repeatedFeatures(e: ServiceEvolution): Array<Omit<Finding, "severity">> {
  const seen = new Map<string, string>();
  const out: Array<Omit<Finding, "severity">> = [];
  for (const p of [...e.plateaus].sort((a, b) => a.plateau - b.plateau)) {
    const here = new Set<string>();
    const forRole = new Set<string>();
    for (const f of p.features) {
      const key = wordSet(f.name);
      const first = seen.get(key);
      if (first && first !== p.plateau_name && !here.has(key)) out.push({ check: "repeated-feature", serviceId: e.service.service_id, plateau: p.plateau_name, message: `"${f.name}" repeats a feature of ${first}` });
      // The same feature twice for one role at one plateau (a model named it twice; the Python tool kept both).
      if (forRole.has(`${roleOf(f)} ${key}`)) out.push({ check: "repeated-feature", serviceId: e.service.service_id, plateau: p.plateau_name, message: `"${f.name}" appears twice for ${roleOf(f)}` });
      forRole.add(`${roleOf(f)} ${key}`);
      here.add(key);
      if (!first) seen.set(key, p.plateau_name);
    }
  }
  return out;
}

export function fallingLevels(e: ServiceEvolution): Array<Omit<Finding, "severity">> {
  const out: Array<Omit<Finding, "severity">> = [];
  let before: { name: string; level: number } | undefined;
  for (const p of [...e.plateaus].sort((a, b) => a.plateau - b.plateau)) {
    const level = averageLevel(p);
    if (level === undefined) continue;
    if (before && level < before.level) out.push({ check: "falling-level", serviceId: e.service.service_id, plateau: p.plateau_name, message: `average level ${level.toFixed(2)} is below ${before.level.toFixed(2)} at ${before.name}` });
    before = { name: p.plateau_name, level };
  }
  return out;
}

export function wordingFindings(e: ServiceEvolution, brands: string[]): Array<Omit<Finding, "severity">> {
  const out: Array<Omit<Finding, "severity">> = [];
  const at = { serviceId: e.service.service_id };
  for (const p of e.plateaus) {
    const texts: Array<[string, string]> = [["the plateau description", p.service_description], ...p.features.map((f) => [`the description of "${f.name}"`, f.description] as [string, string])];
    for (const [what, text] of texts) {
      for (const brand of brands) if (mentions(text, brand)) out.push({ check: "brand-name", ...at, plateau: p.plateau_name, message: `${what} names "${brand}"` });
      if (mentions(text, p.plateau_name)) out.push({ check: "names-plateau", ...at, plateau: p.plateau_name, message: `${what} names the plateau` });
    }
  }
  return out;
}

/** A line that names gaps (lib/pipeline/gaps.ts): parts left empty because every answer for them stayed invalid. */
export function incompleteParts(e: ServiceEvolution): Array<Omit<Finding, "severity">> {
  const gaps = gapsOf(e.meta.models);
  return gaps ? [{ check: "incomplete", serviceId: e.service.service_id, message: `left empty or short (answers stayed invalid; run again to ask again): ${gaps}` }] : [];
}

/**
 * Plateaus a service lacks: those the file's other lines have, or every plateau of `--data` when
 * the file's plateaus are among them. A line with no plateau at all lacks them all.
 */
export function missingPlateaus(services: Array<{ serviceId: string; plateaus: Set<string> }>, seen: Map<string, number>, dataPlateaus: string[]): Array<Omit<Finding, "severity">> {
  const fromData = dataPlateaus.length > 0 && [...seen.keys()].every((name) => dataPlateaus.includes(name));
  const expected = fromData ? dataPlateaus : [...seen].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  return services.flatMap(({ serviceId, plateaus }) => {
    const missing = expected.filter((name) => !plateaus.has(name));
    if (!plateaus.size && !missing.length) return [{ check: "incomplete" as const, serviceId, message: "no plateaus" }];
    return missing.length ? [{ check: "incomplete" as const, serviceId, message: `no plateau ${missing.join(", ")}` }] : [];
  });
}

export function unmappedFeatures(e: ServiceEvolution): Array<Omit<Finding, "severity">> {
  if (!e.meta.mapping_types.length && !e.plateaus.some((p) => p.features.some((f) => Object.keys(f.mappings).length))) return [];
  return e.plateaus.flatMap((p) =>
    p.features
      .filter((f) => !Object.values(f.mappings).some((list) => list.length))
      .map((f) => ({ check: "unmapped-feature" as const, serviceId: e.service.service_id, plateau: p.plateau_name, message: `"${f.name}" (${f.feature_id}, ${roleOf(f)}) is mapped to nothing` })),
  );
}
