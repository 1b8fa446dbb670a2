import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCacheStorage } from "../lib/cache.ts";
import type { Dataset } from "../lib/data.ts";
import { buildDomainText } from "../lib/prompts/build.ts";
import { render } from "../lib/prompts/render.ts";
import { plateauSchema, roleSchema } from "../lib/schema/data.ts";
import { pythonEvolutionSchema } from "../lib/schema/python-evolution.ts";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

const fixturePrompts = join(root, "fixtures", "prompts");
const read = (path: string) => readFileSync(path, "utf8").trim();
/** A prompt file's text under its own first heading (the template has that heading already). */
const body = (path: string) => read(path).replace(/^## [^\n]*\n+/, "");
const harbour = body(join(fixturePrompts, "situational_context", "harbour.md"));
const university = body(join(fixturePrompts, "situational_context", "university.md"));
const general = body(join(fixturePrompts, "inspirations", "general.md"));
const dataContext = read(join(fixtureData, "situational_context.md"));

const stageOf = (b: ChatBody) => ({ plateau_descriptions: "descriptions", plateau_features: "features" })[b.response_format?.json_schema?.name ?? ""] ?? "mapping";
const system = (b: ChatBody) => b.messages[0]!.content;
const user = (b: ChatBody) => b.messages[1]!.content;
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

/** Every value of every field of the fixture definitions (the Python tool's prompt carries tags, owner and date too). */
function definitionTexts(): string[] {
  const { bullets } = JSON.parse(readFileSync(join(fixtureData, "definitions.json"), "utf8")) as { bullets: Record<string, unknown>[] };
  const fields = ["name", "aliases", "short_definition", "definition", "decision_rules", "use_when", "avoid_confusion_with", "examples", "non_examples", "related_terms", "tags", "owner", "last_updated"];
  return bullets.flatMap((b) => fields.flatMap((f) => (b[f] === undefined ? [] : Array.isArray(b[f]) ? (b[f] as string[]) : [String(b[f])])));
}

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

describe("prompts", () => {
  test("every stage's system prompt carries the named context, the inspirations, every definition field and the writing rules", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ promptDir: fixturePrompts }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--context-id", "harbour", "--inspiration", "general", "--quiet"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const sent = server.requests.slice(before).map((r) => r.body);
      expect(sent).toHaveLength(21);
      const definitions = definitionTexts();
      expect(definitions.length).toBeGreaterThan(20);
      for (const body of sent) {
        const text = system(body);
        expect(text).toContain(harbour);
        expect(text).toContain(general);
        expect(text).not.toContain(dataContext);
        // The files' own headings repeat the template's: they are dropped, once.
        expect(text.match(/Situational context\n/gi)).toHaveLength(1);
        expect(text.match(/Inspirations\n/gi)).toHaveLength(1);
        for (const d of definitions) expect(text).toContain(d);
        for (const rule of ["Australian English", "active voice", "acronym", "brands", "No roadmaps", "Never name the service", "by its name or its number", "Do not quote", "as few assumptions"]) expect(text).toContain(rule);
        // The static domain text comes first, so every call of a run shares one cacheable prefix.
        expect(text.startsWith(system(sent[0]!).split("# Task:")[0]!)).toBe(true);
      }
    } finally {
      cleanup();
    }
  });

  test("each stage carries its own guidance: standalone descriptions, tailored features with the CMMI rubric, mapping rules", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), [{ ...makeServices(1)[0], customer_type: "residents", features: [{ feature_id: "SEED1", name: "Bin day reminder", description: "Texts residents the evening before collection." }] }]);
      const before = server.requests.length;
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const sent = server.requests.slice(before).map((r) => r.body);
      const [descriptions] = sent.filter((b) => stageOf(b) === "descriptions");
      expect(system(descriptions!)).toContain("Each description stands alone");
      expect(system(descriptions!)).toContain("core idea and key characteristics");
      expect(system(descriptions!)).not.toContain("build on the one before");
      const [features] = sent.filter((b) => stageOf(b) === "features");
      for (const text of ["value for a person in that role", "operational outcome", "privacy, security or safety", "specific and testable", "Keep features distinct", "jobs to be done", "seed features", "a feature that would fit any plateau as well is too generic"]) expect(system(features!)).toContain(text);
      for (const level of ["1 Initial: the work is ad hoc", "2 Managed: the work is planned", "3 Defined: the work follows a documented standard", "4 Quantitatively Managed: the work is measured", "5 Optimizing: measures and feedback"]) expect(system(features!)).toContain(level);
      expect(system(features!)).toContain("Use the whole range honestly");
      // The seed features and the customer type reach the model.
      expect(user(features!)).toContain("Bin day reminder");
      expect(user(features!)).toContain('"customer_type":"residents"');
      // The service goes to six calls per service as compact JSON, one line: indentation would add about a quarter to its tokens.
      const [descriptionsService, featuresService] = [user(descriptions!), user(features!)].map((text) => text.split("\n")[1]!);
      expect(JSON.parse(featuresService!)).toMatchObject({ name: "Service 1", customer_type: "residents", features: [{ name: "Bin day reminder" }] });
      expect(descriptionsService).toBe(featuresService);
      const [mapping] = sent.filter((b) => stageOf(b) === "mapping");
      for (const text of ["Match on meaning, not on shared words", "choose fewer items that are surely right", "Never invent an id", "at most once per feature", "every required facet", "Fill an optional facet only when it is relevant"]) expect(system(mapping!)).toContain(text);
      expect(system(mapping!)).not.toContain("rationale");
    } finally {
      cleanup();
    }
  });

  test("each mapping call carries the service name, its description at that plateau, and the facet and option labels", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const mappings = server.requests.slice(before).map((r) => r.body).filter((b) => stageOf(b) === "mapping");
      expect(mappings).toHaveLength(15);
      const evolution = JSON.parse(read(join(dir, "out.jsonl")));
      for (const plateau of evolution.plateaus as Array<{ plateau: number; plateau_name: string; service_description: string }>) {
        const mine = mappings.filter((b) => user(b).startsWith(`Service: Service 1\nPlateau ${plateau.plateau}: ${plateau.plateau_name}\n`));
        expect(mine).toHaveLength(3);
        expect(plateau.service_description.length).toBeGreaterThan(0);
        for (const b of mine) expect(user(b)).toContain(plateau.service_description);
      }
      const applications = mappings.find((b) => b.response_format?.json_schema?.name === "applications_mapping")!;
      for (const label of ['interface "Interface" (required; one of the options below)', '- ui "UI"', '- event "EVENT"', 'criticality "Criticality" (required; a whole number): 1 (low) to 5 (critical).', 'notes "Notes" (optional, null when not relevant or not known; text)']) {
        expect(system(applications)).toContain(label);
      }
    } finally {
      cleanup();
    }
  });

  test("a prompt file's own headings sit under the template's section: a top-level heading in it is moved down, so the template's sections stay the only top-level ones", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ promptDir: fixturePrompts }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--inspiration", "horizons", "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const [first] = server.requests.slice(before).map((r) => system(r.body));
      const domain = first!.split("# Task:")[0]!;
      const topLevel = domain.split("\n").filter((line) => /^# /.test(line) && line !== "# a code sample, not a heading");
      expect(topLevel).toEqual(["# Situational context", "# Maturity plateaus (level 1 first)", "# Definitions", "# Inspirations", "# Roles (customer types)", "# Writing rules (for every text you write)"]);
      expect(domain).toContain("\n## Library of service ideas\n\n### Within a year\n");
      expect(domain).toContain("\n### Later\n");
      // Inside a code block nothing is a heading.
      expect(domain).toContain("```text\n# a code sample, not a heading\n```");
      expect(domain).toContain("- **Shared records**: partners see the same up-to-date record");
    } finally {
      cleanup();
    }
  });

  test("a role or a plateau without a description is its name alone, with no dangling separator", () => {
    const data = {
      dir: "data",
      roles: [roleSchema.parse({ role_id: "residents", name: "Residents" }), roleSchema.parse({ role_id: "staff", name: "Staff", description: "Council officers." })],
      plateaus: [{ ...plateauSchema.parse({ name: "Basic" }), level: 1 }, { ...plateauSchema.parse({ name: "Joined up", description: "Records are shared." }), level: 2 }],
      definitions: { title: "Definitions", bullets: [] },
      catalogues: [],
      situationalContext: "",
      inspirations: "",
      sources: { situationalContext: null, inspirations: null },
    } as Dataset;
    const lines = buildDomainText(data).split("\n");
    expect(lines).toContain("- residents: Residents");
    expect(lines).toContain("- staff: Staff. Council officers.");
    expect(lines).toContain("1. Basic");
    expect(lines).toContain("2. Joined up: Records are shared.");
    expect(lines.filter((l) => / $/.test(l))).toEqual([]);
  });

  test("a missing context or inspirations file named by a flag or the config is exit 2 naming the path", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const run = (args: string[]) => runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, ...args], { cwd: dir, baseURL: server.url });
      const before = server.requests.length;
      const context = await run(["--context-id", "nowhere"]);
      expect(context.code).toBe(2);
      expect(context.stderr).toContain(join("prompts", "situational_context", "nowhere.md"));
      const inspirations = await run(["--inspiration", "nothing"]);
      expect(inspirations.code).toBe(2);
      expect(inspirations.stderr).toContain(join("prompts", "inspirations", "nothing.md"));
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ promptDir: "missing-prompts" }));
      const folder = await run([]);
      expect(folder.code).toBe(2);
      expect(folder.stderr).toContain(join("missing-prompts", "situational_context", "university.md"));
      expect(server.requests.length).toBe(before);
    } finally {
      cleanup();
    }
  });

  test("a context or inspirations file that is a folder is exit 2 naming the path and why (run, and preflight's data check), not an unexpected error", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      mkdirSync(join(dir, "prompts", "situational_context", "campus.md"), { recursive: true });
      const before = server.requests.length;
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--context-id", "campus", "--json"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(2);
      const said = `prompt file ${join("prompts", "situational_context", "campus.md")}: cannot be read (a folder, not a file)`;
      expect(run.stderr.split("\n").filter((l) => l.startsWith("✖"))).toEqual([`✖ ${said}`]);
      expect(lastJson(run.stdout)).toMatchObject({ status: "error", exitCode: 2, code: "E_CONFIG", error: said });
      expect(server.requests.length).toBe(before);
      // The data folder's own file, a folder by mistake, is named the same way.
      const data = join(dir, "data");
      cpSync(fixtureData, data, { recursive: true });
      rmSync(join(data, "inspirations.md"));
      mkdirSync(join(data, "inspirations.md"));
      const preflight = await runScript("preflight", ["--model", "synthetic:demo", "--input", input, "--data", data, "--json"], { cwd: dir });
      expect(preflight.code).toBe(2);
      expect(lastJson(preflight.stdout).checks.find((c: { ok: boolean }) => !c.ok)).toMatchObject({ code: "E_CONFIG", detail: `prompt file ${join(data, "inspirations.md")}: cannot be read (a folder, not a file)` });
    } finally {
      cleanup();
    }
  });

  // Six processes one after another: more than bun's default 5 s on a busy machine.
  test("a named file wins; when nothing is named: the data folder's files, else the default files under ./prompts, else none", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const sources = async (data: string, ...flags: string[]) => {
        const result = await runScript("preflight", ["--model", "synthetic:demo", "--input", input, "--data", data, "--json", ...flags], { cwd: dir });
        expect(result.code).toBe(0);
        return lastJson(result.stdout).checks.find((c: { name: string }) => c.name === "prompts").detail as string;
      };
      const bare = join(dir, "data");
      cpSync(fixtureData, bare, { recursive: true });
      for (const f of ["situational_context.md", "inspirations.md"]) rmSync(join(bare, f));
      expect(await sources(bare)).toContain("situational context: none; inspirations: none");
      cpSync(fixturePrompts, join(dir, "prompts"), { recursive: true });
      expect(await sources(bare)).toContain(`situational context: ${join("prompts", "situational_context", "university.md")}; inspirations: ${join("prompts", "inspirations", "general.md")}`);
      expect(await sources(fixtureData)).toContain(`situational context: ${join(fixtureData, "situational_context.md")}`);
      // A named file wins over the data folder's.
      expect(await sources(fixtureData, "--context-id", "harbour", "--inspiration", "maritime")).toContain(
        `situational context: ${join("prompts", "situational_context", "harbour.md")}; inspirations: ${join("prompts", "inspirations", "maritime.md")}`,
      );

      // The university text reaches the system prompt, read relative to the working directory.
      const before = server.requests.length;
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", bare, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      for (const r of server.requests.slice(before)) {
        expect(system(r.body)).toContain(university);
        expect(system(r.body)).toContain(general);
      }
    } finally {
      cleanup();
    }
  }, 60_000);

  test("--rationale: a rationale per mapped item in the cache and transcripts, none in the output; it is part of the cache key", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const before = server.requests.length;
      const first = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--rationale", "--transcripts", "--quiet"], { cwd: dir, baseURL: server.url });
      expect(first.code).toBe(0);
      const mappings = server.requests.slice(before).map((r) => r.body).filter((b) => stageOf(b) === "mapping");
      expect(mappings).toHaveLength(15);
      for (const b of mappings) {
        expect(system(b)).toContain("give a rationale");
        expect(JSON.stringify(b.response_format?.json_schema?.schema)).toContain('"rationale"');
      }

      const storage = await createCacheStorage({ driver: "fs", base: join(dir, ".sa/cache") });
      try {
        type Items = { mappings: Array<{ items: Array<{ item: string; rationale?: string }> }> };
        const cached = await Promise.all((await storage.getKeys("default:mapping")).map(async (k) => ((await storage.getItem(k)) as { answer: Items }).answer));
        const transcripts = await Promise.all((await storage.getKeys("transcripts:default:mapping")).map(async (k) => JSON.parse(((await storage.getItem(k)) as { answer: string }).answer) as Items));
        for (const answers of [cached, transcripts]) {
          expect(answers).toHaveLength(15);
          const items = answers.flatMap((a) => a.mappings.flatMap((m) => m.items));
          expect(items.length).toBeGreaterThan(0);
          for (const i of items) expect(i.rationale?.length).toBeGreaterThan(0);
        }
      } finally {
        await storage.dispose();
      }
      const output = read(join(dir, "out.jsonl"));
      expect(output).not.toContain("rationale");
      const evolution = JSON.parse(output);
      // Still the Python tool's strict ServiceEvolution: no extra key anywhere.
      expect(pythonEvolutionSchema.safeParse(evolution).success).toBe(true);
      expect(evolution.plateaus.flatMap((p: { features: { mappings: Record<string, unknown[]> }[] }) => p.features.flatMap((f) => Object.values(f.mappings).flat())).length).toBeGreaterThan(0);

      // Without --rationale the mapping schema and prompt differ: only the 15 mapping calls miss.
      const again = await runScript("run", ["--input", input, "--output", "plain.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: server.url });
      expect(lastJson(again.stdout).totals).toMatchObject({ liveCalls: 15, cachedCalls: 6 });
    } finally {
      cleanup();
    }
  });

  test("sections of a template are kept or dropped by their flag, and a missing value is an error", () => {
    const on = render("mapping.system", { catalogueLabel: "Apps", catalogueItems: "- A1: One.", facets: "- f (required; text)", rationale: true });
    const off = render("mapping.system", { catalogueLabel: "Apps", catalogueItems: "- A1: One.", facets: "", rationale: false });
    expect(on).toContain("give a rationale");
    expect(on).toContain("## Facets of each chosen item\n- f (required; text)");
    expect(off).not.toContain("rationale");
    expect(off).not.toContain("facet");
    expect(off.endsWith("- A1: One.")).toBe(true);
    expect(() => render("mapping.system", { catalogueLabel: "Apps", catalogueItems: "", facets: "" })).toThrow("no value for {{rationale}}");
  });
});

