import { describe, expect, test } from "bun:test";
import { canonicalJson } from "../lib/jsonl.ts";
import { buildEvolution, withFingerprint, type PlateauParts } from "../lib/pipeline/evolution.ts";
import type { MappedItem } from "../lib/pipeline/mapping.ts";
import type { Catalogue, Role } from "../lib/schema/data.ts";
import type { Service } from "../lib/schema/service.ts";

const catalogue = (field: string): Catalogue => ({ field, label: field, facets: [], items: [{ id: `${field}-1`, name: "One" }, { id: `${field}-2`, name: "Two" }] }) as unknown as Catalogue;
// Fields out of order, as a config may list them.
const catalogues = [catalogue("zeta"), catalogue("alpha"), catalogue("mid")];
const roles = [{ role_id: "r2", name: "Second", description: "" }, { role_id: "r1", name: "First", description: "Desc" }] as Role[];
// Keys out of order at every depth, and keys the output keeps that no schema orders.
const service = { service_id: "S1", name: "Svc", description: "D", jobs_to_be_done: [{ name: "job", weight: 2, area: "x" }, "plain"], features: [], zulu: { b: 1, a: [{ d: 1, c: 2 }] } } as unknown as Service;

const item = (id: string, facets: Record<string, unknown> | null): MappedItem => ({ item: id, facets });
function plateau(level: number): PlateauParts {
  const features = [
    { feature_id: "FB", name: "Beta", description: "b", role: "r2", score: { level: 2, label: "Managed", justification: "j" } },
    // A score with its keys out of order, as a caller might build it.
    { feature_id: "FA", name: "Alpha", description: "a", role: "r1", score: { level: 1, justification: "j", label: "Initial" } as never },
  ];
  const mapped = (field: string) =>
    new Map([
      ["FA", [item(`${field}-2`, { z: 1, a: { y: 2, b: [{ q: 1, p: 2 }] } }), item(`${field}-1`, null), item(`${field}-2`, { b: true, a: "last one wins" })]],
      ["FB", [item(`${field}-1`, { m: "x", c: 3 })]],
    ]);
  return { level, name: `P${level}`, description: `at ${level}`, features, mappings: Object.fromEntries(catalogues.map((c) => [c.field, mapped(c.field)])) };
}

describe("buildEvolution", () => {
  test("makes every object in canonical key order, so it is written without a walk and with the same bytes", () => {
    const evolution = buildEvolution({
      service,
      roles,
      catalogues,
      plateaus: [plateau(2), plateau(1)],
      meta: { runId: "run", created: "now", seed: 3, catalogueHash: "h", models: { mapping: "m", descriptions: "d", features: "f" } },
    });
    withFingerprint(evolution, "fp");
    // A structured clone is a plain copy that canonicalJson walks and sorts: the bytes must agree.
    const walked = canonicalJson(structuredClone(evolution));
    expect(JSON.stringify(evolution)).toBe(walked);
    expect(canonicalJson(evolution)).toBe(walked);
    const parsed = JSON.parse(walked);
    expect(Object.keys(parsed.plateaus[0].features[0].mappings)).toEqual(["alpha", "mid", "zeta"]);
    expect(Object.keys(parsed.meta.models)).toEqual(["descriptions", "features", "fingerprint", "mapping"]);
    expect(parsed.plateaus[0].features[0].mappings.alpha[1].facets).toEqual({ a: "last one wins", b: true });
  });
});
