import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { fixtureData, runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions, type EvolutionLine } from "./support/evolutions.ts";

let dir: string;
let cleanup: () => void;
let lines: EvolutionLine[];
let report: string;
let browser: Browser;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-report-"));
  const evolutions = await syntheticEvolutions(dir);
  lines = evolutions.lines;
  report = join(dir, "report.html");
  expect((await runScript("export", ["--input", evolutions.path, "--data", fixtureData, "--output", report], { cwd: dir })).code).toBe(0);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => {
  await browser?.close();
  cleanup();
});

/** Opens the report and records every request and every console or page error. */
async function open(options: { width: number; javaScript?: boolean }) {
  const context = await browser.newContext({ viewport: { width: options.width, height: 900 }, javaScriptEnabled: options.javaScript ?? true });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("requestfailed", (r) => errors.push(`failed: ${r.url()}`));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`file://${report}`);
  return { page, errors, requests, close: () => context.close() };
}

const rows = "tr[data-service]";

describe("HTML report in headless Chromium", () => {
  test("offline: no request but the file itself, no console error; run details, contents, checks and charts with legends and axis titles", async () => {
    const { page, errors, requests, close } = await open({ width: 1400 });
    expect(errors).toEqual([]);
    expect(requests).toEqual([`file://${report}`]);
    const details = await page.locator("dl.run").innerText();
    expect(details).toContain(lines[0]!.meta.run_id);
    expect(details).toContain("descriptions: synthetic:demo; features: synthetic:demo; mapping: synthetic:demo");
    expect(details).not.toContain("fingerprint");
    expect(await page.locator("nav.toc ol li").count()).toBe(lines.length);
    expect(await page.locator("section.service").count()).toBe(lines.length);
    expect(await page.locator("#checks").count()).toBe(1);
    expect(await page.locator("figure > svg").count()).toBe(3);
    expect(await page.locator("#chart-levels .legend li").allInnerTexts()).toEqual(["1 Initial", "2 Managed", "3 Defined", "4 Quantitatively Managed", "5 Optimizing"]);
    expect(await page.locator("#chart-trajectories .legend li").last().innerText()).toBe(`mean of all ${lines.length} services`);
    for (const title of ["Plateau", "Share of features", "Average level", "Catalogue items"]) expect(await page.locator("svg text.axis-title", { hasText: title }).count()).toBeGreaterThan(0);
    expect(await page.locator("figure svg rect title").first().textContent()).toMatch(/level \d \(/);
    expect(await page.locator("section[id^=map-] table").count()).toBe(3);
    // The narrative: each plateau ends with its mapped items by catalogue, with their facets.
    expect(await page.locator("section.service").first().locator(".plateau").first().locator(".mapped h5").allInnerTexts()).toEqual(["Applications", "Technologies", "Data Assets"]);
    expect(await page.locator(".mapped").first().innerText()).toContain("Criticality: ");
    expect(await page.locator("section[id=map-applications] th", { hasText: "Criticality" }).count()).toBe(1);
    await page.screenshot({ path: "/tmp/report-1400.png" });
    await page.locator("#charts").scrollIntoViewIfNeeded();
    await page.screenshot({ path: "/tmp/report-1400-charts.png" });
    expect(statSync("/tmp/report-1400.png").size).toBeGreaterThan(10_000);
    await close();
  });

  test("typing a feature's name in the search box leaves only the matching rows visible", async () => {
    const { page, errors, close } = await open({ width: 1400 });
    const name = lines[2]!.plateaus[1]!.features[0]!.name;
    const total = await page.locator(rows).count();
    await page.fill("#f-q", name);
    await page.waitForFunction(`!document.getElementById("filter-count").textContent.startsWith("${total} of")`);
    const visible = page.locator(`${rows}:visible`);
    const shown = await visible.allInnerTexts();
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(total);
    for (const text of shown) expect(text.toLowerCase()).toContain(name.toLowerCase());
    const hidden = await page.locator(`${rows}.off`).allTextContents();
    for (const text of hidden) expect(text.toLowerCase()).not.toContain(name.toLowerCase());
    expect(await page.locator("#filter-count").innerText()).toBe(`${shown.length} of ${total} rows`);
    // A filter on role alone; reset brings every row back.
    await page.fill("#f-q", "");
    await page.selectOption("#f-role", "council_staff");
    const roles = await page.locator(`table.features ${rows}:visible td:first-child`).allInnerTexts();
    expect(roles.length).toBeGreaterThan(0);
    for (const text of roles) expect(text).toBe("Council staff");
    await page.click("#f-reset");
    await page.waitForFunction(`document.getElementById("filter-count").textContent === "${total} of ${total} rows"`);
    expect(errors).toEqual([]);
    await close();
  });

  test("a table-of-contents link scrolls to that service; a header sorts its table", async () => {
    const { page, close } = await open({ width: 1400 });
    const target = lines[5]!.service;
    await page.click(`nav.toc a:text-is("${target.name}")`);
    expect(new URL(page.url()).hash).toBe(`#svc-${target.service_id.replace(/\./g, "_2e_")}`);
    const box = await page.locator(`section.service:has(h3:text("${target.name}"))`).boundingBox();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeLessThan(300);
    const table = page.locator("section[id=map-applications] table");
    await table.locator("th", { hasText: "Criticality" }).click();
    const column = (await table.locator("thead th").allInnerTexts()).findIndex((t) => t.includes("Criticality")) + 1;
    const values = (await table.locator(`tbody tr td:nth-child(${column})`).allInnerTexts()).map(Number);
    expect(values.length).toBeGreaterThan(1);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    await close();
  });

  test("at 390 px the charts fit and tables become cards; without JavaScript the filters are hidden and every row shows", async () => {
    const { page, errors, close } = await open({ width: 390 });
    const overflow = (await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    for (const svg of await page.locator("figure > svg").all()) expect((await svg.boundingBox())!.width).toBeLessThanOrEqual(390);
    expect(await page.locator("table.features thead").first().isVisible()).toBe(false);
    await page.screenshot({ path: "/tmp/report-390.png" });
    await page.locator("#charts").scrollIntoViewIfNeeded();
    await page.screenshot({ path: "/tmp/report-390-charts.png" });
    await page.locator("section.service").first().scrollIntoViewIfNeeded();
    await page.screenshot({ path: "/tmp/report-390-cards.png" });
    expect(errors).toEqual([]);
    await close();
    const plain = await open({ width: 1000, javaScript: false });
    expect(await plain.page.locator("#filters").isVisible()).toBe(false);
    expect(await plain.page.locator(`${rows}:visible`).count()).toBe(await plain.page.locator(rows).count());
    await plain.close();
  });

  test("printed to PDF, every feature name is in the text, and every row prints even when filtered", async () => {
    const { page, close } = await open({ width: 1400 });
    await page.fill("#f-q", "no row has this text");
    await page.waitForFunction(`document.getElementById("filter-count").textContent.startsWith("0 of")`);
    const pdf = join(dir, "report.pdf");
    await page.pdf({ path: pdf, format: "A4", landscape: true });
    await close();
    const proc = Bun.spawn(["pdftotext", pdf, "-"], { stdout: "pipe" });
    const text = (await new Response(proc.stdout).text()).replace(/\s+/g, " ");
    expect(await proc.exited).toBe(0);
    const names = [...new Set(lines.flatMap((e) => e.plateaus.flatMap((p) => p.features.map((f) => f.name))))];
    expect(names.length).toBeGreaterThan(5);
    const missing = names.filter((n) => !text.includes(n));
    expect(missing).toEqual([]);
  });

  test("a description's line breaks show as line breaks, in the tables and the narrative", async () => {
    const line = structuredClone(lines[0]!);
    line.plateaus[0]!.features[0]!.description = "First the crews log each fault.\nThen residents see when it is fixed.";
    line.plateaus[0]!.service_description = "Crews fix faults.\n\nResidents are told.";
    const input = join(dir, "breaks.jsonl");
    const output = join(dir, "breaks.html");
    writeFileSync(input, `${JSON.stringify(line)}\n`);
    expect((await runScript("export", ["--input", input, "--output", output], { cwd: dir })).code).toBe(0);
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(`file://${output}`);
    expect(await page.locator("td", { hasText: "First the crews" }).first().innerText()).toBe("First the crews log each fault.\nThen residents see when it is fixed.");
    expect(await page.locator("p", { hasText: "Crews fix faults." }).first().innerText()).toBe("Crews fix faults.\n\nResidents are told.");
    await context.close();
  });
});
