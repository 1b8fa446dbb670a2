import type { AnswerSource } from "../call-spec.ts";
import { descriptionsPrompt } from "../prompts/build.ts";
import { descriptionsResponse, type DescriptionsAnswer } from "../schema/responses.ts";
import type { Service } from "../schema/service.ts";
import type { PipelineContext } from "./context.ts";

/** Stage 1: one call gives the service's description at every plateau. */
export async function describeService(ctx: PipelineContext, service: Service, priority: number): Promise<{ descriptions: Map<string, string>; model: string; source?: AnswerSource }> {
  const names = ctx.data.plateaus.map((p) => p.name);
  const result = await ctx.session.call<DescriptionsAnswer>({
    task: ctx.task,
    stage: "descriptions",
    serviceId: service.service_id,
    priority,
    messages: descriptionsPrompt(ctx.domain, ctx.data, service),
    schema: ctx.schemas.descriptions ?? descriptionsResponse(names),
    schemaName: "plateau_descriptions",
    check(answer) {
      const seen = new Set<string>();
      const descriptions = answer.descriptions.filter((d) => !seen.has(d.plateau_name) && seen.add(d.plateau_name));
      const problems = names.filter((n) => !seen.has(n)).map((n) => `no description for plateau "${n}"`);
      return { value: { descriptions }, problems };
    },
  });
  return { descriptions: new Map(result.value.descriptions.map((d) => [d.plateau_name, d.description])), model: result.model, source: result.source };
}
