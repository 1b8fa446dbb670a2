import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { acceptsPath } from "../lib/config.ts";
import { configSchema } from "../lib/schema/config.ts";
import { taskMeta } from "../scripts/_meta.ts";
import { root, runScript } from "./helpers.ts";

const readme = readFileSync(join(root, "README.md"), "utf8");

/** The rows of the README table whose header line is `header`. */
function tableRows(header: string): string[][] {
  const start = readme.indexOf(`${header}\n`);
  expect(start).toBeGreaterThan(-1);
  const lines = readme.slice(start).split("\n").slice(2);
  const rows = lines.slice(0, lines.findIndex((l) => !l.startsWith("|")));
  return rows.map((row) => row.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()));
}

type Node = { def: { type: string; innerType?: Node; shape?: Record<string, Node>; catchall?: Node }; shape?: Record<string, Node> };
const unwrap = (node: Node): Node => (["default", "optional", "nullable", "prefault"].includes(node.def.type) ? unwrap(node.def.innerType!) : node);
/** The keys a strict object under `node` names (none for records and loose objects). */
const keysOf = (node: Node): string[] => {
  const inner = unwrap(node);
  return inner.def.type === "object" && inner.def.catchall?.def.type === "never" ? Object.keys(inner.shape ?? {}) : [];
};

describe("README config table", () => {
  const rows = tableRows("| key | default | meaning |");
  const named = rows.map(([keys]) => [...keys!.matchAll(/`([\w.]+)`/g)].map((m) => m[1]!));
  const shape = (configSchema as unknown as Node).shape!;

  test("every key of the schema has a row, and every nested key is named in its row", () => {
    const missing: string[] = [];
    for (const [key, node] of Object.entries(shape)) {
      const at = rows.filter((_, i) => named[i]!.some((k) => k === key || k.startsWith(`${key}.`)));
      if (at.length === 0) missing.push(key);
      for (const sub of keysOf(node)) if (!at.some((row) => row.join(" ").includes(sub))) missing.push(`${key}.${sub}`);
    }
    expect(missing).toEqual([]);
  });

  test("every key in the table exists in the schema", () => {
    const unknown = named.flat().filter((key) => !acceptsPath(configSchema as never, key.split(".")));
    expect(unknown).toEqual([]);
  });
});

test("every SA_* variable the code reads by name is in the README", () => {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.startsWith("test-server")) {
        for (const m of readFileSync(join(root, path), "utf8").matchAll(/\b(SA_[A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
      }
    }
  };
  for (const dir of ["lib", "scripts", "providers"]) walk(dir);
  expect(names.size).toBeGreaterThan(0);
  expect([...names].filter((name) => !readme.includes(name)).sort()).toEqual([]);
});

test("the task table names exactly the catalogue's tasks", () => {
  const documented = tableRows("| task | does |").map(([task]) => task);
  expect(documented).toEqual(Object.keys(taskMeta));
});

test("every flag the task table names for a task is in that task's --help", async () => {
  const wrong: string[] = [];
  for (const [task, does] of tableRows("| task | does |")) {
    const { stdout } = await runScript(task!, ["--help"], { cwd: root });
    // A flag of another task (`run --batch` in batch's row) or of the Python tool is not this task's.
    const named = [...does!.matchAll(/(?<!(?:run|map|worker|preflight) |tool's `)(--[a-z][a-z-]*)/g)].map((m) => m[1]!);
    for (const flag of new Set(named)) if (!new RegExp(`${flag}(?![a-z-])`).test(stdout)) wrong.push(`${task} ${flag}`);
  }
  expect(wrong).toEqual([]);
});

test("every flag of every task's --help is in the README", async () => {
  const missing: string[] = [];
  for (const task of Object.keys(taskMeta)) {
    const { stdout } = await runScript(task, ["--help"], { cwd: root });
    const options = stdout.split("Options:")[1]!.split("Examples:")[0]!;
    for (const [, flag] of options.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)) {
      if (!new RegExp(`${flag}(?![a-z-])`).test(readme)) missing.push(`${task} ${flag}`);
    }
  }
  expect(missing).toEqual([]);
});

test("the library table names every dependency in package.json, and nothing else", () => {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, Record<string, string>>;
  const deps = [...Object.keys(pkg.dependencies!), ...Object.keys(pkg.devDependencies!)].sort();
  const cells = tableRows("| library | why |").map(([library]) => library!);
  const listed = cells.flatMap((cell) => [...cell.matchAll(/`(@?[\w.-]+(?:\/[\w.*-]+)?)`/g)].map((m) => m[1]!)).filter((name) => !name.endsWith(".ts"));
  const covers = (dep: string) => listed.some((name) => name === dep || (name.endsWith("/*") && dep.startsWith(name.slice(0, -1))));
  expect(deps.filter((dep) => !covers(dep))).toEqual([]);
  expect(listed.filter((name) => !deps.some((dep) => dep === name || (name.endsWith("/*") && dep.startsWith(name.slice(0, -1)))))).toEqual([]);
});

describe("README layout tree", () => {
  const layout = readme.slice(readme.indexOf("## Layout"));
  const filesUnder = (dir: string, deep: boolean): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) return deep ? filesUnder(path, deep) : [`${path}/`];
      return [path];
    });

  test("names every file under lib/, scripts/, providers/ and bench/, and the top level of fixtures/ and test/", () => {
    const files = [...["lib", "scripts", "providers", "bench"].flatMap((dir) => filesUnder(dir, true)), ...filesUnder("fixtures", false), ...filesUnder("test", false)];
    const name = (path: string) => (path.endsWith("/") ? `${path.slice(0, -1).split("/").at(-1)}/` : path.split("/").at(-1)!);
    expect(files.filter((path) => !layout.includes(name(path)))).toEqual([]);
  });

  test("names no .ts file that is gone", () => {
    const all = new Set(["lib", "scripts", "providers", "bench", "fixtures", "test"].flatMap((dir) => filesUnder(dir, true)).map((path) => path.split("/").at(-1)!));
    const named = [...layout.matchAll(/[\w.-]+\.ts\b/g)].map((m) => m[0]);
    expect(named.filter((file) => !all.has(file))).toEqual([]);
  });
});
