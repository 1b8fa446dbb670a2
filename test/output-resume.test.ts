import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const idsIn = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);

/** A project with `n` services run once to completion; `run(args)` runs again with the cache off (a redone service is paid again). */
async function completedRun(n: number) {
  const { dir, cleanup } = tempDir();
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(n));
  const output = join(dir, "out.jsonl");
  const run = (extra: string[] = []) => runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", ...extra], { cwd: dir, baseURL: server.url });
  const first = await run();
  expect(first.code).toBe(0);
  return { dir, cleanup, output, run: () => run(["--cache-mode", "off"]) };
}

describe("resume on an output someone else touched", () => {
  test("a whole last line that lost only its newline is kept and skipped, not cut and paid again", async () => {
    const { cleanup, output, run } = await completedRun(2);
    try {
      const written = readFileSync(output);
      writeFileSync(output, written.subarray(0, written.length - 1)); // an editor saved it without the final newline
      const before = server.requests.length;
      const result = await run();
      expect(result.stderr).not.toContain("removed a partial last line");
      expect(result.code).toBe(0);
      expect(lastJson(result.stdout).services).toMatchObject({ ok: 0, skipped: 2 });
      expect(server.requests.length).toBe(before);
      expect(readFileSync(output).equals(written)).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("lines that are not evolutions are named by line, kept in the quarantine, and the good lines around them stay", async () => {
    const { dir, cleanup, output, run } = await completedRun(2);
    try {
      const [a, b] = readFileSync(output, "utf8").trim().split("\n");
      writeFileSync(output, `${a}\nnot json at all\n{"foreign":"record"}\n${b}\n`);
      const before = server.requests.length;
      const result = await run();
      expect(result.code).toBe(0);
      expect(server.requests.length).toBe(before);
      expect(idsIn(output)).toEqual(["SVC001", "SVC002"]);
      expect(result.stderr).toMatch(/output out\.jsonl:2: not an evolution \(invalid JSON/);
      expect(result.stderr).toMatch(/output out\.jsonl:3: not an evolution \(\w+/);
      const quarantine = readdirSync(join(dir, ".sa/quarantine")).map((f) => readFileSync(join(dir, ".sa/quarantine", f), "utf8")).join("");
      const entries = quarantine.trim().split("\n").map((l) => JSON.parse(l));
      expect(entries.map((e) => [e.kind, e.line, e.data])).toEqual([
        ["output", 2, "not json at all"],
        ["output", 3, '{"foreign":"record"}'],
      ]);
    } finally {
      cleanup();
    }
  });

  test("an output that is a symlink: the final rewrite writes the file it points to and the link stays; a run through another link to it is refused", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(3);
      writeJsonl(join(dir, "in.jsonl"), services);
      writeJsonl(join(dir, "reversed.jsonl"), [...services].reverse());
      mkdirSync(join(dir, "shared"));
      symlinkSync("shared/out.jsonl", join(dir, "link.jsonl"));
      symlinkSync("shared/out.jsonl", join(dir, "other-link.jsonl"));
      const run = (input: string, output: string) => runScript("run", ["--input", input, "--output", output, "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect((await run("in.jsonl", "link.jsonl")).code).toBe(0);
      // In the reversed order, the final rewrite replaces the file: it must replace the link's target.
      expect((await run("reversed.jsonl", "link.jsonl")).code).toBe(0);
      expect(lstatSync(join(dir, "link.jsonl")).isSymbolicLink()).toBe(true);
      expect(idsIn(join(dir, "shared/out.jsonl"))).toEqual(["SVC003", "SVC002", "SVC001"]);
      const slow = startTestServer({ latencyMs: 300 });
      try {
        const first = spawnScript("run", ["--input", "in.jsonl", "--output", "link.jsonl", "--data", fixtureData, "--fresh"], { cwd: dir, baseURL: slow.url });
        while (slow.requests.length === 0) await Bun.sleep(10);
        const second = await runScript("run", ["--input", "in.jsonl", "--output", "other-link.jsonl", "--data", fixtureData], { cwd: dir, baseURL: slow.url });
        expect(second.code).toBe(2);
        expect(second.stderr).toContain("is in use by run");
        expect(await first.exited).toBe(0);
      } finally {
        await slow.stop();
      }
    } finally {
      cleanup();
    }
  });

  test("a service redone because its record changed keeps its new line even with gaps: the old complete line, made from the old record, does not come back", async () => {
    const gappy = startTestServer({ answer: (body) => (body.response_format?.json_schema?.name === "plateau_features" && body.messages.some((m) => m.content.includes("CHANGED")) ? "not json" : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(2);
      const run = () => runScript("run", ["--input", "in.jsonl", "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: gappy.url });
      writeJsonl(join(dir, "in.jsonl"), services);
      expect((await run()).code).toBe(0);
      writeJsonl(join(dir, "in.jsonl"), [{ ...services[0], description: "CHANGED description." }, services[1]]);
      const result = await run();
      expect(lastJson(result.stdout).services).toMatchObject({ redone: 1, incomplete: 1, skipped: 1 });
      const lines = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.service.service_id, l.service.description])).toEqual([
        ["SVC001", "CHANGED description."],
        ["SVC002", services[1]!.description],
      ]);
      expect(lines[0].meta.models.incomplete).toContain("features");
    } finally {
      cleanup();
      await gappy.stop();
    }
  });

  test("an output an editor saved with a byte-order mark or CRLF line ends: every line is still taken as done, and the rewrite drops the mark", async () => {
    const { cleanup, output, run } = await completedRun(2);
    try {
      const written = readFileSync(output, "utf8");
      writeFileSync(output, `\uFEFF${written.replaceAll("\n", "\r\n")}`);
      const before = server.requests.length;
      const result = await run();
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain("not an evolution");
      expect(lastJson(result.stdout).services).toMatchObject({ ok: 0, skipped: 2 });
      expect(server.requests.length).toBe(before);
      expect(readFileSync(output, "utf8").replaceAll("\r\n", "\n")).toBe(written);
    } finally {
      cleanup();
    }
  });

  test("an output that holds no evolution at all (another file named by mistake) is left untouched: exit 2 at once, naming its first line", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const notes = "Meeting notes\n\n{\"not\": \"an evolution\"}\nlast line without newline";
      writeFileSync(join(dir, "notes.txt"), notes);
      const before = server.requests.length;
      const result = await runScript("run", ["--input", "in.jsonl", "--output", "notes.txt", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("--output notes.txt: line 1 is not an evolution (invalid JSON");
      expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe(notes);
      // One line of JSON that is no evolution, without its newline, is no crash's leftover either.
      writeFileSync(join(dir, "one.json"), '{"settings":true}');
      const one = await runScript("run", ["--input", "in.jsonl", "--output", "one.json", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(one.code).toBe(2);
      expect(readFileSync(join(dir, "one.json"), "utf8")).toBe('{"settings":true}');
      expect(server.requests.length).toBe(before);
      // What a crash during the first write leaves is cut off, and the run goes on.
      writeFileSync(join(dir, "crashed.jsonl"), '{"meta":{"schema_ver');
      const crashed = await runScript("run", ["--input", "in.jsonl", "--output", "crashed.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(crashed.code).toBe(0);
      expect(crashed.stderr).toContain("removed a partial last line");
      expect(idsIn(join(dir, "crashed.jsonl"))).toEqual(["SVC001"]);
    } finally {
      cleanup();
    }
  });
});
