import type { AnswerSource } from "../call-spec.ts";
import { featuresPrompt } from "../prompts/build.ts";
import type { Plateau } from "../schema/data.ts";
import { labelForLevel } from "../schema/evolution.ts";
import { featuresResponse, type FeaturesAnswer } from "../schema/responses.ts";
import type { Service } from "../schema/service.ts";
import type { PipelineContext } from "./context.ts";
import { byId, compareFeatures, type PlateauFeature } from "./evolution.ts";
import { assignCode } from "./feature-id.ts";


const byRoleThenName = (a: { role: string; name: string; description: string }, b: typeof a) =>
  byId(a.role, b.role) || byId(a.name, b.name) || byId(a.description, b.description);

const isFilled = (f: FeaturesAnswer["features"][number]) => f.name.trim().length > 0 && f.description.trim().length > 0 && f.score.justification.trim().length > 0;

/** The roles of `roleIds` that no feature serves. */
const uncoveredRoles = (features: Array<{ role: string }>, roleIds: string[]) => {
  const covered = new Set(features.map((f) => f.role));
  return roleIds.filter((r) => !covered.has(r));
};

/** The features kept (blank ones dropped, a repeated name once), and the problems: those dropped, and each of `roleIds` left without features. */
function checkFeatures(answer: FeaturesAnswer, roleIds: string[]): { value: FeaturesAnswer; problems: string[] } {
  const problems: string[] = [];
  const seen = new Set<string>();
  const features: FeaturesAnswer["features"] = [];
  for (const f of answer.features) {
    // A blank name, description or justification fails the Python tool's schema: such a feature is dropped.
    if (!isFilled(f)) {
      problems.push(`feature "${f.name.trim()}" (${f.role}) has a blank name, description or justification`);
      continue;
    }
    // A model may name the same feature twice: keep one.
    const key = `${f.role}|${f.name.trim().toLowerCase()}`;
    if (!seen.has(key)) features.push(f);
    seen.add(key);
  }
  problems.push(...uncoveredRoles(features, roleIds).map((r) => `no features for role "${r}"`));
  return { value: { features }, problems };
}

/** Stage 2: one call per plateau gives features for every role, each with a CMMI score. */
export async function generateFeatures(ctx: PipelineContext, service: Service, plateau: Plateau, description: string, priority: number): Promise<{ features: PlateauFeature[]; model: string; source?: AnswerSource; missingRoles?: string[] }> {
  const roleIds = ctx.data.roles.map((r) => r.role_id);
  const result = await ctx.session.call<FeaturesAnswer>({
    task: ctx.task,
    stage: "features",
    serviceId: service.service_id,
    priority,
    messages: featuresPrompt(ctx.domain, ctx.data, service, plateau, description, ctx.featuresPerRole),
    schema: ctx.schemas.features ?? featuresResponse(roleIds),
    schemaName: "plateau_features",
    imported: { plateau },
    check: (answer) => checkFeatures(answer, roleIds),
    // The Python tool took an answer that left a role out: imported, it is reused as it is.
    importedCheck: (answer) => checkFeatures(answer, []),
  });
  const taken = new Set<string>();
  // The id is the Python tool's code of the name as it is written (trimmed).
  const features = [...result.value.features].sort(byRoleThenName).map((f): PlateauFeature => ({
    feature_id: assignCode(plateau.name, f.role, f.name.trim(), taken),
    name: f.name.trim(),
    description: f.description.trim(),
    role: f.role,
    score: { justification: f.score.justification.trim(), label: labelForLevel(f.score.level), level: f.score.level },
  }));
  features.sort(compareFeatures);
  // Roles the kept answer still leaves out after its re-ask (an imported answer is taken as it is).
  const missingRoles = result.model === "imported" ? [] : uncoveredRoles(features, roleIds);
  return { features, model: result.model, source: result.source, ...(missingRoles.length ? { missingRoles } : {}) };
}
