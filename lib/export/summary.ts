import type { Dataset } from "../data.ts";
import { GAPS_KEY, gapsOf } from "../pipeline/gaps.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import { labelsFromData, learnLabels, type Labels } from "./labels.ts";
import type { EvolutionSource } from "./source.ts";

/** How many service trajectories the chart draws one by one; the mean covers every service. */
const TRAJECTORY_LINES = 12;

export interface RunInfo {
  runIds: string[];
  /** Stage → the models that answered it. */
  models: Map<string, Set<string>>;
  /** The earliest `meta.created`, the date the report and the workbook carry. */
  created: string;
  catalogueHashes: string[];
  /** Service id → the parts its line names as left empty (answers that stayed invalid), in file order. */
  incomplete: Map<string, string>;
}

export interface Trajectory {
  id: string;
  name: string;
  /** Average level per plateau, by plateau name. */
  levels: Map<string, number>;
}

export interface Summary {
  run: RunInfo;
  labels: Labels;
  totals: { services: number; plateaus: number; features: number; mappings: number };
  services: Array<{ id: string; name: string }>;
  /** Plateau name → feature count per level (index 0 is level 1). */
  levelsByPlateau: Map<string, number[]>;
  /** Plateau name → [sum of service averages, services]. */
  meanTrajectory: Map<string, [number, number]>;
  trajectories: Trajectory[];
  /** Catalogue field → item id → features mapped to it. */
  usage: Map<string, Map<string, number>>;
}

/** Something else that wants to see every evolution during the summary pass (checks). */
export type Observer = (e: ServiceEvolution) => void;

function emptySummary(data?: Dataset): Summary {
  return {
    run: { runIds: [], models: new Map(), created: "", catalogueHashes: [], incomplete: new Map() },
    labels: labelsFromData(data),
    totals: { services: 0, plateaus: 0, features: 0, mappings: 0 },
    services: [],
    levelsByPlateau: new Map(),
    meanTrajectory: new Map(),
    trajectories: [],
    usage: new Map(),
  };
}

/**
 * A `meta.created` as a time: one without an offset (a naive Python `isoformat()`) is UTC, so the
 * reports' date is the same in every time zone. NaN when it is not a date.
 */
export const instantOf = (created: string): number => Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(created) || !created.includes("T") ? created : `${created}Z`);

/** Whether `created` comes before `earliest` (unset, or not a date, comes after any date). */
function isEarlier(created: string, earliest: string): boolean {
  const [a, b] = [instantOf(created), instantOf(earliest)];
  if (!earliest || Number.isNaN(b)) return !Number.isNaN(a) || !earliest;
  return a < b;
}

const addOnce = <T>(list: T[], value: T) => !list.includes(value) && list.push(value);

/** `meta.models` also carries the resume fingerprint of each service (lib/fingerprint.ts) and its gaps (lib/pipeline/gaps.ts): not models. */
const notModels = new Set(["fingerprint", GAPS_KEY]);

function addRun(run: RunInfo, e: ServiceEvolution): void {
  const { meta } = e;
  const gaps = gapsOf(meta.models);
  if (gaps) run.incomplete.set(e.service.service_id, gaps);
  addOnce(run.runIds, meta.run_id);
  if (meta.catalogue_hash) addOnce(run.catalogueHashes, meta.catalogue_hash);
  if (isEarlier(meta.created, run.created)) run.created = meta.created;
  for (const [stage, model] of Object.entries(meta.models)) {
    if (typeof model !== "string" || notModels.has(stage)) continue;
    const set = run.models.get(stage) ?? new Set<string>();
    run.models.set(stage, set.add(model));
  }
}

function addPlateaus(s: Summary, e: ServiceEvolution): void {
  const trajectory: Trajectory = { id: e.service.service_id, name: e.service.name, levels: new Map() };
  for (const p of e.plateaus) {
    s.totals.plateaus++;
    const counts = s.levelsByPlateau.get(p.plateau_name) ?? [0, 0, 0, 0, 0];
    s.levelsByPlateau.set(p.plateau_name, counts);
    let sum = 0;
    for (const f of p.features) {
      counts[f.score.level - 1]!++;
      sum += f.score.level;
      s.totals.features++;
      for (const [catalogue, mappings] of Object.entries(f.mappings)) {
        const used = s.usage.get(catalogue) ?? new Map<string, number>();
        s.usage.set(catalogue, used);
        for (const m of mappings) used.set(m.item, (used.get(m.item) ?? 0) + 1);
        s.totals.mappings += mappings.length;
      }
    }
    if (p.features.length === 0) continue;
    const average = sum / p.features.length;
    trajectory.levels.set(p.plateau_name, average);
    const mean = s.meanTrajectory.get(p.plateau_name) ?? [0, 0];
    s.meanTrajectory.set(p.plateau_name, [mean[0] + average, mean[1] + 1]);
  }
  if (s.trajectories.length < TRAJECTORY_LINES) s.trajectories.push(trajectory);
}

/** One pass over the file: labels, run details, totals and what the charts draw. */
export async function summarise(source: EvolutionSource, options: { data?: Dataset; observers?: Observer[] } = {}): Promise<Summary> {
  const s = emptySummary(options.data);
  for await (const e of source.read()) {
    s.totals.services++;
    s.services.push({ id: e.service.service_id, name: e.service.name });
    addRun(s.run, e);
    learnLabels(s.labels, e);
    addPlateaus(s, e);
    for (const observe of options.observers ?? []) observe(e);
  }
  return s;
}
