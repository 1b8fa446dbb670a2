import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, root, runScript, tempDir } from "./helpers.ts";

// Which views an export writes, and what it says when a view does not fit the output.

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir("sa-export-views-")));
afterAll(() => cleanup());

const evolutions = join(root, "fixtures/python/run-output.jsonl");

describe("CSV to stdout takes one table", () => {
  test("--view mappings (one table per catalogue) is refused naming that view and its tables, not --view all", async () => {
    const result = await runScript("export", ["--input", evolutions, "--output", "-", "--format", "csv", "--view", "mappings", "--data", fixtureData], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("--view mappings with CSV writes one file per table (mappings.applications, mappings.technologies, mappings.data): give --output a file name");
  });
});

describe("the HTML report holds the services view too", () => {
  test("each plateau of a service says its features and their average level, as the services table does", async () => {
    const input = join(root, "fixtures/python/evolutions.jsonl");
    expect((await runScript("export", ["--input", input, "--output", "report.html"], { cwd: dir })).code).toBe(0);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    const headings = [...html.matchAll(/<h4>([\s\S]*?)<\/h4>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ""));
    expect(headings).toEqual([
      "1. Foundational 2 features, average level 2.50",
      "2. Enhanced 1 feature, average level 1.00",
      "1. Foundational 2 features, average level 2.50",
      "2. Enhanced 1 feature, average level 1.00",
    ]);
  });
});

describe("the HTML charts' short labels", () => {
  test("a long plateau name is cut between characters, never inside an emoji (no U+FFFD in the page)", async () => {
    const [first, ...rest] = readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n");
    const line = JSON.parse(first!);
    // 13 characters fit an axis label: the 12th and 13th UTF-16 units are one emoji here.
    line.plateaus[0].plateau_name = "Foundationa😀 and more";
    writeFileSync(join(dir, "emoji.jsonl"), [JSON.stringify(line), ...rest].map((l) => `${l}\n`).join(""));
    expect((await runScript("export", ["--input", "emoji.jsonl", "--output", "emoji.html"], { cwd: dir })).code).toBe(0);
    const html = readFileSync(join(dir, "emoji.html"), "utf8");
    expect(html.includes("\uFFFD")).toBe(false);
    expect(html.includes(">Foundationa😀…<title>")).toBe(true);
  });
});

describe("a line whose plateaus are out of order (written by hand or by another tool)", () => {
  test("every table lists them in plateau order, as the narrative does: the same rows as the ordered line", async () => {
    const ordered = readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n");
    const reversed = ordered.map((l) => {
      const line = JSON.parse(l);
      line.plateaus.reverse();
      return JSON.stringify(line);
    });
    writeFileSync(join(dir, "reversed.jsonl"), reversed.map((l) => `${l}\n`).join(""));
    for (const [input, output] of [["reversed.jsonl", "reversed.json"], [join(root, "fixtures/python/evolutions.jsonl"), "ordered.json"]]) {
      expect((await runScript("export", ["--input", input!, "--output", output!], { cwd: dir })).code).toBe(0);
    }
    const tables = (name: string) => {
      const { features, services } = JSON.parse(readFileSync(join(dir, name), "utf8"));
      return { features, services };
    };
    expect(tables("reversed.json")).toEqual(tables("ordered.json"));
  });
});

describe("the service as its owner described it", () => {
  test("the narrative (Markdown and HTML) gives the service's jobs to be done, strings and objects alike", async () => {
    const [first, ...rest] = readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n");
    const line = JSON.parse(first!);
    line.service.jobs_to_be_done = [{ name: "Know when my bins are collected", priority: "high" }, "Report a *missed* bin"];
    writeFileSync(join(dir, "jobs.jsonl"), [JSON.stringify(line), ...rest].map((l) => `${l}\n`).join(""));
    for (const output of ["jobs.md", "jobs.html"]) expect((await runScript("export", ["--input", "jobs.jsonl", "--output", output], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, "jobs.md"), "utf8")).toContain("*Jobs to be done:* Know when my bins are collected; Report a \\*missed\\* bin\n");
    expect(readFileSync(join(dir, "jobs.html"), "utf8")).toContain('<p class="jobs"><strong>Jobs to be done:</strong> Know when my bins are collected; Report a *missed* bin</p>');
  });

  test("the narrative gives the service's parent and customer type when the input has them, and nothing when not", async () => {
    const [first, second, ...rest] = readFileSync(join(root, "fixtures/python/evolutions.jsonl"), "utf8").trim().split("\n");
    const line = JSON.parse(first!);
    Object.assign(line.service, { parent_id: "WASTE", customer_type: "residents & <visitors>" });
    const bare = JSON.parse(second!);
    Object.assign(bare.service, { parent_id: null, customer_type: " " });
    writeFileSync(join(dir, "facts.jsonl"), [JSON.stringify(line), JSON.stringify(bare), ...rest].map((l) => `${l}\n`).join(""));
    for (const output of ["facts.md", "facts.html"]) expect((await runScript("export", ["--input", "facts.jsonl", "--output", output], { cwd: dir })).code).toBe(0);
    const markdown = readFileSync(join(dir, "facts.md"), "utf8");
    const html = readFileSync(join(dir, "facts.html"), "utf8");
    expect(markdown).toContain("*Part of:* WASTE · *Customer type:* residents & \\<visitors\\>\n");
    expect(html).toContain("<strong>Part of:</strong> WASTE · <strong>Customer type:</strong> residents &#38; &#60;visitors&#62;</p>");
    expect(markdown.match(/\*Part of:\*/g)).toHaveLength(1);
    expect(markdown).not.toContain("*Customer type:*  ");
  });
});

describe("the run details count what the file holds", () => {
  test("Plateaus is the plateaus the evolutions reach (2), not every plateau the data folder names (5)", async () => {
    const input = join(root, "fixtures/python/evolutions.jsonl");
    expect((await runScript("export", ["--input", input, "--output", "counted.json", "--data", fixtureData], { cwd: dir })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "counted.json"), "utf8")).run.totals).toEqual({ services: 2, plateaus: 2, features: 6, mappings: 0 });
    expect((await runScript("export", ["--input", input, "--output", "counted.md", "--data", fixtureData], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, "counted.md"), "utf8")).toContain("- **Plateaus:** 2\n");
  });
  test("an integer or number facet is a number column: the HTML table sorts it as numbers (criticality 10 after 9)", async () => {
    expect((await runScript("export", ["--input", evolutions, "--output", "facets.html", "--data", fixtureData], { cwd: dir })).code).toBe(0);
    const html = readFileSync(join(dir, "facets.html"), "utf8");
    const heads = [...html.matchAll(/<th( class="num")?>(Criticality|Adoption share|Interface)<\/th>/g)].map((m) => `${m[2]}${m[1] ? " (num)" : ""}`);
    expect(heads).toContain("Criticality (num)");
    expect(heads).toContain("Adoption share (num)");
    expect(heads).toContain("Interface");
  });
});
