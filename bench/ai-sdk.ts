#!/usr/bin/env bun
/**
 * The baseline `bench --compare` measures us against: the same pipeline as a developer would
 * write it by hand with the Vercel AI SDK (`generateObject`) and p-limit. Every call starts as
 * soon as its inputs exist; one p-limit bounds the calls in flight. Used by the benchmark only.
 *
 *   bun bench/ai-sdk.ts --input services.jsonl --output out.jsonl --data fixtures/data --concurrency 16
 *
 * OPENAI_BASE_URL and OPENAI_API_KEY point it at the server (the benchmark's test server).
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject } from "ai";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { z } from "zod";

const { values: args } = parseArgs({
  options: { input: { type: "string" }, output: { type: "string" }, data: { type: "string" }, concurrency: { type: "string", default: "16" }, model: { type: "string", default: "gpt-4o-mini" } },
});
const readJson = (name: string) => JSON.parse(readFileSync(join(args.data!, name), "utf8"));
const readText = (name: string) => {
  try {
    return readFileSync(join(args.data!, name), "utf8");
  } catch {
    return "";
  }
};

type Item = { id: string; name: string; description: string };
type Facet = { id: string; type: string; required?: boolean; options?: { id: string }[] };
type Catalogue = { field: string; label: string; facets: Facet[]; items: Item[] };

const roles: Array<{ role_id: string; name: string; description: string }> = readJson("roles.json");
const plateaus: Array<{ name: string; description: unknown }> = readJson("service_feature_plateaus.json");
const notCatalogues = new Set(["roles.json", "service_feature_plateaus.json", "definitions.json"]);
const catalogues: Catalogue[] = readdirSync(args.data!)
  .filter((f) => f.endsWith(".json") && !notCatalogues.has(f))
  .sort()
  .map((f) => readJson(f))
  .map((c) => (Array.isArray(c) ? { field: "items", label: "Items", facets: [], items: c } : { facets: [], ...c }));

const domain = [
  "You are an expert service designer. Answer only with JSON that matches the schema.",
  `# Situational context\n${readText("situational_context.md")}`,
  `# Plateaus\n${plateaus.map((p, i) => `${i + 1}. ${p.name}: ${JSON.stringify(p.description)}`).join("\n")}`,
  `# Definitions\n${JSON.stringify(readJson("definitions.json"))}`,
  `# Inspirations\n${readText("inspirations.md")}`,
  `# Roles\n${roles.map((r) => `- ${r.role_id}: ${r.name}. ${r.description}`).join("\n")}`,
].join("\n\n");

const openai = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const model = openai.chat(args.model!);
const limit = pLimit(Number(args.concurrency));
const ask = <T>(schema: z.ZodType<T>, system: string, prompt: string) =>
  limit(async () => (await generateObject({ model, schema, system: `${domain}\n\n${system}`, prompt })).object as T);

const descriptionsSchema = z.object({ descriptions: z.array(z.object({ plateau_name: z.enum(plateaus.map((p) => p.name) as [string, ...string[]]), description: z.string() })) });
const featuresSchema = z.object({
  features: z.array(
    z.object({
      role: z.enum(roles.map((r) => r.role_id) as [string, ...string[]]),
      name: z.string(),
      description: z.string(),
      score: z.object({ level: z.number().int().min(1).max(5), justification: z.string() }),
    }),
  ),
});
const facetSchema = (f: Facet): z.ZodType => {
  const base = f.type === "enum" ? z.enum(f.options!.map((o) => o.id) as [string, ...string[]]) : f.type === "boolean" ? z.boolean() : f.type === "string" ? z.string() : z.number();
  return f.required ? base : base.nullable();
};
const mappingSchema = (catalogue: Catalogue, featureIds: string[]) =>
  z.object({
    mappings: z.array(
      z.object({
        feature_id: z.enum(featureIds as [string, ...string[]]),
        items: z.array(z.object({ item: z.enum(catalogue.items.map((i) => i.id) as [string, ...string[]]), facets: z.object(Object.fromEntries(catalogue.facets.map((f) => [f.id, facetSchema(f)]))) })),
      }),
    ),
  });

async function projectService(service: { service_id: string; name: string }) {
  const serviceText = JSON.stringify(service, null, 2);
  const { descriptions } = await ask(descriptionsSchema, "Describe the service at every plateau.", `Service:\n${serviceText}`);
  const plateauResults = await Promise.all(
    plateaus.map(async (plateau) => {
      const description = descriptions.find((d) => d.plateau_name === plateau.name)?.description ?? "";
      const { features } = await ask(featuresSchema, "List the service's features at this plateau for every role.", `Service:\n${serviceText}\n\nPlateau ${plateau.name}:\n${description}`);
      const withIds = features.map((f, i) => ({ feature_id: `${plateau.name.slice(0, 2).toUpperCase()}${i}`, ...f }));
      const mappings = await Promise.all(
        catalogues.map(async (catalogue) => {
          const items = catalogue.items.map((i) => `- ${i.id}: ${i.name}. ${i.description}`).join("\n");
          const list = withIds.map((f) => `- ${f.feature_id}: ${f.name}. ${f.description}`).join("\n");
          const answer = await ask(mappingSchema(catalogue, withIds.map((f) => f.feature_id)), `Map features to the ${catalogue.label} catalogue:\n${items}`, `Service: ${service.name}\nPlateau: ${plateau.name}\nFeatures:\n${list}`);
          return [catalogue.field, answer.mappings] as const;
        }),
      );
      return { plateau_name: plateau.name, description, features: withIds, mappings: Object.fromEntries(mappings) };
    }),
  );
  return { service, plateaus: plateauResults };
}

const services = readFileSync(args.input!, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const results = await Promise.all(services.map(projectService));
writeFileSync(args.output!, results.map((r) => JSON.stringify(r)).join("\n") + "\n");
