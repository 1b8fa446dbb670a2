import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { marked } from "marked";
import { root, runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = tempDir("sa-diff-"));
});
afterAll(() => cleanup());

const oldFile = join(root, "fixtures/review/diff-old.jsonl");
const newFile = join(root, "fixtures/review/diff-new.jsonl");
const diff = (...args: string[]) => runScript("diff", args, { cwd: dir });

describe("diff", () => {
  test("a file against itself: exit 0, nothing changed", async () => {
    const result = await diff(oldFile, oldFile, "--json");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      services: { added: 0, removed: 0, changed: 0 },
      features: { added: 0, removed: 0, changed: 0 },
      levels: { up: 0, down: 0 },
      mappings: { added: 0, removed: 0, changed: 0 },
      details: [],
    });
    expect((await diff(oldFile, oldFile)).stdout).toContain("identical");
  });

  test("--json with --output FILE: the file gets the object, and stdout still does (it got nothing)", async () => {
    const file = join(dir, "changes.json");
    const result = await diff(oldFile, newFile, "--json", "--output", file);
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(readFileSync(file, "utf8")));
    expect(JSON.parse(result.stdout).services).toBeDefined();
  });

  test("two hand-written files: exit 1 and the counts of a hand count", async () => {
    // By hand: service C added, B removed, A changed. In A at Foundational: "Payment portal" added,
    // "Staff dashboard" removed, "Online booking" (level 2→3, +APP4) and "Status alerts" (matched by
    // name under a new id, level 3→2, -TEC1) changed; at Enhanced only the description changed.
    // Mappings: +APP4, +APP5 (the new feature's); -TEC1, -APP3 (the removed feature's).
    const result = await diff(oldFile, newFile, "--json");
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect({ ...report, details: undefined }).toEqual({
      services: { added: 1, removed: 1, changed: 1 },
      features: { added: 1, removed: 1, changed: 2 },
      levels: { up: 1, down: 1 },
      mappings: { added: 2, removed: 2, changed: 0 },
      details: undefined,
    });
    expect(report.details.map((d: { service_id: string; status: string }) => `${d.service_id} ${d.status}`)).toEqual(["A changed", "B removed", "C added"]);
    const foundational = report.details[0].plateaus[0];
    expect(foundational.features.changed.map((c: { name: string }) => c.name)).toEqual(["Online booking", "Status Alerts"]);
    expect(foundational.features.changed[1].changes.feature_id).toEqual({ old: "AAAAA2", new: "BBBBB2" });
    expect(foundational.mappings).toEqual({ added: ["AAAAA5 applications:APP5", "AAAAA1 applications:APP4"], removed: ["AAAAA3 applications:APP3", "BBBBB2 technologies:TEC1"], changed: [] });
    expect(report.details[0].plateaus[1]).toMatchObject({ plateau: "Enhanced", description: { old: "Crews follow planned routes.", new: "Crews follow routes planned each morning." } });
  });

  test("the terminal summary, and readable md and html reports", async () => {
    const text = await diff(oldFile, newFile);
    expect(text.stdout).toContain("services  1 added, 1 removed, 1 changed");
    expect(text.stdout).toContain('~ "Online booking" level 2→3');
    expect((await diff(oldFile, newFile, "--format", "md", "--output", "d.md")).code).toBe(1);
    const md = readFileSync(join(dir, "d.md"), "utf8");
    expect(md).toContain("## Bin collection (A)");
    expect(md).toContain("- Added **Payment portal**");
    expect((await diff(oldFile, newFile, "--format", "html", "--output", "d.html")).code).toBe(1);
    expect(readFileSync(join(dir, "d.html"), "utf8")).toContain("Removed <strong>Staff dashboard</strong>");
  });

  test("a mapping whose facets changed is a difference (exit 1), counted and named in every format", async () => {
    const withFacets = (value: string) => {
      const lines = readFileSync(oldFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      const feature = lines[0].plateaus[0].features[0];
      const set = Object.keys(feature.mappings)[0]!;
      feature.mappings[set][0].facets = { interface: value, owner: "council" };
      return { text: lines.map((l) => JSON.stringify(l)).join("\n") + "\n", id: feature.feature_id, mapping: `${set}:${feature.mappings[set][0].item}` };
    };
    const before = withFacets("UI");
    const after = withFacets("API");
    writeFileSync(join(dir, "facets-old.jsonl"), before.text);
    writeFileSync(join(dir, "facets-new.jsonl"), after.text);
    expect((await diff("facets-old.jsonl", "facets-old.jsonl")).code).toBe(0);
    const result = await diff("facets-old.jsonl", "facets-new.jsonl", "--json");
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.mappings).toEqual({ added: 0, removed: 0, changed: 1 });
    const change = report.details[0].plateaus[0].features.changed[0];
    expect(change.mappings.changed).toEqual([{ mapping: before.mapping, old: { interface: "UI", owner: "council" }, new: { interface: "API", owner: "council" } }]);
    expect(report.details[0].plateaus[0].mappings.changed).toEqual([`${before.id} ${before.mapping}`]);
    expect((await diff("facets-old.jsonl", "facets-new.jsonl")).stdout).toContain("mappings +0 -0 ~1");
    await diff("facets-old.jsonl", "facets-new.jsonl", "--format", "md", "--output", "f.md");
    expect(readFileSync(join(dir, "f.md"), "utf8")).toContain(`facets changed: ${before.mapping} (interface: UI → API)`);
    // Matched by name under a new id, and the old file from stdin: the old facets are still found.
    writeFileSync(join(dir, "facets-renamed.jsonl"), after.text.replaceAll(`"${after.id}"`, '"ZZZZZ9"'));
    const proc = Bun.spawn(["bun", join(root, "scripts/diff.ts"), "-", "facets-renamed.jsonl", "--format", "md"], { cwd: dir, stdin: Bun.file(join(dir, "facets-old.jsonl")), stdout: "pipe", stderr: "pipe" });
    const renamed = await new Response(proc.stdout).text();
    expect(renamed).toContain(`feature_id: ${after.id} → ZZZZZ9`);
    expect(renamed).toContain(`facets changed: ${before.mapping} (interface: UI → API)`);
    expect(await proc.exited).toBe(1);
  });

  test("a service renamed and nothing else: the old and the new name in every format", async () => {
    const line = JSON.parse(readFileSync(oldFile, "utf8").split("\n")[0]!);
    line.service.name = "Bins, renamed";
    writeFileSync(join(dir, "renamed.jsonl"), `${JSON.stringify(line)}\n`);
    const first = join(dir, "first.jsonl");
    writeFileSync(first, `${readFileSync(oldFile, "utf8").split("\n")[0]!}\n`);
    const json = await diff(first, "renamed.jsonl", "--json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).details).toEqual([{ service_id: "A", name: "Bins, renamed", status: "changed", changes: { name: { old: "Bin collection", new: "Bins, renamed" } }, plateaus: [] }]);
    expect((await diff(first, "renamed.jsonl")).stdout).toContain('~ A Bins, renamed\n  name "Bin collection"→"Bins, renamed"');
    await diff(first, "renamed.jsonl", "--format", "md", "--output", "renamed.md");
    expect(readFileSync(join(dir, "renamed.md"), "utf8")).toContain("- Name was: Bin collection\n- Name is: Bins, renamed");
    await diff(first, "renamed.jsonl", "--format", "html", "--output", "renamed.html");
    expect(readFileSync(join(dir, "renamed.html"), "utf8")).toContain("<ul><li>Name was: Bin collection<br>Name is: Bins, renamed</li></ul>");
  });

  test("the md report shows the model's text as written once rendered (GFM)", async () => {
    const [a, b] = readFileSync(oldFile, "utf8").split("\n").map((l) => l && JSON.parse(l));
    const said = ["- Crews & R&amp;D", "1. ~~Routes~~ planned"];
    const changed = structuredClone(a);
    changed.plateaus[0].service_description = said[0];
    changed.plateaus[0].features[0].description = said[1];
    writeFileSync(join(dir, "said-old.jsonl"), `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);
    writeFileSync(join(dir, "said-new.jsonl"), `${JSON.stringify(changed)}\n${JSON.stringify(b)}\n`);
    expect((await diff("said-old.jsonl", "said-new.jsonl", "--format", "md", "--output", "said.md")).code).toBe(1);
    const html = await marked.parse(readFileSync(join(dir, "said.md"), "utf8"), { gfm: true });
    const text = html.replace(/<[^>]+>/g, " ").replace(/&amp;/g, "&").replace(/\s+/g, " ");
    expect(said.filter((s) => !text.includes(s))).toEqual([]);
    expect(html.match(/<(del|ol)\b/g)).toBeNull();
  });

  test("one name for two roles, renamed in case: each feature is matched within its role, nothing but the names and ids changed", async () => {
    const line = JSON.parse(readFileSync(oldFile, "utf8").split("\n")[0]!);
    const booking = line.plateaus[0].features[0];
    line.plateaus = [line.plateaus[0]];
    line.plateaus[0].features = [booking, { ...structuredClone(booking), feature_id: "BBBBB1", customer_type: "businesses", score: { ...booking.score, level: 4, label: "Quantitatively Managed" } }];
    const renamed = structuredClone(line);
    const [residents, businesses] = renamed.plateaus[0].features;
    // The other order, as another writer may sort them, and new ids for the new name.
    renamed.plateaus[0].features = [{ ...businesses, feature_id: "BBBBB9", name: "online booking" }, { ...residents, feature_id: "AAAAA9", name: "online booking" }];
    writeFileSync(join(dir, "roles-old.jsonl"), `${JSON.stringify(line)}\n`);
    writeFileSync(join(dir, "roles-new.jsonl"), `${JSON.stringify(renamed)}\n`);
    const report = JSON.parse((await diff("roles-old.jsonl", "roles-new.jsonl", "--json")).stdout);
    expect(report.levels).toEqual({ up: 0, down: 0 });
    const changed = report.details[0].plateaus[0].features.changed as Array<{ feature_id: string; changes: Record<string, unknown> }>;
    expect(changed.map((c) => [c.feature_id, Object.keys(c.changes).sort()])).toEqual([
      ["AAAAA9", ["feature_id", "name"]],
      ["BBBBB9", ["feature_id", "name"]],
    ]);
  });

  test("an item mapped twice with other facets (a model named it twice): the same mappings in another order are no change", async () => {
    const line = JSON.parse(readFileSync(oldFile, "utf8").split("\n")[0]!);
    line.plateaus[0].features[0].mappings.applications = [{ item: "APP1", facets: { note: "first" } }, { item: "APP1", facets: { note: "second" } }];
    const reordered = structuredClone(line);
    reordered.plateaus[0].features[0].mappings.applications.reverse();
    const once = structuredClone(line);
    once.plateaus[0].features[0].mappings.applications.pop();
    for (const [name, l] of [["twice-old", line], ["twice-new", reordered], ["twice-once", once]] as const) writeFileSync(join(dir, `${name}.jsonl`), `${JSON.stringify(l)}\n`);
    const same = await diff("twice-old.jsonl", "twice-new.jsonl", "--json");
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout).mappings).toEqual({ added: 0, removed: 0, changed: 0 });
    const fewer = JSON.parse((await diff("twice-old.jsonl", "twice-once.jsonl", "--json")).stdout);
    expect(fewer.mappings).toEqual({ added: 0, removed: 1, changed: 0 });
  });

  test("the terminal summary never passes on a name's control characters: an escape sequence or a line break shows as an escape", async () => {
    const line = JSON.parse(readFileSync(oldFile, "utf8").split("\n")[0]!);
    line.plateaus[0].features[0].name = "Online\u001b[2J\u001b[31m booking\nfake line\u202e";
    writeFileSync(join(dir, "escapes.jsonl"), `${JSON.stringify(line)}\n`);
    const first = join(dir, "first-only.jsonl");
    writeFileSync(first, `${readFileSync(oldFile, "utf8").split("\n")[0]!}\n`);
    const text = (await diff(first, "escapes.jsonl")).stdout;
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain('"Online\\u001b[2J\\u001b[31m booking\\nfake line\\u202e"');
    expect(text.split("\n").filter((l) => l.includes("fake line"))).toHaveLength(1);
  });

  test("--output report.html or report.md without --format writes that format, as export does; another extension gets the text", async () => {
    for (const [name, start] of [["by-ext.html", "<!doctype html>"], ["by-ext.htm", "<!doctype html>"], ["by-ext.md", "# Changes from "], ["by-ext.txt", "services  "]] as const) {
      expect((await diff(oldFile, newFile, "--output", name)).code).toBe(1);
      expect(readFileSync(join(dir, name), "utf8").startsWith(start)).toBe(true);
    }
    // --json still writes the object, whatever the extension.
    const json = await diff(oldFile, newFile, "--json", "--output", "json.html");
    expect(json.code).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, "json.html"), "utf8")).services.changed).toBeGreaterThan(0);
  });

  test("a long name cut to fit the terminal summary is cut between characters, never inside an emoji", async () => {
    const renamed = join(dir, "emoji-name.jsonl");
    const [first, ...rest] = readFileSync(oldFile, "utf8").trim().split("\n");
    const line = JSON.parse(first!);
    // 30 characters fit: the 29th and 30th UTF-16 units are one emoji.
    line.plateaus[0].features[0].name = `${"Online booking for every bin".padEnd(28, ".")}😀 and more`;
    writeFileSync(renamed, [JSON.stringify(line), ...rest].map((l) => `${l}\n`).join(""));
    const result = await diff(oldFile, renamed);
    expect(result.code).toBe(1);
    expect(result.stdout.includes("\uFFFD")).toBe(false);
    expect(result.stdout).toContain('"Online booking for every bin😀…"');
  });

  test("bad input exits 2, naming the file and line", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `${readFileSync(oldFile, "utf8")}{"meta": {}}\n`);
    const result = await diff(oldFile, bad);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("bad.jsonl:3:");
    expect((await diff(oldFile, join(dir, "missing.jsonl"))).code).toBe(2);
    expect((await diff(oldFile)).code).toBe(2);
  });

  test("a service on two lines (files put together) is exit 2 naming both lines", async () => {
    const twice = join(dir, "twice.jsonl");
    const [first] = readFileSync(oldFile, "utf8").trim().split("\n");
    writeFileSync(twice, `${readFileSync(oldFile, "utf8")}${first}\n`);
    const result = await diff(oldFile, twice);
    expect(result.code).toBe(2);
    const id = JSON.parse(first!).service.service_id;
    expect(result.stderr).toContain(`twice.jsonl:3: service ${id} is on line 1 too`);
  });

  test("--config is checked when given (diff needs none): a missing or bad file is exit 2 naming it, with the --json object; a good one changes nothing", async () => {
    const missing = await diff(oldFile, oldFile, "--config", "nowhere.json", "--json");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("config nowhere.json: file not found");
    expect(JSON.parse(missing.stdout.trim())).toMatchObject({ status: "error", exitCode: 2, code: "E_CONFIG" });
    writeFileSync(join(dir, "bad.config.json"), '{\n  "concurency": 3\n}\n');
    const bad = await diff(oldFile, oldFile, "--config", "bad.config.json");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.config.json:2: Unrecognized key: "concurency"');
    writeFileSync(join(dir, "good.config.json"), '{"concurrency": 3}\n');
    const good = await diff(oldFile, oldFile, "--config", "good.config.json");
    expect(good.code).toBe(0);
    expect(good.stdout).toContain("identical");
  });

  test("stdin on one side works; on both sides is a usage error, not every service removed", async () => {
    const piped = (args: string[]) => {
      const proc = Bun.spawn(["bun", join(root, "scripts/diff.ts"), ...args, "--json"], { cwd: dir, stdin: Bun.file(oldFile), stdout: "pipe", stderr: "pipe" });
      return Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    };
    const [oneOut, , oneCode] = await piped(["-", oldFile]);
    expect(oneCode).toBe(0);
    expect(JSON.parse(oneOut).services).toEqual({ added: 0, removed: 0, changed: 0 });
    const [bothOut, bothErr, bothCode] = await piped(["-", "-"]);
    expect(bothCode).toBe(2);
    expect(bothErr).toContain("cannot both be -");
    expect(JSON.parse(bothOut)).toMatchObject({ status: "error", code: "E_USAGE" });
  });

  test("a report written over one of the files compared is refused, and the file kept", async () => {
    const copy = join(dir, "old-copy.jsonl");
    writeFileSync(copy, readFileSync(oldFile));
    const result = await diff(copy, newFile, "--format", "md", "--output", copy);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("is one of the files compared");
    expect(readFileSync(copy, "utf8")).toBe(readFileSync(oldFile, "utf8"));
  });

  test("a run against a run with another model differs (exit 1)", async () => {
    const a = await syntheticEvolutions(dir, "synthetic:demo", "a.jsonl");
    const b = await syntheticEvolutions(dir, "synthetic:other", "b.jsonl");
    const result = await diff(a.path, b.path, "--json");
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.services.changed).toBe(a.lines.length);
    expect(report.features.added + report.features.changed).toBeGreaterThan(0);
  });
});
