export { render, template, templateNames, type TemplateName } from "./render.ts";
export { buildDomainText, descriptionsPrompt, featuresPrompt, mappingPrompt } from "./build.ts";
