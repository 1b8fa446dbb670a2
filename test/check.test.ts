import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, root, runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";
import type { Finding } from "../lib/review/checks.ts";

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir("sa-check-"));
});
afterAll(() => cleanup());

const fixture = join(root, "fixtures/review/check-two-findings.jsonl");
const check = (args: string[], env: Record<string, string> = {}) => runScript("check", args, { cwd: dir, env });

describe("check", () => {
  test("a repeated feature: the same or near-same name at a later plateau (case, punctuation, word order, plurals)", async () => {
    const { repeatedFeatures } = await import("../lib/review/checks.ts");
    const line = JSON.parse(readFileSync(fixture, "utf8"));
    line.plateaus[1].features[0].name = "fault-reporting";
    line.plateaus[2].features[0].name = "Reports: Energy";
    line.plateaus[2].features[1].name = "Repair queues";
    const { evolutionSchema } = await import("../lib/schema/evolution.ts");
    const found = repeatedFeatures(evolutionSchema.parse(line)).map((f) => `${f.plateau}: ${f.message}`);
    expect(found).toEqual(['Enhanced: "fault-reporting" repeats a feature of Foundational', 'Advanced: "Repair queues" repeats a feature of Foundational']);
  });

  test("one role missing at one plateau and one falling level: exactly those two, exit 1 (a missing role is an error)", async () => {
    const result = await check(["--input", fixture, "--json"]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.findings).toEqual([
      { check: "missing-role", severity: "error", serviceId: "D", plateau: "Enhanced", message: "no features for staff" },
      { check: "falling-level", severity: "warning", serviceId: "D", plateau: "Advanced", message: "average level 2.00 is below 3.00 at Enhanced" },
    ]);
    expect(report.errors).toBe(1);
    expect(report.counts["missing-role"]).toBe(1);
    const text = await check(["--input", fixture]);
    expect(text.stdout).toContain("2 findings (1 error, 1 warning)");
  });

  test("a line that names gaps (answers that stayed invalid) is an error naming them", async () => {
    const line = JSON.parse(readFileSync(fixture, "utf8"));
    line.meta.models = { ...line.meta.models, incomplete: "mapping Enhanced applications" };
    const gappy = join(dir, "gappy.jsonl");
    writeFileSync(gappy, `${JSON.stringify(line)}\n`);
    const result = await check(["--input", gappy, "--json"]);
    expect(result.code).toBe(1);
    const found = JSON.parse(result.stdout).findings.filter((f: { check: string }) => f.check === "incomplete");
    expect(found).toEqual([{ check: "incomplete", severity: "error", serviceId: "D", message: "left empty or short (answers stayed invalid; run again to ask again): mapping Enhanced applications" }]);
  });

  test("severity and brand names come from the config; warnings alone exit 0", async () => {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ checks: { brands: ["Acme Sensors"], severity: { "missing-role": "warning", "brand-name": "error" } } }));
    expect((await check(["--input", fixture])).code).toBe(0);
    const line = JSON.parse(readFileSync(fixture, "utf8"));
    line.plateaus[1].features[0].description = "Acme Sensors report faults.";
    line.plateaus[0].service_description = "Foundational repairs when residents report them.";
    const branded = join(dir, "branded.jsonl");
    writeFileSync(branded, `${JSON.stringify(line)}\n`);
    const result = await check(["--input", branded, "--json"]);
    expect(result.code).toBe(1);
    const checks = JSON.parse(result.stdout).findings.map((f: { check: string; severity: string }) => `${f.check} ${f.severity}`);
    expect(checks).toEqual(["missing-role warning", "falling-level warning", "brand-name error", "names-plateau warning"]);
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ checks: { severity: { "missing-role": "loud" } } }));
    expect((await check(["--input", fixture])).code).toBe(2);
    writeFileSync(join(dir, "service-ambitions.config.json"), "{}");
  });

  test("a line missing plateaus the others have, a line with none, a feature twice at one plateau: each found", async () => {
    const base = JSON.parse(readFileSync(fixture, "utf8"));
    const as = (id: string, change: (line: typeof base) => void) => {
      const line = structuredClone(base);
      line.service.service_id = id;
      change(line);
      return JSON.stringify(line);
    };
    const lines = [
      JSON.stringify(base),
      as("E", (l) => l.plateaus.splice(1, 1)),
      as("F", (l) => (l.plateaus = [])),
      as("G", (l) => l.plateaus[0].features.push(structuredClone(l.plateaus[0].features[0]))),
    ];
    const holes = join(dir, "holes.jsonl");
    writeFileSync(holes, `${lines.join("\n")}\n`);
    const result = await check(["--input", holes, "--json"]);
    expect(result.code).toBe(1);
    const found = JSON.parse(result.stdout).findings.filter((f: Finding) => f.serviceId !== "D" && (f.check === "incomplete" || f.check === "repeated-feature"));
    expect(found).toEqual([
      { check: "incomplete", severity: "error", serviceId: "E", message: "no plateau Enhanced" },
      { check: "incomplete", severity: "error", serviceId: "F", message: "no plateau Foundational, Enhanced, Advanced" },
      { check: "repeated-feature", severity: "warning", serviceId: "G", plateau: "Foundational", message: '"Fault reporting" appears twice for residents' },
    ]);
    // Alone, a line with no plateaus at all is still incomplete.
    writeFileSync(holes, `${lines[2]}\n`);
    expect(JSON.parse((await check(["--input", holes, "--json"])).stdout).findings).toEqual([{ check: "incomplete", severity: "error", serviceId: "F", message: "no plateaus" }]);
  });

  test("with --data whose plateaus the file uses: a one-line file lacking one of them is incomplete", async () => {
    const run = await syntheticEvolutions(dir, "synthetic:demo", "one.jsonl");
    const line = structuredClone(run.lines[0]!);
    const dropped = line.plateaus.splice(1, 1)[0]!.plateau_name;
    writeFileSync(join(dir, "one.jsonl"), `${JSON.stringify(line)}\n`);
    const report = JSON.parse((await check(["--input", "one.jsonl", "--data", fixtureData, "--json"])).stdout);
    expect(report.findings.filter((f: Finding) => f.check === "incomplete")).toEqual([{ check: "incomplete", severity: "error", serviceId: line.service.service_id, message: `no plateau ${dropped}` }]);
    expect(JSON.parse((await check(["--input", "one.jsonl", "--json"])).stdout).counts.incomplete).toBe(0);
  });

  test("an empty input is said to be empty, not 'every check passed'; export says it too", async () => {
    writeFileSync(join(dir, "none.jsonl"), "");
    const result = await check(["--input", "none.jsonl"]);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("every check passed");
    expect(result.stdout).toContain("nothing to check: none.jsonl has no evolutions");
    const exported = await runScript("export", ["--input", "none.jsonl", "--output", "none.csv"], { cwd: dir });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain("none.jsonl has no evolutions");
  });

  test("bad lines are counted in the last line of the summary, never a bare 'every check passed' with exit 1", async () => {
    const good = readFileSync(fixture, "utf8").trim();
    writeFileSync(join(dir, "only-bad.jsonl"), '{"service_id": "S1", "name": "n", "description": "d"}\n');
    const onlyBad = await check(["--input", "only-bad.jsonl"]);
    expect(onlyBad.code).toBe(1);
    expect(onlyBad.stdout.trim()).toBe("every check passed; 1 bad line not checked (named above)");
    expect(onlyBad.stderr).toContain("only-bad.jsonl:1:");
    writeFileSync(join(dir, "some-bad.jsonl"), `${good}\nnot json\n[]\n`);
    const someBad = await check(["--input", "some-bad.jsonl"]);
    expect(someBad.code).toBe(1);
    expect(someBad.stdout.trim().split("\n").at(-1)).toMatch(/^\d+ findings? \(\d+ errors?, \d+ warnings?\); 2 bad lines not checked \(named above\)$/);
  });

  test("--strict: warnings fail too (exit 1); without it warnings alone exit 0", async () => {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ checks: { severity: { "missing-role": "warning" } } }));
    try {
      expect((await check(["--input", fixture])).code).toBe(0);
      const strict = await check(["--input", fixture, "--strict", "--json"]);
      expect(strict.stderr).not.toContain("unknown flag");
      expect(strict.code).toBe(1);
      expect(JSON.parse(strict.stdout)).toMatchObject({ errors: 0, warnings: 2, strict: true });
    } finally {
      writeFileSync(join(dir, "service-ambitions.config.json"), "{}");
    }
  });

  test("--json counts the bad lines that make the exit 1, and each is named file:line: field", async () => {
    const good = readFileSync(fixture, "utf8").trim();
    const line = JSON.parse(good);
    line.plateaus[0].features[0].score.level = 9;
    const mixed = join(dir, "mixed.jsonl");
    writeFileSync(mixed, `${good}\n${JSON.stringify(line)}\n{"meta":\n`);
    const result = await check(["--input", mixed, "--json"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ services: 1, badLines: 2 });
    expect(result.stderr).toContain(`${mixed}:2: plateaus.0.features.0.score.level`);
    expect(result.stderr).toContain(`${mixed}:3: invalid JSON`);
  });

  test("with --data: unused catalogue items and repeated features on a synthetic run; the HTML report has the checks", async () => {
    const run = await syntheticEvolutions(dir);
    const result = await check(["--input", run.path, "--data", fixtureData, "--json"]);
    const report = JSON.parse(result.stdout);
    expect(Object.keys(report.counts)).toEqual(["incomplete", "missing-role", "repeated-feature", "falling-level", "unmapped-feature", "unused-item", "unknown-item", "brand-name", "names-plateau"]);
    expect(report.services).toBe(run.lines.length);
    // The hand-written fixture uses none of the fixture catalogues' 3 × 16 items.
    const unused = JSON.parse((await check(["--input", fixture, "--data", fixtureData, "--json"])).stdout);
    expect(unused.counts["unused-item"]).toBe(48);
    expect(unused.findings.find((f: { check: string }) => f.check === "unused-item").message).toBe("Applications: Citizen Portal (APP001) is never used");
    expect((await runScript("export", ["--input", run.path, "--data", fixtureData, "--output", "r.html"], { cwd: dir })).code).toBe(0);
    const html = readFileSync(join(dir, "r.html"), "utf8");
    expect(html).toContain('<section id="checks"><h2>Checks</h2>');
    expect(html).toContain(report.findings.length ? report.findings[0].message.replace(/"/g, "&#34;") : "Every check passed.");
  });

  test("with --data: an item the catalogue does not have (removed since, or another catalogue) is named with how often it is mapped", async () => {
    const run = await syntheticEvolutions(dir);
    const line = structuredClone(run.lines[0]!);
    const feature = line.plateaus[0]!.features.find((f) => f.mappings.applications?.length)!;
    (feature.mappings.applications![0] as { item: string }).item = "APP999";
    writeFileSync(join(dir, "unknown.jsonl"), `${JSON.stringify(line)}\n`);
    const report = JSON.parse((await check(["--input", "unknown.jsonl", "--data", fixtureData, "--json"])).stdout);
    expect(report.counts["unknown-item"]).toBe(1);
    expect(report.findings.find((f: { check: string }) => f.check === "unknown-item")).toEqual({ check: "unknown-item", severity: "warning", message: "Applications: APP999 is mapped once but is not in the catalogue" });
    // The run's own file maps only items its catalogue has.
    expect(JSON.parse((await check(["--input", run.path, "--data", fixtureData, "--json"])).stdout).counts["unknown-item"]).toBe(0);
  });

  test("the text report never passes on control characters from the file: an escape sequence or a line break shows as an escape", async () => {
    const line = JSON.parse(readFileSync(fixture, "utf8"));
    line.service.service_id = "D\u001b]0;owned\u0007";
    line.plateaus[2].features[0].name = "Fault\u001b[2J reporting\nINJECTED";
    line.plateaus[0].features[0].name = "Fault\u001b[2J reporting\nINJECTED";
    writeFileSync(join(dir, "escapes.jsonl"), `${JSON.stringify(line)}\n`);
    const text = (await check(["--input", "escapes.jsonl"])).stdout;
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('D\\u001b]0;owned\\u0007 · Advanced: "Fault\\u001b[2J reporting\\nINJECTED" repeats a feature of Foundational');
    // A bad line's reason quotes the character JSON refused.
    writeFileSync(join(dir, "escline.jsonl"), "\u001b[2Jboom\n");
    for (const task of ["check", "export"]) {
      const args = task === "check" ? ["--input", "escline.jsonl"] : ["--input", "escline.jsonl", "--output", "escline.csv"];
      const bad = await runScript(task, args, { cwd: dir });
      expect({ task, escapes: bad.stderr.includes("\u001b") }).toEqual({ task, escapes: false });
      expect(bad.stderr).toContain("escline.jsonl:1: invalid JSON");
    }
  });
});
