import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir } from "./helpers.ts";

const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

describe("input edges", () => {
  test("a JSON array that starts with a UTF-8 byte-order mark is read", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, "in.json");
      writeFileSync(input, `\uFEFF${JSON.stringify(makeServices(2), null, 2)}\n`);
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(lines(join(dir, "out.jsonl")).map((l) => l.service.service_id)).toEqual(["SVC001", "SVC002"]);
      expect(server.answered).toBe(42);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("an evolutions file given to run as its input: each line is named as an evolution, not as a missing service_id (run and preflight); no call", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, `${makeServices(2).map((s) => JSON.stringify(s)).join("\n")}\n`);
      expect((await runScript("run", ["--input", input, "--output", "evolutions.jsonl", "--data", fixtureData, "--model", "synthetic:demo", "--quiet"], { cwd: dir })).code).toBe(0);
      const said = "not a service: this line is an evolution (what run and map write); the input is services, one {service_id, name, description, ...} per line";
      const again = await runScript("run", ["--input", "evolutions.jsonl", "--output", "again.jsonl", "--data", fixtureData, "--model", "synthetic:demo", "--json"], { cwd: dir });
      expect(again.code).toBe(1);
      expect(again.stderr.split("\n").filter((l) => l.startsWith("✖ input"))).toEqual([1, 2].map((n) => `✖ input evolutions.jsonl:${n}: ${said}`));
      expect(JSON.parse(again.stdout.trim().split("\n").at(-1)!)).toMatchObject({ badLines: 2, totals: { requests: 0 } });
      const preflight = await runScript("preflight", ["--input", "evolutions.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(preflight.code).toBe(1);
      expect(preflight.stdout).toContain(`evolutions.jsonl:1: ${said}`);
    } finally {
      cleanup();
    }
  });

  test("a bad item of a JSON array is named by the line it starts on, in run and preflight", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(3);
      delete services[1]!.name;
      const input = join(dir, "in.json");
      const text = `\n${JSON.stringify(services, null, 2)}\n`;
      writeFileSync(input, text);
      const itemLine = text.split("\n").findIndex((l) => l.includes('"SVC002"')); // 1-based: the line above it, where the item's brace is
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`in.json:${itemLine}: name:`);
      const preflight = await runScript("preflight", ["--input", input, "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(preflight.stdout).toContain(`in.json:${itemLine}: name:`);
    } finally {
      cleanup();
    }
  });

  test("a binary input prints 20 bad lines and one line counting the rest; every bad line is quarantined", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, "in.xlsx");
      // 300 lines of bytes that are not text (high bytes, NULs), as in an XLSX or an executable.
      const garbage = Buffer.concat(Array.from({ length: 300 }, (_, i) => Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff, 0xfe, 0x80 + (i % 100), 0x00, 0x0a])));
      writeFileSync(input, garbage);
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(result.code).toBe(1);
      const perLine = result.stderr.split("\n").filter((l) => /in\.xlsx:\d+: /.test(l));
      expect(perLine).toHaveLength(20);
      const more = result.stderr.split("\n").filter((l) => l.includes("280 more bad line(s) not shown"));
      expect(more).toHaveLength(1);
      expect(result.stderr.split("\n").length).toBeLessThan(40);
      const [file] = readdirSync(join(dir, ".sa/quarantine"));
      const quarantined = lines(join(dir, ".sa/quarantine", file!));
      expect(quarantined.filter((q) => q.kind === "input")).toHaveLength(300);
    } finally {
      cleanup();
    }
  });

  test("JSON syntax errors and bad items of a JSON array are named by their line in the file", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(3);
      services[1]!.name = 5;
      const pretty = JSON.stringify(services, null, 2);
      // Two blank lines before the array: lines count from the top of the file.
      writeFileSync(join(dir, "bad-item.json"), `\n\n${pretty}\n`);
      const prettyLines = pretty.split("\n");
      const itemLine = 2 + prettyLines.indexOf("  {", prettyLines.indexOf("  {") + 1) + 1;
      const badItem = await runScript("preflight", ["--input", "bad-item.json", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(badItem.stdout).toContain(`bad-item.json:${itemLine}: name:`);
      writeFileSync(join(dir, "broken.json"), pretty.replace('"SVC002",', '"SVC002"'));
      const brokenLine = prettyLines.findIndex((l) => l.includes('"SVC002"')) + 2;
      const broken = await runScript("preflight", ["--input", "broken.json", "--data", fixtureData, "--model", "synthetic:demo"], { cwd: dir });
      expect(broken.stdout).toContain(`broken.json:${brokenLine}: invalid JSON array`);
      cpSync(fixtureData, join(dir, "data"), { recursive: true });
      const roles = readFileSync(join(dir, "data", "roles.json"), "utf8").split("\n");
      const comma = roles.findIndex((l) => l.trim() === "},");
      writeFileSync(join(dir, "data", "roles.json"), roles.map((l, i) => (i === comma ? "}" : l)).join("\n"));
      const badData = await runScript("preflight", ["--input", "bad-item.json", "--data", "data", "--model", "synthetic:demo"], { cwd: dir });
      expect(badData.stdout).toContain(`roles.json:${comma + 2}: invalid JSON`);
    } finally {
      cleanup();
    }
  });
});

describe("data files that cannot be read", () => {
  test("a catalogue missing from the data folder, a data file that is a folder, or a catalogue kept as CSV: exit 2, one line naming the file in plain words", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, `${JSON.stringify(makeServices(1)[0])}\n`);
      const data = join(dir, "data");
      cpSync(fixtureData, data, { recursive: true });
      rmSync(join(data, "information.json"));
      const missing = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", data, "--model", "synthetic:demo"], { cwd: dir });
      expect(missing.code).toBe(2);
      expect(missing.stderr.split("\n").filter((l) => l.startsWith("✖"))).toEqual([`✖ data ${join(data, "information.json")}: file not found`]);
      cpSync(join(fixtureData, "information.json"), join(data, "information.json"));
      rmSync(join(data, "roles.json"));
      mkdirSync(join(data, "roles.json"));
      const folder = await runScript("preflight", ["--input", input, "--data", data, "--model", "synthetic:demo"], { cwd: dir });
      expect(folder.code).toBe(2);
      expect(folder.stdout).toContain(`✖ data: ${join(data, "roles.json")}: a folder, not a file`);
      // A catalogue kept as CSV and named in mappingSets: said to be CSV, not "invalid JSON" at "id,name".
      rmSync(join(data, "roles.json"), { recursive: true });
      cpSync(join(fixtureData, "roles.json"), join(data, "roles.json"));
      writeFileSync(join(data, "apps.csv"), "id,name,description\nAPP1,App one,First\n");
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ mappingSets: [{ file: "apps.csv", field: "applications" }] }));
      const csv = await runScript("run", ["--input", input, "--output", "csv.jsonl", "--data", data, "--model", "synthetic:demo"], { cwd: dir });
      expect(csv.code).toBe(2);
      expect(csv.stderr.split("\n").filter((l) => l.startsWith("✖"))).toEqual([`✖ data ${join(data, "apps.csv")}: data files are JSON (a catalogue: a list of {id, name, description}, or the object form with facets), not CSV`]);
    } finally {
      cleanup();
    }
  });
});
