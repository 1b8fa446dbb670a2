/**
 * Models that reason before they answer. They take a reasoning effort and reject the sampling
 * parameters (`temperature`, `top_p`); every other model takes sampling parameters and rejects a
 * reasoning effort. Matched against the model name without its provider. A model missing here (or
 * listed wrongly) is set per model in config: `modelSettings: {"openai:x": {reasoningModel: true}}`.
 */
const reasoningModelPatterns: RegExp[] = [
  // gpt-5, gpt-5-mini, gpt-5-nano, gpt-5.1, dated snapshots; not the non-reasoning gpt-5 chat models.
  /^gpt-5(?:$|[.-])(?!.*chat)/,
  // o1, o1-mini, o3, o3-mini, o3-pro, o4-mini, and their snapshots.
  /^o[1-9](?:-|$)/,
];

/**
 * Whether `provider:model` (or a bare model name) is a reasoning model by the table above. A
 * routed id that names its vendor first (`openrouter:openai/gpt-5`) is matched on the model.
 */
export function isReasoningModel(modelId: string): boolean {
  const model = modelId.slice(modelId.indexOf(":") + 1);
  const name = model.slice(model.lastIndexOf("/") + 1);
  return reasoningModelPatterns.some((pattern) => pattern.test(name));
}
