export { render, template, templateNames, type TemplateName } from "./render.ts";
export { buildDomainText, descriptionsPrompt, featuresPrompt, mappingPrompt, type MappingPromptInput } from "./build.ts";
export { loadPromptTexts, promptDefaults } from "./sources.ts";
