import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import ExcelJS from "exceljs";
import JSZip from "jszip";
import { fixtureData, root, runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions, type EvolutionLine } from "./support/evolutions.ts";

let dir: string;
let cleanup: () => void;
let evolutions: string;
let lines: EvolutionLine[];
let featureCount: number;
let mappingCounts: Record<string, number>;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-export-"));
  ({ path: evolutions, lines } = await syntheticEvolutions(dir));
  const features = lines.flatMap((e) => e.plateaus.flatMap((p) => p.features));
  featureCount = features.length;
  mappingCounts = {};
  for (const f of features) for (const [set, list] of Object.entries(f.mappings)) mappingCounts[set] = (mappingCounts[set] ?? 0) + list.length;
});
afterAll(() => cleanup());

const exportTo = (...args: string[]) => runScript("export", ["--input", evolutions, "--data", fixtureData, ...args], { cwd: dir });
const read = (name: string) => readFileSync(join(dir, name), "utf8");

/** Three distinct plateau descriptions, feature descriptions and justifications, from far apart in the file. */
function samples(): string[] {
  const plateaus = lines.flatMap((e) => e.plateaus);
  const features = plateaus.flatMap((p) => p.features);
  const pick = <T>(list: T[], text: (x: T) => string) => [0, Math.floor(list.length / 2), list.length - 1].map((i) => text(list[i]!));
  return [...pick(plateaus, (p) => p.service_description), ...pick(features, (f) => f.description), ...pick(features, (f) => f.score.justification)];
}

const unescapeHtml = (s: string) => s.replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"');

async function xlsxText(path: string): Promise<string> {
  const book = new ExcelJS.Workbook();
  await book.xlsx.readFile(path);
  const parts: string[] = [];
  book.eachSheet((sheet) => sheet.eachRow((row) => row.eachCell((cell) => void parts.push(String(cell.value)))));
  return parts.join("\n");
}

describe("export: the model's words in every format", () => {
  test("each format holds three plateau descriptions, feature descriptions and justifications", async () => {
    const words = samples();
    expect(new Set(words).size).toBeGreaterThan(3);
    expect((await exportTo("--output", "words.csv", "--view", "all")).code).toBe(0);
    const csv = ["features", "services", "mappings.applications"].map((t) => read(`words.${t}.csv`)).join("\n");
    for (const ext of ["xlsx", "md", "html", "json"]) expect((await exportTo("--output", `words.${ext}`)).code).toBe(0);
    const texts: Record<string, string> = {
      csv,
      xlsx: await xlsxText(join(dir, "words.xlsx")),
      md: read("words.md").replace(/\\(.)/g, "$1"),
      html: unescapeHtml(read("words.html")),
      json: JSON.stringify(JSON.parse(read("words.json"))),
    };
    for (const [format, text] of Object.entries(texts)) for (const word of words) expect({ format, found: text.includes(word) }).toEqual({ format, found: true });
  });

  test("the narrative view: Markdown per service and plateau, roles by name, mapped items with facet labels", async () => {
    expect((await exportTo("--output", "story.md", "--view", "narrative")).code).toBe(0);
    const md = read("story.md");
    expect(md).toContain("## Narrative");
    expect(md).toContain(`### ${lines[0]!.service.name.replace(/&/g, "&")} (${lines[0]!.service.service_id})`);
    expect(md).toContain("##### Residents");
    expect(md).toMatch(/\*Justification:\* /);
    expect(md).toMatch(/Interface: (UI|API|Batch|EVENT)/);
    expect(md).not.toContain("| service_id");
    const csv = await exportTo("--output", "x.csv", "--view", "narrative");
    expect(csv.code).toBe(2);
    expect(csv.stderr).toContain("only Markdown and HTML");
  });
});

describe("export: CSV", () => {
  test("starts with a UTF-8 byte-order mark (--no-bom leaves it out) and has description and justification columns", async () => {
    expect((await exportTo("--output", "features.csv")).code).toBe(0);
    const bytes = readFileSync(join(dir, "features.csv"));
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(bytes, { columns: true, bom: true }) as Record<string, string>[];
    expect(rows).toHaveLength(featureCount);
    expect(Object.keys(rows[0]!)).toEqual(["service_id", "service", "plateau", "plateau_name", "role", "role_id", "feature_id", "feature", "description", "level", "label", "justification", "applications", "technologies", "data"]);
    expect(rows.map((r) => r.role)).toContain("Council staff");
    // The role's id beside its name: what a join with the roles file or the input needs.
    const roleIds = new Map(rows.map((r) => [r.role, r.role_id]));
    expect(roleIds.size).toBeGreaterThan(1);
    for (const id of roleIds.values()) expect(id).toMatch(/^[a-z_]+$/);
    expect((await exportTo("--output", "nobom.csv", "--no-bom")).code).toBe(0);
    expect(read("nobom.csv").startsWith("service_id,")).toBe(true);
  });

  test("--view all writes one file per table, one per catalogue with that catalogue's facets", async () => {
    expect((await exportTo("--output", "all.csv", "--view", "all")).code).toBe(0);
    for (const [set, count] of Object.entries(mappingCounts)) {
      const rows = parse(read(`all.mappings.${set}.csv`), { columns: true, bom: true }) as Record<string, string>[];
      expect(rows).toHaveLength(count);
    }
    const apps = parse(read("all.mappings.applications.csv"), { columns: true, bom: true }) as Record<string, string>[];
    expect(Object.keys(apps[0]!).filter((k) => k.startsWith("facet."))).toEqual(["facet.interface", "facet.hosting", "facet.criticality", "facet.notes"]);
    expect(parse(read("all.services.csv"), { columns: true, bom: true })).toHaveLength(8 * 5);
  });

  test('a cell that starts like a formula, =HYPERLINK("x"), is written escaped', async () => {
    const line = structuredClone(lines[0]!);
    line.plateaus[0]!.features[0]!.name = '=HYPERLINK("x")';
    line.plateaus[0]!.features[1]!.name = "+1 then -2 @home";
    const input = join(dir, "formula.jsonl");
    writeFileSync(input, `${JSON.stringify(line)}\n`);
    const result = await runScript("export", ["--input", input, "--output", "formula.csv"], { cwd: dir });
    expect(result.code).toBe(0);
    const text = read("formula.csv");
    expect(text).toContain(`"'=HYPERLINK(""x"")"`);
    expect(text).toContain(`"'+1 then -2 @home"`);
    const rows = parse(text, { columns: true, bom: true }) as Record<string, string>[];
    expect(rows.map((r) => r.feature)).toContain(`'=HYPERLINK("x")`);
    expect(rows.every((r) => !/^[=+\-@]/.test(r.feature!))).toBe(true);
  });
});

describe("export: XLSX", () => {
  test("run sheet, Excel tables, wrapped text, names, one mappings sheet per catalogue, level colour scale, print setup, created date", async () => {
    expect((await exportTo("--output", "report.xlsx")).code).toBe(0);
    const path = join(dir, "report.xlsx");
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(path);
    expect(book.worksheets.map((w) => w.name)).toEqual(["run", "features", "services", "mappings applications", "mappings technologies", "mappings data"]);
    expect(book.title).toBe("Service evolutions");
    expect((await exportTo("--output", "titled.xlsx", "--title", "Campus services <2030>")).code).toBe(0);
    const titled = new ExcelJS.Workbook();
    await titled.xlsx.readFile(join(dir, "titled.xlsx"));
    expect(titled.title).toBe("Campus services <2030>");
    // The document stores whole seconds.
    expect(book.created.toISOString().slice(0, 19)).toBe(new Date(lines[0]!.meta.created).toISOString().slice(0, 19));
    const run = book.getWorksheet("run")!;
    expect(run.getCell("A2").value).toBe("Run");
    expect(run.getCell("B2").value).toBe(lines[0]!.meta.run_id);
    const features = book.getWorksheet("features")!;
    expect(features.rowCount).toBe(featureCount + 1);
    expect(features.getRow(1).getCell(5).value).toBe("Role");
    expect(features.getCell("E2").value).toBe("Residents");
    expect(features.getRow(1).getCell(6).value).toBe("Role id");
    expect(features.getRow(1).getCell(13).value).toBe("Applications");
    expect(features.getColumn(9).alignment?.wrapText).toBe(true);
    expect(features.views[0]).toMatchObject({ state: "frozen", ySplit: 1 });
    expect(features.pageSetup).toMatchObject({ orientation: "landscape", fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: "1:1" });
    expect(book.getWorksheet("mappings applications")!.getRow(1).values).toContain("Criticality");
    const zip = await JSZip.loadAsync(readFileSync(path));
    const tables = Object.keys(zip.files).filter((n) => n.startsWith("xl/tables/"));
    expect(tables).toHaveLength(6);
    expect(await zip.file("[Content_Types].xml")!.async("string")).toContain("/xl/tables/table2.xml");
    expect(await zip.file("xl/tables/table2.xml")!.async("string")).toContain(`ref="A1:O${featureCount + 1}"`);
    const sheet2 = await zip.file("xl/worksheets/sheet2.xml")!.async("string");
    expect(sheet2).toContain("<tableParts");
    expect(sheet2).toContain('type="colorScale"');
  });

  test("numbers are numbers: the run sheet's totals, levels, plateaus, counts and number facets", async () => {
    expect((await exportTo("--output", "numbers.xlsx")).code).toBe(0);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "numbers.xlsx"));
    const run = book.getWorksheet("run")!;
    const details = Object.fromEntries(run.getSheetValues().slice(2).map((row) => [(row as unknown[])[1], (row as unknown[])[2]]));
    expect(details).toMatchObject({ Services: lines.length, Plateaus: 5, Features: featureCount });
    const services = book.getWorksheet("services")!;
    expect([3, 6, 9, 10].map((c) => typeof services.getRow(2).getCell(c).value)).toEqual(["number", "number", "number", "number"]);
    expect([3, 10].map((c) => typeof book.getWorksheet("features")!.getRow(2).getCell(c).value)).toEqual(["number", "number"]);
    // An integer facet (Criticality), in XLSX and JSON.
    const apps = book.getWorksheet("mappings applications")!;
    const column = (apps.getRow(1).values as unknown[]).indexOf("Criticality");
    const criticality = apps.getColumn(column).values.slice(2) as unknown[];
    expect(criticality.length).toBe(mappingCounts.applications!);
    expect(criticality.every((v) => Number.isInteger(v))).toBe(true);
    expect((await exportTo("--output", "numbers.json")).code).toBe(0);
    expect(JSON.parse(read("numbers.json")).mappings.applications.every((r: Record<string, unknown>) => Number.isInteger(r["facet.criticality"]))).toBe(true);
  });

  test("empty cells stay empty", async () => {
    const line = structuredClone(lines[0]!);
    line.plateaus[0]!.features[0]!.score.justification = "";
    const input = join(dir, "empty.jsonl");
    writeFileSync(input, `${JSON.stringify(line)}\n`);
    expect((await runScript("export", ["--input", input, "--output", "empty.xlsx"], { cwd: dir })).code).toBe(0);
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(join(dir, "empty.xlsx"));
    const features = book.getWorksheet("features")!;
    const justifications = [2, 3, 4].map((r) => features.getRow(r).getCell(12).value);
    expect(justifications).toContain(null);
    expect(justifications.filter((v) => v === "")).toEqual([]);
  });

  test("characters XML 1.0 cannot hold are kept as Excel's _xHHHH_ escapes, a literal _x0041_ as _x005F_x0041_", async () => {
    const line = structuredClone(lines[0]!);
    const texts = {
      name: "Bell\u0007 and\u0000nul",
      description: "vertical\u000Btab, form\u000Cfeed, \u001Funit, DEL\u007F, CR\r\nLF, tab\tkept",
      justification: "a lone \uD800 high, a lone \uDC00 low, a pair 😀 kept, literal _x0041_ and _x00e9_ and _X0041_ and _x12_",
    };
    Object.assign(line.plateaus[0]!.features[0]!, { name: texts.name, description: texts.description });
    line.plateaus[0]!.features[0]!.score.justification = texts.justification;
    const input = join(dir, "controls.jsonl");
    writeFileSync(input, `${JSON.stringify(line)}\n`);
    expect((await runScript("export", ["--input", input, "--output", "controls.xlsx"], { cwd: dir })).code).toBe(0);
    const zip = await JSZip.loadAsync(readFileSync(join(dir, "controls.xlsx")));
    const sheet = await zip.file("xl/worksheets/sheet2.xml")!.async("string");
    const xmlText = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
    // How Excel reads an ST_Xstring: each _xHHHH_ (any case of hex) is one UTF-16 code unit.
    const decode = (s: string) => xmlText(s).replace(/_x([0-9A-Fa-f]{4})_/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    const cells = [...sheet.matchAll(/<v>([^<]*)<\/v>/g)].map((m) => decode(m[1]!));
    for (const text of Object.values(texts)) expect(cells).toContain(text);
    expect(sheet).toContain("_x005F_x0041_");
    expect(sheet).toContain("_x005F_x00e9_");
    expect(sheet).toContain(" _X0041_ ");
    expect(sheet).toContain("_xD800_");
    expect(sheet).toContain("_x000D_\n");
    expect(sheet).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/);
  });
});

describe("export: JSON, Markdown, determinism and inputs", () => {
  test("JSON keeps lists as lists and nests the mappings per catalogue", async () => {
    expect((await exportTo("--output", "report.json")).code).toBe(0);
    const json = JSON.parse(read("report.json"));
    expect(json.features).toHaveLength(featureCount);
    expect(Array.isArray(json.features[0].applications)).toBe(true);
    expect(json.features[0].description).toBe(lines[0]!.plateaus[0]!.features.find((f) => f.feature_id === json.features[0].feature_id)!.description);
    expect(Object.keys(json.mappings)).toEqual(["applications", "technologies", "data"]);
    expect(json.run).toMatchObject({ runIds: [lines[0]!.meta.run_id], created: lines[0]!.meta.created, totals: { services: 8, plateaus: 5, features: featureCount } });
    expect(json.run.models.features).toEqual(["synthetic:demo"]);
  });

  test("the same evolutions give byte-identical files in every format", async () => {
    for (const ext of ["xlsx", "html", "csv", "md", "json"]) {
      await exportTo("--output", `a.${ext}`);
      await exportTo("--output", `b.${ext}`);
      expect({ ext, same: readFileSync(join(dir, `a.${ext}`)).equals(readFileSync(join(dir, `b.${ext}`))) }).toEqual({ ext, same: true });
    }
  });

  test("a Python run output keeps its mappings in plateau.mappings groups: export reads them there", async () => {
    const result = await runScript("export", ["--input", join(root, "fixtures/python/run-output-grouped.jsonl"), "--output", "py.csv", "--json"], { cwd: dir });
    expect(result.code).toBe(0);
    const rows = parse(read("py.csv"), { columns: true, bom: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.feature, r.applications, r.technologies])).toEqual([
      ["Mobile timetable", "Student Portal", ""],
      ["Online submission", "Student Portal", "Cloud Storage"],
    ]);
  });

  test("each mapping's description (plateau.mappings) is in the mappings view of every format", async () => {
    const line = JSON.parse(readFileSync(join(root, "fixtures/python/run-output-grouped.jsonl"), "utf8").split("\n")[0]!);
    const said = "Timetables reach the portal, with changes, every night.";
    line.plateaus[0].mappings.applications[0].mappings[0].description = said;
    writeFileSync(join(dir, "said.jsonl"), `${JSON.stringify(line)}\n`);
    const exportSaid = (...args: string[]) => runScript("export", ["--input", "said.jsonl", ...args], { cwd: dir });
    expect((await exportSaid("--output", "said.csv", "--view", "mappings")).code).toBe(0);
    const rows = parse(read("said.mappings.applications.csv"), { columns: true, bom: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.feature, r.item_id, r.description])).toEqual([
      ["Mobile timetable", "app1", said],
      ["Online submission", "app1", "Learners hand in work online."],
    ]);
    for (const ext of ["xlsx", "md", "html", "json"]) expect((await exportSaid("--output", `said.${ext}`)).code).toBe(0);
    expect(await xlsxText(join(dir, "said.xlsx"))).toContain(said);
    expect(read("said.md")).toContain(said);
    expect(unescapeHtml(read("said.html"))).toContain(said);
    expect(JSON.parse(read("said.json")).mappings.applications[0].description).toBe(said);
  });

  test("Markdown tables: the model's text cannot break a row, start markup or fetch an image", async () => {
    const line = structuredClone(lines[0]!);
    const feature = line.plateaus[0]!.features[0]!;
    feature.name = "Reports to C:\\share\\";
    feature.description = '<img src="http://tracker.example/x.png"> *urgent* [site](http://x.example)';
    writeFileSync(join(dir, "marks.jsonl"), `${JSON.stringify(line)}\n`);
    expect((await runScript("export", ["--input", "marks.jsonl", "--output", "marks.md", "--view", "features"], { cwd: dir })).code).toBe(0);
    const rows = read("marks.md").split("\n").filter((l) => l.startsWith("| "));
    const cells = (row: string) => row.split(/(?<!\\)\|/).length;
    expect(rows.map(cells)).toEqual(rows.map(() => cells(rows[0]!)));
    const row = rows.find((r) => r.includes("Reports to"))!;
    expect(row).not.toMatch(/(?<!\\)<img/);
    expect(row).not.toMatch(/(?<!\\)\*urgent/);
    expect(row).not.toMatch(/(?<!\\)\[site\]/);
    expect(row.replace(/\\(.)/g, "$1")).toContain(feature.description);
  });

  test("an unknown output extension, or an unknown --format, is a usage error listing the formats", async () => {
    const pdf = await exportTo("--output", "x.pdf");
    expect(pdf.code).toBe(2);
    expect(pdf.stderr).toContain("known formats: csv, xlsx, md, html, json");
    expect((await exportTo("--output", "x.csv", "--format", "pdf")).code).toBe(2);
    expect((await exportTo("--output", "x.pdf", "--format", "csv")).code).toBe(0);
  });

  test("--format takes the names an extension may have: any case, markdown, htm", async () => {
    const upper = await exportTo("--output", "upper.out", "--format", "CSV");
    expect(upper.code).toBe(0);
    expect(read("upper.out")).toStartWith("\uFEFFservice_id,");
    const markdown = await exportTo("--output", "words.out", "--format", "markdown");
    expect(markdown.code).toBe(0);
    expect(read("words.out")).toStartWith("# ");
    expect((await exportTo("--output", "page.out", "--format", "HTM")).code).toBe(0);
    expect(read("page.out").toLowerCase()).toStartWith("<!doctype html>");
  });

  test("a bad line is named and the rest exported (exit 1)", async () => {
    const result = await runScript("export", ["--input", join(root, "fixtures/services.jsonl"), "--output", "x.csv"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/services\.jsonl:1: /);
  });

  test("an export written over its own input is refused, and the evolutions kept", async () => {
    const copy = join(dir, "own-input.jsonl");
    writeFileSync(copy, readFileSync(evolutions));
    const result = await runScript("export", ["--input", copy, "--output", copy, "--format", "json"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("is the input file");
    expect(readFileSync(copy, "utf8")).toBe(readFileSync(evolutions, "utf8"));
  });

  test("--output - writes the same bytes to stdout, XLSX included", async () => {
    expect((await exportTo("--output", "file.xlsx")).code).toBe(0);
    const proc = Bun.spawn(["bun", join(root, "scripts/export.ts"), "--input", evolutions, "--data", fixtureData, "--output", "-", "--format", "xlsx"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const [bytes, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), proc.exited]);
    expect(code).toBe(0);
    expect(Buffer.from(bytes).equals(readFileSync(join(dir, "file.xlsx")))).toBe(true);
  });

  test("--data with a config whose prompt files are elsewhere: export and check read only the data, not the prompts", async () => {
    const { dir: other, cleanup: done } = tempDir("sa-export-prompts-");
    try {
      // A Python config run from another folder: its prompt_dir and context_id do not resolve here.
      writeFileSync(join(other, "service-ambitions.config.json"), JSON.stringify({ promptDir: "prompts", contextId: "university" }));
      const exported = await runScript("export", ["--input", evolutions, "--data", fixtureData, "--output", "p.csv"], { cwd: other });
      expect(exported.stderr).not.toContain("prompt file");
      expect(exported.code).toBe(0);
      const checked = await runScript("check", ["--input", evolutions, "--data", fixtureData], { cwd: other });
      expect(checked.stderr).not.toContain("prompt file");
      expect(checked.code).not.toBe(2);
    } finally {
      done();
    }
  });

  test("reads stdin (-) in as many passes as the format needs", async () => {
    const proc = Bun.spawn(["bun", join(root, "scripts/export.ts"), "--input", "-", "--output", "stdin.md"], { cwd: dir, stdin: Bun.file(evolutions), stdout: "pipe", stderr: "pipe" });
    expect(await proc.exited).toBe(0);
    expect(read("stdin.md")).toContain("## Features");
  });
});

describe("an output that cannot be written", () => {
  test("export and diff to a folder, or under a file: exit 2 naming --output and why, before any file is written; the --json object still comes", async () => {
    const { dir: here, cleanup: done } = tempDir();
    try {
      mkdirSync(join(here, "report.csv"));
      writeFileSync(join(here, "afile"), "");
      const folder = await runScript("export", ["--input", evolutions, "--output", "report.csv", "--json"], { cwd: here });
      expect(folder.code).toBe(2);
      expect(folder.stderr).toContain("✖ --output report.csv: cannot be written (it is a folder)");
      expect(folder.stderr).not.toContain("unexpected");
      expect(JSON.parse(folder.stdout.trim())).toMatchObject({ status: "error", exitCode: 2, code: "E_USAGE" });
      const under = await runScript("export", ["--input", evolutions, "--output", "afile/x.md"], { cwd: here });
      expect(under.code).toBe(2);
      expect(under.stderr).toContain("--output afile/x.md: cannot be written");
      const old = join(root, "fixtures/review/diff-old.jsonl");
      const diff = await runScript("diff", [old, join(root, "fixtures/review/diff-new.jsonl"), "--format", "md", "--output", "report.csv"], { cwd: here });
      expect(diff.code).toBe(2);
      expect(diff.stderr).toContain("✖ --output report.csv: cannot be written (it is a folder)");
      // No temp file is left beside it, and the folder is as it was.
      expect(readdirSync(here).sort()).toEqual(["afile", "report.csv"]);
      expect(readdirSync(join(here, "report.csv"))).toEqual([]);
    } finally {
      done();
    }
  });
});
