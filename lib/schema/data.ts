import { z } from "zod";

export const roleSchema = z.looseObject({
  role_id: z.string().min(1),
  name: z.string().min(1),
  description: z.string().default(""),
});
export const rolesFileSchema = z.array(roleSchema).min(1);
export type Role = z.infer<typeof roleSchema>;

export const plateauDescriptionSchema = z.union([
  z.string(),
  z.looseObject({
    core_idea: z.string().default(""),
    key_characteristics: z.array(z.string()).default([]),
    what_it_feels_like: z.string().default(""),
  }),
]);
export const plateauSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().min(1),
  description: plateauDescriptionSchema.default(""),
});
export const plateausFileSchema = z.array(plateauSchema).min(1);
/** A plateau with its level: its position in the file, from 1. */
export type Plateau = z.infer<typeof plateauSchema> & { level: number };

const textList = z.array(z.string()).default([]);

/** One term, as the Python tool's `DefinitionItem` has it; every field reaches the system prompt. */
export const definitionSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().min(1),
  aliases: textList,
  short_definition: z.string().nullish(),
  definition: z.string().nullish(),
  /** An older spelling of `definition`. */
  description: z.string().nullish(),
  decision_rules: textList,
  use_when: textList,
  avoid_confusion_with: textList,
  examples: textList,
  non_examples: textList,
  related_terms: textList,
  tags: textList,
  owner: z.string().nullish(),
  last_updated: z.string().nullish(),
});
export type Definition = z.infer<typeof definitionSchema>;

export const definitionsFileSchema = z.union([
  z.looseObject({ title: z.string().optional(), bullets: z.array(definitionSchema).default([]) }),
  z.array(definitionSchema).transform((bullets) => ({ title: undefined, bullets })),
]);
export type Definitions = z.infer<typeof definitionsFileSchema>;

export const facetTypes = ["string", "integer", "number", "boolean", "enum"] as const;
export const facetSchema = z
  .looseObject({
    id: z.string().min(1),
    label: z.string().optional(),
    type: z.enum(facetTypes),
    required: z.boolean().default(false),
    // The Python tool's facet model allows null for both.
    description: z.string().nullish(),
    options: z.array(z.looseObject({ id: z.string().min(1), label: z.string().optional() })).nullish(),
  })
  .refine((f) => f.type !== "enum" || (f.options?.length ?? 0) > 0, { message: "an enum facet needs options", path: ["options"] });
export type Facet = z.infer<typeof facetSchema>;

export const catalogueItemSchema = z.looseObject({ id: z.string().min(1), name: z.string().min(1), description: z.string().default("") });
export type CatalogueItem = z.infer<typeof catalogueItemSchema>;

/** A catalogue file: a plain list of items, or the object form with typed facets. */
export const catalogueFileSchema = z.union([
  z.array(catalogueItemSchema),
  // The Python tool's `MappingDatasetFile`: null allowed for field, label and facets.
  z.looseObject({
    field: z.string().nullish(),
    label: z.string().nullish(),
    facets: z
      .array(facetSchema)
      .nullish()
      .transform((facets) => facets ?? []),
    items: z.array(catalogueItemSchema),
  }),
]);

export interface Catalogue {
  field: string;
  label: string;
  facets: Facet[];
  items: CatalogueItem[];
  /** The file's digest as the Python tool computes it (see lib/catalogue-hash.ts); set when read from a file. */
  digest?: string;
}
