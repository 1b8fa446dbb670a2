import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { chromium } from "playwright-core";
import { fixtureData, fixtureServices, root, runScript, tempDir } from "./helpers.ts";

let dir: string;
let cleanup: () => void;
let evolutions: string;
let featureCount: number;
let mappingCount: number;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-export-"));
  evolutions = join(dir, "evolutions.jsonl");
  const result = await runScript("run", ["--model", "synthetic:demo", "--input", fixtureServices, "--output", evolutions, "--data", fixtureData, "--quiet"], { cwd: dir });
  expect(result.code).toBe(0);
  const lines = readFileSync(evolutions, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  featureCount = lines.reduce((n, e) => n + e.plateaus.reduce((m: number, p: { features: unknown[] }) => m + p.features.length, 0), 0);
  mappingCount = lines.reduce(
    (n, e) => n + e.plateaus.reduce((m: number, p: { features: { mappings: Record<string, unknown[]> }[] }) => m + p.features.reduce((k, f) => k + Object.values(f.mappings).flat().length, 0), 0),
    0,
  );
});
afterAll(() => cleanup());

const exportTo = (...args: string[]) => runScript("export", ["--input", evolutions, ...args], { cwd: dir });

describe("export", () => {
  test("CSV parses back with one row per feature", async () => {
    expect((await exportTo("--output", "features.csv")).code).toBe(0);
    const rows = parse(readFileSync(join(dir, "features.csv"), "utf8"), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(featureCount);
    expect(Object.keys(rows[0]!)).toEqual(["service_id", "service", "plateau", "plateau_name", "role", "feature_id", "feature", "level", "label", "applications", "data", "technologies"]); // the order of meta.mapping_types (sorted, as the Python tool writes it)
    expect(rows[0]!.applications).not.toBe("");
  });

  test("CSV with --view all writes one file per view", async () => {
    expect((await exportTo("--output", "all.csv", "--view", "all")).code).toBe(0);
    const mappings = parse(readFileSync(join(dir, "all.mappings.csv"), "utf8"), { columns: true }) as Record<string, string>[];
    expect(mappings).toHaveLength(mappingCount);
    expect(Object.keys(mappings[0]!)).toContain("criticality");
    expect(parse(readFileSync(join(dir, "all.services.csv"), "utf8"), { columns: true })).toHaveLength(8 * 5);
  });

  test("XLSX: exceljs reads back one sheet per view, with a bold frozen header and an autofilter", async () => {
    expect((await exportTo("--output", "report.xlsx")).code).toBe(0);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(join(dir, "report.xlsx"));
    expect(workbook.worksheets.map((w) => w.name)).toEqual(["features", "mappings", "services"]);
    const features = workbook.getWorksheet("features")!;
    expect(features.rowCount).toBe(featureCount + 1);
    expect(features.getRow(1).font?.bold).toBe(true);
    expect(features.views[0]).toMatchObject({ state: "frozen", ySplit: 1 });
    expect(features.autoFilter).toBeDefined();
    expect(features.getColumn(7).width).toBeGreaterThan(10);
    expect(workbook.getWorksheet("mappings")!.rowCount).toBe(mappingCount + 1);
  });

  test("Markdown and JSON", async () => {
    expect((await exportTo("--output", "report.md", "--view", "services")).code).toBe(0);
    const md = readFileSync(join(dir, "report.md"), "utf8");
    expect(md).toContain("## Services");
    expect(md.split("\n").filter((l) => l.startsWith("| CS")).length).toBe(40);
    expect((await exportTo("--output", "report.json")).code).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    expect(json.features).toHaveLength(featureCount);
  });

  test("the same evolutions give byte-identical files", async () => {
    for (const ext of ["xlsx", "html", "csv"]) {
      await exportTo("--output", `a.${ext}`);
      await exportTo("--output", `b.${ext}`);
      expect(readFileSync(join(dir, `a.${ext}`)).equals(readFileSync(join(dir, `b.${ext}`)))).toBe(true);
    }
  });

  test("HTML loads in headless Chromium with no console errors and no failed requests, and shows its charts", async () => {
    expect((await exportTo("--output", "report.html")).code).toBe(0);
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("requestfailed", (r) => errors.push(`failed: ${r.url()}`));
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(`file://${join(dir, "report.html")}`);
      expect(errors).toEqual([]);
      expect(requests.every((u) => u.startsWith("file://"))).toBe(true);
      expect(await page.locator("svg").count()).toBe(3);
      expect(await page.locator("#heatmap rect").count()).toBeGreaterThan(40);
      expect(await page.locator("table").count()).toBe(3);
      await page.screenshot({ path: join(dir, "report.png") });
      expect(statSync(join(dir, "report.png")).size).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  });

  test("reads the Python tool's evolutions", async () => {
    const result = await runScript("export", ["--input", join(root, "fixtures/python/evolutions.jsonl"), "--output", "py.csv", "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim()).rows.features).toBe(6);
    expect(existsSync(join(dir, "py.csv"))).toBe(true);
  });

  test("a bad line is named and the rest exported (exit 1); a bad format is a usage error", async () => {
    const result = await runScript("export", ["--input", join(root, "fixtures/services.jsonl"), "--output", "x.csv"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/services\.jsonl:1: /);
    expect((await exportTo("--output", "x.pdf", "--format", "pdf")).code).toBe(2);
  });
});
