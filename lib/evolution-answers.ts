import { featureCode } from "./pipeline/feature-id.ts";
import { roleOf, type PlateauResult, type ServiceEvolution } from "./schema/evolution.ts";
import type { DescriptionsAnswer, FeaturesAnswer, MappingAnswer } from "./schema/responses.ts";

/** One answer an evolution holds, and where a call would have asked for it. */
export interface HeldAnswer {
  stage: "descriptions" | "features" | "mapping";
  plateau: string | null;
  field: string | null;
  answer: DescriptionsAnswer | FeaturesAnswer | MappingAnswer;
}

type Items = MappingAnswer["mappings"][number]["items"];

/**
 * A plateau's mappings for `field`, by feature id: the features' own, or (as a Python `run` output
 * keeps them) read back from the plateau's `mappings` groups, which carry no facets.
 */
function mappingsOf(plateau: PlateauResult, field: string): Map<string, Items> {
  const byFeature = new Map<string, Items>(plateau.features.map((f) => [f.feature_id, []]));
  const own = plateau.features.some((f) => (f.mappings[field]?.length ?? 0) > 0);
  if (own) {
    for (const f of plateau.features) byFeature.set(f.feature_id, (f.mappings[field] ?? []).map((m) => (m.facets ? { item: m.item, facets: m.facets } : { item: m.item })));
    return byFeature;
  }
  for (const group of plateau.mappings[field] ?? []) for (const ref of group.mappings) byFeature.get(ref.feature_id)?.push({ item: group.id });
  return byFeature;
}

/**
 * The mapping answers of one plateau and catalogue. A feature's id in the file may not be the one `run`
 * computes from its name (another tool, or a collision): then a second answer carries the computed
 * ids, so that `map` (which keeps the file's ids) and `run` (which recomputes them) both find theirs.
 */
function mappingAnswers(plateau: PlateauResult, field: string): MappingAnswer[] {
  const byFeature = mappingsOf(plateau, field);
  const asWritten: MappingAnswer = { mappings: plateau.features.map((f) => ({ feature_id: f.feature_id, items: byFeature.get(f.feature_id) ?? [] })) };
  const computed: MappingAnswer = {
    mappings: plateau.features.map((f) => ({ feature_id: featureCode(plateau.plateau_name, roleOf(f), f.name), items: byFeature.get(f.feature_id) ?? [] })),
  };
  const same = asWritten.mappings.every((m, i) => m.feature_id === computed.mappings[i]!.feature_id);
  return same ? [asWritten] : [asWritten, computed];
}

/** Every answer an evolution holds: its descriptions, each plateau's features, and each plateau's mappings per catalogue. */
export function answersOfEvolution(evolution: ServiceEvolution, fields: string[]): HeldAnswer[] {
  const held: HeldAnswer[] = [
    {
      stage: "descriptions",
      plateau: null,
      field: null,
      answer: { descriptions: evolution.plateaus.map((p) => ({ plateau_name: p.plateau_name, description: p.service_description })) },
    },
  ];
  for (const p of evolution.plateaus) {
    const features = p.features.map((f) => ({ role: roleOf(f), name: f.name, description: f.description, score: { level: f.score.level, justification: f.score.justification } }));
    held.push({ stage: "features", plateau: p.plateau_name, field: null, answer: { features } });
    for (const field of fields) {
      for (const answer of mappingAnswers(p, field)) held.push({ stage: "mapping", plateau: p.plateau_name, field, answer });
    }
  }
  return held;
}
