import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { catalogueHash } from "../lib/catalogue-hash.ts";
import { loadCatalogue, loadDataset } from "../lib/data.ts";
import { fixtureData, root } from "./helpers.ts";

const dir = join(root, "fixtures", "catalogue-hash");
const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Record<string, string>;

describe("catalogue hash", () => {
  test("object form with facets, list form and a header without facets give the Python tool's value", async () => {
    const catalogues = await Promise.all([
      loadCatalogue(join(dir, "systems.json"), "systems", "Systems"),
      loadCatalogue(join(dir, "places.json"), "places", "Places"),
      loadCatalogue(join(dir, "assets.json"), "data"),
    ]);
    expect(catalogueHash(catalogues)).toBe(expected["catalogue-hash"]!);
    // The order of the mapping sets does not matter; the field each is mapped to does.
    expect(catalogueHash([...catalogues].reverse())).toBe(expected["catalogue-hash"]!);
    expect(catalogueHash(catalogues.map((c) => (c.field === "data" ? { ...c, field: "assets" } : c)))).not.toBe(expected["catalogue-hash"]!);
  });
  test("the nulls the Python tool's catalogue model allows (field, label, facets, a facet's description and options) read and hash as there", async () => {
    const catalogues = await Promise.all([loadCatalogue(join(dir, "nullable.json"), "kit", "Kit"), loadCatalogue(join(dir, "no-facets.json"), "partners")]);
    expect(catalogues.map((c) => [c.field, c.items.length, c.facets.length])).toEqual([["kit", 2, 2], ["partners", 1, 0]]);
    expect(catalogueHash(catalogues)).toBe(expected.nullable!);
  });
  test("the sample data with the default mapping sets", async () => {
    const data = await loadDataset({
      dataDir: fixtureData,
      mappingSets: [
        { file: "applications.json", field: "applications" },
        { file: "technologies.json", field: "technologies" },
        { file: "information.json", field: "data" },
      ],
    });
    expect(catalogueHash(data.catalogues)).toBe(expected.data!);
  });
});
