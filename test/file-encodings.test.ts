import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { loadDataset } from "../lib/data.ts";
import { isSAError } from "../lib/errors.ts";
import { fixtureData, tempDir } from "./helpers.ts";

let cleanup = () => {};
afterEach(() => cleanup());

function temp(): string {
  const t = tempDir();
  cleanup = t.cleanup;
  return t.dir;
}

/** The message of the SAError with `code` that `fn` throws. */
async function refusal(code: string, fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (!isSAError(error)) throw error;
    expect(error.code).toBe(code as never);
    return error.message;
  }
  throw new Error(`expected ${code}`);
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const latin1 = (text: string) => Buffer.from(text, "latin1");
const utf16 = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);

/** A copy of the fixture data folder, with `name` replaced by `bytes`. */
function dataWith(name: string, bytes: Buffer): string {
  const dir = join(temp(), "data");
  cpSync(fixtureData, dir, { recursive: true });
  writeFileSync(join(dir, name), bytes);
  return dir;
}

const mappingSets = [
  { file: "applications.json", field: "applications" },
  { file: "technologies.json", field: "technologies" },
  { file: "information.json", field: "data" },
];
const dataset = (dataDir: string) => loadDataset({ dataDir, mappingSets });

describe("a config file saved by a Windows editor or in another encoding", () => {
  test("a JSON config with a byte-order mark is read", async () => {
    const dir = temp();
    writeFileSync(join(dir, "c.json"), Buffer.concat([BOM, Buffer.from('{\n  "concurrency": 4\n}\n')]));
    const config = await loadConfig({ cwd: dir, env: {}, configPath: "c.json" });
    expect(config.concurrency).toBe(4);
  });

  test("a config that is not UTF-8 names the file and the line of the first bad byte", async () => {
    const dir = temp();
    writeFileSync(join(dir, "c.yaml"), latin1('concurrency: 4\ncontextId: "caf\u00e9"\n'));
    const message = await refusal("E_CONFIG", () => loadConfig({ cwd: dir, env: {}, configPath: "c.yaml" }));
    expect(message).toBe(`config ${join(dir, "c.yaml")}:2: not UTF-8 text (column 16); save the file as UTF-8`);
  });

  test("a UTF-16 config is named as such", async () => {
    const dir = temp();
    writeFileSync(join(dir, "c.json"), utf16('{"concurrency": 4}'));
    const message = await refusal("E_CONFIG", () => loadConfig({ cwd: dir, env: {}, configPath: "c.json" }));
    expect(message).toBe(`config ${join(dir, "c.json")}:1: UTF-16 text; save the file as UTF-8`);
  });

  test("--config naming a folder says so in words", async () => {
    const dir = temp();
    mkdirSync(join(dir, "conf"));
    const message = await refusal("E_CONFIG", () => loadConfig({ cwd: dir, env: {}, configPath: "conf" }));
    expect(message).toBe(`config ${join(dir, "conf")}: a folder, not a file`);
  });
});

describe("data and prompt files saved by a Windows editor or in another encoding", () => {
  test("a data file with a byte-order mark is read", async () => {
    const roles = readFileSync(join(fixtureData, "roles.json"));
    const data = await dataset(dataWith("roles.json", Buffer.concat([BOM, roles])));
    expect(data.roles.length).toBeGreaterThan(0);
  });

  test("a catalogue that is not UTF-8 (a Latin-1 export) names the file and the line, where its text went to the model with replacement marks", async () => {
    const text = readFileSync(join(fixtureData, "applications.json"), "utf8");
    const lines = text.split("\n");
    const at = lines.findIndex((l) => l.includes('"name"'));
    lines[at] = lines[at]!.replace('"name": "', '"name": "Caf\u00e9 ');
    const dir = dataWith("applications.json", latin1(lines.join("\n")));
    const message = await refusal("E_DATA", () => dataset(dir));
    expect(message).toStartWith(`data ${join(dir, "applications.json")}:${at + 1}: not UTF-8 text (column `);
    expect(message).toEndWith("); save the file as UTF-8");
  });

  test("a UTF-16 data file is named as such", async () => {
    const dir = dataWith("roles.json", utf16(readFileSync(join(fixtureData, "roles.json"), "utf8")));
    expect(await refusal("E_DATA", () => dataset(dir))).toBe(`data ${join(dir, "roles.json")}:1: UTF-16 text; save the file as UTF-8`);
  });

  test("a situational context that is not UTF-8 names the file and the line", async () => {
    const dir = dataWith("situational_context.md", latin1("# Context\n\nA caf\u00e9 of tomorrow.\n"));
    expect(await refusal("E_CONFIG", () => dataset(dir))).toBe(`prompt file ${join(dir, "situational_context.md")}:3: not UTF-8 text (column 6); save the file as UTF-8`);
  });

  test("--data naming a file, not a folder, says so", async () => {
    const dir = temp();
    writeFileSync(join(dir, "services.jsonl"), "{}\n");
    expect(await refusal("E_DATA", () => dataset(join(dir, "services.jsonl")))).toBe(`data ${join(dir, "services.jsonl")}: a file, not a folder (give --data DIR or set dataDir in the config)`);
  });
});
