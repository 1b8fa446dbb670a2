import { roleOf, type Feature, type PlateauResult, type ServiceEvolution } from "../schema/evolution.ts";
import { facetValue, itemName, roleName, type CatalogueInfo, type Labels } from "./labels.ts";

/** A list stays a list (JSON); text formats join it with "; ". null is an empty cell. */
export type Cell = string | number | string[] | null;
export type Row = Record<string, Cell>;
/** How a column is shown: ids and numbers narrow, prose wrapped, levels coloured. */
export type ColumnKind = "id" | "text" | "wrap" | "number" | "level" | "list";

export interface Column {
  key: string;
  header: string;
  kind: ColumnKind;
}

export interface TableSpec {
  /** features, services, or mappings.<catalogue field> */
  name: string;
  title: string;
  columns: Column[];
  rows(e: ServiceEvolution): Iterable<Row>;
}

export const viewNames = ["features", "services", "mappings", "narrative"] as const;
export type ViewName = (typeof viewNames)[number];

const col = (key: string, header: string, kind: ColumnKind = "text"): Column => ({ key, header, kind });

export const cellText = (cell: Cell | undefined): string => (cell === null || cell === undefined ? "" : Array.isArray(cell) ? cell.join("; ") : String(cell));

/** A line's plateaus in plateau order, whatever order the line lists them in. */
export const plateausInOrder = (e: ServiceEvolution) => [...e.plateaus].sort((a, b) => a.plateau - b.plateau);

const plateauCells = (e: ServiceEvolution, p: PlateauResult): Row => ({
  service_id: e.service.service_id,
  service: e.service.name,
  plateau: p.plateau,
  plateau_name: p.plateau_name,
});

export const byRoleThenName = (labels: Labels) => {
  const order = [...labels.roles.keys()];
  return (a: Feature, b: Feature) => order.indexOf(roleOf(a)) - order.indexOf(roleOf(b)) || a.name.localeCompare(b.name);
};

function featuresTable(labels: Labels): TableSpec {
  const catalogues = [...labels.catalogues.values()];
  const sort = byRoleThenName(labels);
  return {
    name: "features",
    title: "Features",
    columns: [
      col("service_id", "Service id", "id"), col("service", "Service"), col("plateau", "Plateau", "number"), col("plateau_name", "Plateau name"),
      col("role", "Role"), col("role_id", "Role id", "id"), col("feature_id", "Feature id", "id"), col("feature", "Feature"), col("description", "Description", "wrap"),
      col("level", "Level", "level"), col("label", "Label"), col("justification", "Justification", "wrap"),
      ...catalogues.map((c) => col(c.field, c.label, "list")),
    ],
    *rows(e) {
      for (const p of plateausInOrder(e)) {
        for (const f of [...p.features].sort(sort)) {
          const row: Row = { ...plateauCells(e, p), role: roleName(labels, roleOf(f)), role_id: roleOf(f) || null, feature_id: f.feature_id, feature: f.name };
          Object.assign(row, { description: f.description || null, level: f.score.level, label: f.score.label, justification: f.score.justification || null });
          for (const c of catalogues) row[c.field] = (f.mappings[c.field] ?? []).map((m) => itemName(c, m.item));
          yield row;
        }
      }
    },
  };
}

function servicesTable(labels: Labels): TableSpec {
  const roles = [...labels.roles];
  return {
    name: "services",
    title: "Services by plateau",
    columns: [
      col("service_id", "Service id", "id"), col("service", "Service"), col("plateau", "Plateau", "number"), col("plateau_name", "Plateau name"),
      col("description", "Description", "wrap"), ...roles.map(([id, name]) => col(`features.${id}`, `Features: ${name}`, "number")),
      col("features", "Features", "number"), col("average_level", "Average level", "level"),
    ],
    *rows(e) {
      for (const p of plateausInOrder(e)) {
        const row: Row = { ...plateauCells(e, p), description: p.service_description || null };
        for (const [id] of roles) row[`features.${id}`] = p.features.filter((f) => roleOf(f) === id).length;
        row.features = p.features.length;
        const average = p.features.reduce((s, f) => s + f.score.level, 0) / p.features.length;
        row.average_level = p.features.length ? Number(average.toFixed(2)) : null;
        yield row;
      }
    },
  };
}

/** What the line says of one mapping (its `plateau.mappings` entry), else the feature's own description. */
function mappingDescription(p: PlateauResult, field: string, item: string, f: Feature): string {
  const group = p.mappings[field]?.find((g) => g.id === item);
  return group?.mappings.find((ref) => ref.feature_id === f.feature_id)?.description ?? f.description;
}

function mappingsTable(labels: Labels, c: CatalogueInfo): TableSpec {
  const sort = byRoleThenName(labels);
  return {
    name: `mappings.${c.field}`,
    title: `Mappings: ${c.label}`,
    columns: [
      col("service_id", "Service id", "id"), col("service", "Service"), col("plateau", "Plateau", "number"), col("plateau_name", "Plateau name"),
      col("role", "Role"), col("role_id", "Role id", "id"), col("feature_id", "Feature id", "id"), col("feature", "Feature"), col("item_id", "Item id", "id"), col("item", c.label),
      col("description", "Description", "wrap"), ...c.facets.map((f) => col(`facet.${f.id}`, f.label, f.numeric ? "number" : "text")),
    ],
    *rows(e) {
      for (const p of plateausInOrder(e)) {
        for (const f of [...p.features].sort(sort)) {
          for (const m of f.mappings[c.field] ?? []) {
            const row: Row = { ...plateauCells(e, p), role: roleName(labels, roleOf(f)), role_id: roleOf(f) || null, feature_id: f.feature_id, feature: f.name, item_id: m.item, item: itemName(c, m.item) };
            row.description = mappingDescription(p, c.field, m.item, f) || null;
            // Not columns: what the HTML report's filters read.
            Object.assign(row, { _role: roleOf(f), _level: f.score.level });
            for (const facet of c.facets) {
              const value = facetValue(facet, m.facets?.[facet.id]);
              row[`facet.${facet.id}`] = value === "" ? null : value;
            }
            yield row;
          }
        }
      }
    },
  };
}

/** The tables of the chosen views, in a fixed order; `mappings` is one table per catalogue. */
export function tableSpecs(labels: Labels, views: readonly ViewName[]): TableSpec[] {
  const specs: TableSpec[] = [];
  if (views.includes("features")) specs.push(featuresTable(labels));
  if (views.includes("services")) specs.push(servicesTable(labels));
  if (views.includes("mappings")) for (const c of labels.catalogues.values()) specs.push(mappingsTable(labels, c));
  return specs;
}
