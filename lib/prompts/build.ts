import type { ChatMessage } from "../../providers/types.ts";
import type { Dataset } from "../data.ts";
import type { Catalogue, Plateau } from "../schema/data.ts";
import type { Service } from "../schema/service.ts";
import { render } from "./render.ts";

const orNone = (text: string) => text.trim() || "(none given)";

function plateauText(p: Plateau): string {
  if (typeof p.description === "string") return `${p.level}. ${p.name}: ${p.description}`;
  const d = p.description;
  return [
    `${p.level}. ${p.name}`,
    `   Core idea: ${d.core_idea}`,
    ...d.key_characteristics.map((c) => `   - ${c}`),
    `   What it feels like: ${d.what_it_feels_like}`,
  ].join("\n");
}

function definitionText(bullet: Record<string, unknown>): string {
  const text = bullet.short_definition ?? bullet.definition ?? bullet.description ?? "";
  return `- ${String(bullet.name)}: ${String(text)}`;
}

/**
 * The static domain text, identical for every call of a run: it goes first in every system
 * prompt so that the provider's prompt caching applies.
 */
export function buildDomainText(data: Dataset): string {
  return render("domain", {
    context: orNone(data.context),
    plateaus: orNone(data.plateaus.map(plateauText).join("\n")),
    definitions: orNone(data.definitions.bullets.map((b) => definitionText(b)).join("\n")),
    inspirations: orNone(data.inspirations),
    roles: orNone(data.roles.map((r) => `- ${r.role_id}: ${r.name}. ${r.description}`).join("\n")),
  });
}

/** The parts of a service that shape the answer; whitespace in the input file never matters. */
export function serviceText(service: Service): string {
  return JSON.stringify(
    {
      service_id: service.service_id,
      name: service.name,
      description: service.description,
      ...(service.customer_type ? { customer_type: service.customer_type } : {}),
      jobs_to_be_done: service.jobs_to_be_done,
      features: service.features.map((f) => ({ name: f.name, description: f.description })),
    },
    null,
    2,
  );
}

const system = (domain: string, stage: string): ChatMessage => ({ role: "system", content: `${domain}\n\n${stage}` });

export function descriptionsPrompt(domain: string, data: Dataset, service: Service): ChatMessage[] {
  return [
    system(domain, render("descriptions.system", {})),
    { role: "user", content: render("descriptions.user", { service: serviceText(service), plateauNames: data.plateaus.map((p) => p.name).join(", ") }) },
  ];
}

export function featuresPrompt(domain: string, data: Dataset, service: Service, plateau: Plateau, description: string, featuresPerRole: number): ChatMessage[] {
  return [
    system(domain, render("features.system", { featuresPerRole })),
    {
      role: "user",
      content: render("features.user", {
        service: serviceText(service),
        level: plateau.level,
        plateauName: plateau.name,
        plateauDescription: description,
        roleIds: data.roles.map((r) => r.role_id).join(", "),
      }),
    },
  ];
}

function facetText(catalogue: Catalogue): string {
  return catalogue.facets
    .map((f) => {
      const options = f.options ? ` one of ${f.options.map((o) => o.id).join(" | ")}` : "";
      return `- ${f.id} (${f.type}${options}, ${f.required ? "required" : "optional: null when unknown"})${f.description ? `: ${f.description}` : ""}`;
    })
    .join("\n");
}

export interface MappingFeature {
  feature_id: string;
  name: string;
  description: string;
}

export function mappingPrompt(domain: string, catalogue: Catalogue, serviceName: string, plateau: { level: number; name: string }, features: MappingFeature[]): ChatMessage[] {
  return [
    system(
      domain,
      render("mapping.system", {
        catalogueLabel: catalogue.label,
        catalogueItems: catalogue.items.map((i) => `- ${i.id}: ${i.name}. ${i.description}`).join("\n"),
        facets: orNone(facetText(catalogue)),
      }),
    ),
    {
      role: "user",
      content: render("mapping.user", {
        serviceName,
        level: plateau.level,
        plateauName: plateau.name,
        features: features.map((f) => `- ${f.feature_id}: ${f.name}. ${f.description}`).join("\n"),
      }),
    },
  ];
}
