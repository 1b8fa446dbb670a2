import { sha256Hex as sha256 } from "./hash.ts";
import type { z } from "zod";
import type { Catalogue, catalogueFileSchema } from "./schema/data.ts";

type CatalogueFile = z.infer<typeof catalogueFileSchema>;

/** Python's default string order: by code point (JS compares UTF-16 units, which differs past U+FFFF). */
export const byCodePoint = (a: string, b: string) => {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
};

const flatten = (text: string) => text.replaceAll("\n", " ").replaceAll("\t", " ");

/**
 * What the Python tool keeps of an object-form file's header: `field` and `label` when the file
 * sets them, and the facets (each with every key, in its order) when it declares any.
 */
function fileMeta(file: CatalogueFile): Record<string, unknown> {
  if (Array.isArray(file)) return {};
  const meta: Record<string, unknown> = {};
  if (file.field) meta.field = file.field;
  if (file.label) meta.label = file.label;
  if (file.facets.length > 0) {
    meta.facets = file.facets.map((f) => ({
      id: f.id,
      label: f.label ?? "",
      type: f.type,
      required: f.required,
      description: f.description ?? "",
      options: f.options ? f.options.map((o) => ({ id: o.id, label: o.label ?? "" })) : null,
    }));
  }
  return meta;
}

/**
 * One catalogue file's digest, as the Python tool computes it: sha256 of the compact JSON (keys in
 * the order written, non-ASCII as is) of `{items, meta}`, where items are sorted by id and keep only
 * id, name and description with newlines and tabs turned into spaces.
 */
export function catalogueFileDigest(file: CatalogueFile): string {
  const items = (Array.isArray(file) ? file : file.items)
    .map((i) => ({ id: flatten(i.id), name: flatten(i.name), description: flatten(i.description) }))
    .sort((a, b) => byCodePoint(a.id, b.id));
  return sha256(JSON.stringify({ items, meta: fileMeta(file) }));
}

/**
 * `meta.catalogue_hash`: sha256 of the sorted `"<field>:<file digest>"` strings of the mapping
 * sets, joined by `|`. The field is the set's field in the config.
 */
export function catalogueHash(catalogues: Pick<Catalogue, "field" | "digest" | "label" | "facets" | "items">[]): string {
  const parts = catalogues.map((c) => `${c.field}:${c.digest ?? catalogueFileDigest({ field: c.field, label: c.label, facets: c.facets, items: c.items })}`);
  return sha256(parts.sort(byCodePoint).join("|"));
}
