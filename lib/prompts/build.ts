import type { ChatMessage } from "../../providers/types.ts";
import type { Dataset } from "../data.ts";
import type { Catalogue, Plateau } from "../schema/data.ts";
import type { Service } from "../schema/service.ts";
import { definitionText, facetText, nestHeadings, oneLine } from "./parts.ts";
import { render } from "./render.ts";

const orNone = (text: string) => text.trim() || "(none given)";

/** The Python tool's files open with the heading the template already has ("## Inspirations"): drop it. */
const withoutTitle = (text: string, title: string) => text.replace(new RegExp(`^#{1,6}[ \\t]*${title}[ \\t]*(\\r?\\n)+`, "i"), "");

function plateauText(p: Plateau): string {
  if (typeof p.description === "string") return p.description.trim() ? `${p.level}. ${p.name}: ${p.description}` : `${p.level}. ${p.name}`;
  const d = p.description;
  return [
    `${p.level}. ${p.name}`,
    `   Core idea: ${d.core_idea}`,
    "   Key characteristics:",
    ...d.key_characteristics.map((c) => `   - ${c}`),
    `   What it feels like: ${d.what_it_feels_like}`,
  ].join("\n");
}

/**
 * The static domain text, identical for every call of a run: it goes first in every system
 * prompt so that the provider's prompt caching applies.
 */
export function buildDomainText(data: Dataset): string {
  return render("domain", {
    // `{{context}}` in domain.md; the template keeps its name (renaming it would change every prompt digest).
    context: orNone(nestHeadings(withoutTitle(data.situationalContext, "situational context"))),
    plateaus: orNone(data.plateaus.map(plateauText).join("\n")),
    definitions: orNone(data.definitions.bullets.map(definitionText).join("\n\n")),
    inspirations: orNone(nestHeadings(withoutTitle(data.inspirations, "inspirations"))),
    roles: orNone(data.roles.map((r) => `- ${r.role_id}: ${r.name}${r.description.trim() ? `. ${r.description}` : ""}`).join("\n")),
  });
}

/**
 * The parts of a service that shape the answer; whitespace in the input file never matters.
 * Written once per service (its descriptions and features prompts all carry it), as compact
 * JSON: six calls per service send it, and indentation would add about a quarter to its tokens.
 */
const serviceTexts = new WeakMap<Service, string>();
export function serviceText(service: Service): string {
  let text = serviceTexts.get(service);
  if (text === undefined) serviceTexts.set(service, (text = serviceJson(service)));
  return text;
}

function serviceJson(service: Service): string {
  return JSON.stringify({
    service_id: service.service_id,
    name: service.name,
    description: service.description,
    ...(service.customer_type ? { customer_type: service.customer_type } : {}),
    jobs_to_be_done: service.jobs_to_be_done,
    features: service.features.map((f) => ({ name: f.name, description: f.description })),
  });
}

const system = (domain: string, stage: string): ChatMessage => Object.freeze({ role: "system", content: `${domain}\n\n${stage}` });

/**
 * A stage's system message is the same for every call of a run: it is built once per domain text
 * and stage settings, and the same message (one string) goes into every call's cache key.
 */
const systems = new Map<string, Map<string, ChatMessage>>();
const catalogueIds = new WeakMap<Catalogue, number>();
function systemOnce(domain: string, key: string, stage: () => string): ChatMessage {
  let byKey = systems.get(domain);
  if (!byKey) {
    if (systems.size >= 8) systems.clear();
    systems.set(domain, (byKey = new Map()));
  }
  let message = byKey.get(key);
  if (!message) byKey.set(key, (message = system(domain, stage())));
  return message;
}
let nextCatalogueId = 0;
const catalogueKey = (catalogue: Catalogue) => {
  let id = catalogueIds.get(catalogue);
  if (id === undefined) catalogueIds.set(catalogue, (id = nextCatalogueId++));
  return id;
};

export function descriptionsPrompt(domain: string, data: Dataset, service: Service): ChatMessage[] {
  return [
    systemOnce(domain, "descriptions", () => render("descriptions.system", {})),
    { role: "user", content: render("descriptions.user", { service: serviceText(service), plateauList: data.plateaus.map((p) => `${p.level}. ${p.name}`).join("\n") }) },
  ];
}

export function featuresPrompt(domain: string, data: Dataset, service: Service, plateau: Plateau, description: string, featuresPerRole: number): ChatMessage[] {
  return [
    systemOnce(domain, `features:${featuresPerRole}`, () => render("features.system", { featuresPerRole })),
    {
      role: "user",
      content: render("features.user", {
        service: serviceText(service),
        level: plateau.level,
        plateauName: plateau.name,
        plateauDescription: orNone(description),
        roleIds: data.roles.map((r) => r.role_id).join(", "),
      }),
    },
  ];
}

export interface MappingFeature {
  feature_id: string;
  name: string;
  description: string;
}

export interface MappingPromptInput {
  catalogue: Catalogue;
  serviceName: string;
  /** The service's own description at this plateau. */
  serviceDescription: string;
  plateau: { level: number; name: string };
  features: MappingFeature[];
  /** Ask for a one-line rationale per chosen item. */
  rationale: boolean;
}

export function mappingPrompt(domain: string, input: MappingPromptInput): ChatMessage[] {
  const { catalogue } = input;
  return [
    systemOnce(domain, `mapping:${catalogueKey(catalogue)}:${input.rationale}`, () =>
      render("mapping.system", {
        catalogueLabel: catalogue.label,
        catalogueItems: catalogue.items.map((i) => `- ${oneLine(i.id)}: ${oneLine(i.name)}. ${oneLine(i.description)}`.trimEnd()).join("\n"),
        facets: facetText(catalogue),
        rationale: input.rationale,
      }),
    ),
    mappingUser(input),
  ];
}

/**
 * The user message of a plateau's mapping calls: the same for each catalogue (it names the
 * features, not the catalogue), so it is made once per features list and shared, one object
 * (its cache-key digest is then computed once too). A features list is not changed once mapped.
 */
const mappingUsers = new WeakMap<MappingFeature[], { input: MappingPromptInput; message: ChatMessage }>();
function mappingUser(input: MappingPromptInput): ChatMessage {
  const made = mappingUsers.get(input.features);
  const same = (a: MappingPromptInput) =>
    a.features.length === input.features.length &&
    a.serviceName === input.serviceName && a.serviceDescription === input.serviceDescription && a.plateau.level === input.plateau.level && a.plateau.name === input.plateau.name;
  if (made && same(made.input)) return made.message;
  const content = render("mapping.user", {
    serviceName: input.serviceName,
    level: input.plateau.level,
    plateauName: input.plateau.name,
    plateauDescription: orNone(input.serviceDescription),
    features: input.features.map((f) => `- ${f.feature_id}: ${oneLine(f.name)}. ${oneLine(f.description)}`).join("\n"),
  });
  const message: ChatMessage = Object.freeze({ role: "user", content });
  mappingUsers.set(input.features, { input: { ...input, features: [...input.features], plateau: { ...input.plateau } }, message });
  return message;
}
