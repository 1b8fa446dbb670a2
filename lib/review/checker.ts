import { roleOf, type ServiceEvolution } from "../schema/evolution.ts";
import type { Dataset } from "../data.ts";
import type { Labels } from "../export/labels.ts";
import { checkIds, defaultSeverity, fallingLevels, incompleteParts, missingPlateaus, repeatedFeatures, unmappedFeatures, wordingFindings, type CheckId, type ChecksConfig, type Finding, type Severity } from "./checks.ts";

export interface Checker {
  /** Sees each evolution once, in file order. */
  observe(e: ServiceEvolution): void;
  /**
   * Findings in check order, then file order. `usage` is what the summary counted per catalogue;
   * `data`, the data folder when there is one: the roles, plateaus and items expected.
   */
  finish(input: { labels: Labels; usage: Map<string, Map<string, number>>; data?: Pick<Dataset, "roles" | "plateaus" | "catalogues"> }): Finding[];
}

/**
 * Runs every check that is not `off` over a stream of evolutions. Roles present per plateau are
 * kept (a few ids per plateau) so that a role missing can be told once every role is known.
 */
export function createChecker(config: ChecksConfig): Checker {
  const severity = (id: CheckId): Severity => config.severity[id] ?? defaultSeverity[id];
  const found: Array<Omit<Finding, "severity">> = [];
  const present: Array<{ serviceId: string; plateau: string; order: number; roles: Set<string> }> = [];
  const services: Array<{ serviceId: string; plateaus: Set<string> }> = [];
  const plateaus = new Map<string, number>();
  return {
    observe(e) {
      services.push({ serviceId: e.service.service_id, plateaus: new Set(e.plateaus.map((p) => p.plateau_name)) });
      for (const p of e.plateaus) if (!plateaus.has(p.plateau_name)) plateaus.set(p.plateau_name, p.plateau);
      for (const p of [...e.plateaus].sort((a, b) => a.plateau - b.plateau)) present.push({ serviceId: e.service.service_id, plateau: p.plateau_name, order: p.plateau, roles: new Set(p.features.map(roleOf)) });
      found.push(...incompleteParts(e), ...repeatedFeatures(e), ...fallingLevels(e), ...unmappedFeatures(e), ...wordingFindings(e, config.brands));
    },
    finish({ labels, usage, data }) {
      found.push(...missingPlateaus(services, plateaus, (data?.plateaus ?? []).map((p) => p.name)));
      const dataRoles = (data?.roles ?? []).map((r) => r.role_id);
      const roles = dataRoles.length ? dataRoles : [...labels.roles.keys()];
      for (const at of present) {
        for (const role of roles) if (!at.roles.has(role)) found.push({ check: "missing-role", serviceId: at.serviceId, plateau: at.plateau, message: `no features for ${labels.roles.get(role) ?? role}` });
      }
      for (const c of labels.catalogues.values()) {
        if (!c.complete) continue;
        for (const [id, name] of c.items) if (!usage.get(c.field)?.get(id)) found.push({ check: "unused-item", message: `${c.label}: ${name} (${id}) is never used` });
      }
      found.push(...unknownItems(usage, labels, data?.catalogues ?? []));
      const findings: Finding[] = [];
      for (const id of checkIds) {
        const level = severity(id);
        if (level !== "off") for (const f of found) if (f.check === id) findings.push({ ...f, severity: level });
      }
      return findings;
    },
  };
}

/** Items the evolutions map to that the data folder's catalogue lacks (removed or renamed since, or another catalogue). */
function unknownItems(usage: Map<string, Map<string, number>>, labels: Labels, catalogues: Dataset["catalogues"]): Array<Omit<Finding, "severity">> {
  const found: Array<Omit<Finding, "severity">> = [];
  for (const c of catalogues) {
    const known = new Set(c.items.map((i) => i.id));
    for (const [id, times] of usage.get(c.field) ?? []) {
      if (times === 0 || known.has(id)) continue;
      const name = labels.catalogues.get(c.field)?.items.get(id);
      const item = name && name !== id ? `${name} (${id})` : id;
      found.push({ check: "unknown-item", message: `${c.label}: ${item} is mapped ${times === 1 ? "once" : `${times} times`} but is not in the catalogue` });
    }
  }
  return found;
}

/** Findings per check, every check listed (0 when it passed or is off). */
export function countByCheck(findings: Finding[]): Record<CheckId, number> {
  const counts = Object.fromEntries(checkIds.map((id) => [id, 0])) as Record<CheckId, number>;
  for (const f of findings) counts[f.check]++;
  return counts;
}
