import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { fixtureData, runScript, tempDir } from "./helpers.ts";
import { syntheticEvolutions } from "./support/evolutions.ts";

// export and check find the data folder as run does: --data, else SA_DATA_DIR, else the config's
// dataDir (ours, or the Python tool's ./data when its config/app.yaml is the config).

let dir: string;
let cleanup: () => void;
let evolutions: string;
const cleanups: Array<() => void> = [];

/** A copy of the fixture data whose residents are renamed `name` and which adds a role no line has. */
function dataFolder(at: string, name: string): string {
  cpSync(fixtureData, at, { recursive: true });
  const roles = JSON.parse(readFileSync(join(at, "roles.json"), "utf8")) as Array<{ role_id: string; name: string; description: string }>;
  roles[0]!.name = name;
  roles.push({ role_id: "visitors", name: "Visitors", description: "People who come to the city for a day." });
  writeFileSync(join(at, "roles.json"), JSON.stringify(roles, null, 2));
  return at;
}

/** A folder holding only `files` (path → text), for one case. */
function project(files: Record<string, string>): string {
  const { dir: here, cleanup: done } = tempDir("sa-reader-data-");
  cleanups.push(done);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(here, path, ".."), { recursive: true });
    writeFileSync(join(here, path), text);
  }
  return here;
}

const exportCsv = (cwd: string, extra: string[] = [], env: Record<string, string> = {}) => runScript("export", ["--input", evolutions, "--output", "f.csv", ...extra], { cwd, env });
/** The role names of the features CSV written in `cwd`, sorted. */
const rolesOf = (cwd: string) => [...new Set((parse(readFileSync(join(cwd, "f.csv"), "utf8"), { bom: true, columns: true }) as Array<{ role: string }>).map((row) => row.role))].sort();

beforeAll(async () => {
  ({ dir, cleanup } = tempDir("sa-reader-data-"));
  ({ path: evolutions } = await syntheticEvolutions(dir));
});
afterAll(() => {
  cleanup();
  for (const done of cleanups) done();
});

describe("export and check read the config's data folder", () => {
  test("dataDir in our config: export names roles from it, check expects its roles (no --data)", async () => {
    const here = project({ "service-ambitions.config.json": JSON.stringify({ dataDir: "mydata" }) });
    dataFolder(join(here, "mydata"), "Residents from the config");
    const exported = await exportCsv(here);
    expect(exported.code, exported.stderr).toBe(0);
    expect(rolesOf(here)).toContain("Residents from the config");
    const checked = await runScript("check", ["--input", evolutions, "--json"], { cwd: here });
    const report = JSON.parse(checked.stdout) as { findings: Array<{ check: string; message: string }> };
    expect(report.findings.filter((f) => f.check === "missing-role").map((f) => f.message)).toContain("no features for Visitors");
  });

  test("SA_DATA_DIR wins over the file, --data over both", async () => {
    const here = project({ "service-ambitions.config.json": JSON.stringify({ dataDir: "mydata" }) });
    dataFolder(join(here, "mydata"), "Residents from the config");
    dataFolder(join(here, "envdata"), "Residents from the environment");
    dataFolder(join(here, "flagdata"), "Residents from the flag");
    expect((await exportCsv(here, [], { SA_DATA_DIR: "envdata" })).code).toBe(0);
    expect(rolesOf(here)).toContain("Residents from the environment");
    expect((await exportCsv(here, ["--data", "flagdata"], { SA_DATA_DIR: "envdata" })).code).toBe(0);
    expect(rolesOf(here)).toContain("Residents from the flag");
    expect(rolesOf(here)).not.toContain("Residents from the config");
  });

  test("--config names the file; the Python tool's config/app.yaml reads ./data", async () => {
    const named = project({ "elsewhere/conf.json": JSON.stringify({ dataDir: "named" }) });
    dataFolder(join(named, "named"), "Residents from --config");
    expect((await exportCsv(named, ["--config", "elsewhere/conf.json"])).code).toBe(0);
    expect(rolesOf(named)).toContain("Residents from --config");
    const python = project({ "config/app.yaml": "model: openai:gpt-5-mini\nmapping_sets:\n  - name: Applications\n    file: applications.json\n    field: applications\n  - name: Technologies\n    file: technologies.json\n    field: technologies\n  - name: Data\n    file: information.json\n    field: data\n" });
    dataFolder(join(python, "data"), "Residents from the Python data folder");
    expect((await exportCsv(python)).code).toBe(0);
    expect(rolesOf(python)).toContain("Residents from the Python data folder");
  });

  test("a dataDir the config names that does not exist is exit 2 naming it; the default one missing is no data", async () => {
    const named = project({ "service-ambitions.config.json": JSON.stringify({ dataDir: "nowhere" }) });
    const missing = await exportCsv(named);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nowhere");
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    const file = await exportCsv(named, ["--data", "service-ambitions.config.json"]);
    expect([file.code, file.stderr.trim()]).toEqual([2, "✖ data service-ambitions.config.json (--data): not a folder"]);
    const checked = await runScript("check", ["--input", evolutions], { cwd: named, env: { SA_DATA_DIR: "gone" } });
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain("SA_DATA_DIR");
    // No config, no fixtures/data here: names come from the file, as before.
    const bare = project({});
    expect((await exportCsv(bare)).code).toBe(0);
    expect(rolesOf(bare)).toContain("Residents");
  });

  test("a data folder whose catalogues are not the ones the evolutions were mapped to is said once (export and check)", async () => {
    const here = project({ "service-ambitions.config.json": JSON.stringify({ dataDir: "mydata" }) });
    dataFolder(join(here, "mydata"), "Residents");
    const same = await exportCsv(here);
    expect(same.stderr).not.toContain("catalogue hash");
    const apps = JSON.parse(readFileSync(join(here, "mydata", "applications.json"), "utf8"));
    apps.items.push({ id: "APP999", name: "Added later", description: "An item the run never saw." });
    writeFileSync(join(here, "mydata", "applications.json"), JSON.stringify(apps));
    for (const task of ["export", "check"]) {
      const args = task === "export" ? ["--input", evolutions, "--output", "f.csv"] : ["--input", evolutions];
      const result = await runScript(task, args, { cwd: here });
      const said = result.stderr.split("\n").filter((l) => l.includes("catalogue hash"));
      expect({ task, said: said.length }).toEqual({ task, said: 1 });
      expect(said[0]).toContain("data mydata (dataDir in ");
      expect(said[0]).toContain("not the catalogues the evolutions were mapped to");
    }
    // A hash of zeros is a placeholder, not a record of other catalogues: nothing to say.
    const zeros = join(here, "zeros.jsonl");
    writeFileSync(zeros, readFileSync(evolutions, "utf8").replace(/"catalogue_hash":"[0-9a-f]{64}"/g, `"catalogue_hash":"${"0".repeat(64)}"`));
    expect(readFileSync(zeros, "utf8")).toContain("0".repeat(64));
    for (const task of ["export", "check"]) {
      const args = task === "export" ? ["--input", zeros, "--output", "z.csv"] : ["--input", zeros];
      const result = await runScript(task, args, { cwd: here });
      expect({ task, said: result.stderr.includes("catalogue hash") }).toEqual({ task, said: false });
    }
  });

  test("a bad config is exit 2 in one line naming the file and the key, for export and check alike", async () => {
    const here = project({ "service-ambitions.config.json": '{\n  "dataDir": "data",\n  "concurency": 4\n}\n' });
    for (const task of ["export", "check"]) {
      const args = task === "export" ? ["--input", evolutions, "--output", "f.csv"] : ["--input", evolutions];
      const result = await runScript(task, args, { cwd: here });
      expect(result.code).toBe(2);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("service-ambitions.config.json:3");
      expect(lines[0]).toContain("concurency");
    }
  });
});
