import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, root, runScript, scriptEnv, tempDir } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

const jsonLines = (text: string) => text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
const quarantined = (dir: string) => readdirSync(join(dir, ".sa/quarantine")).flatMap((f) => jsonLines(readFileSync(join(dir, ".sa/quarantine", f), "utf8")));

/** `run` as a user starts it, with `stdin` piped in when given (`--input -`). */
async function run(dir: string, args: string[], stdin?: Uint8Array) {
  const proc = Bun.spawn(["bun", join(root, "scripts/run.ts"), "--data", fixtureData, "--model", "openai:gpt-4o-mini", ...args], {
    cwd: dir,
    env: scriptEnv({ baseURL: server.url }),
    stdin: stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const service = (id: string, extra: Record<string, unknown> = {}) => ({ service_id: id, name: `Service ${id}`, description: `The ${id} service.`, jobs_to_be_done: ["Do a thing"], ...extra });

describe("run on messy input", () => {
  test("BOM, CRLF, blank and padded lines, a last line without newline, non-ASCII, job objects with extra keys: the same services from a file and from stdin", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const a = service("A", { name: "Café ünïcode — 東京 🎓", parent_id: "P", customer_type: "learners", jobs_to_be_done: ["Plain", { name: "Rich", job_to_be_done_id: "J1", explanation: "why" }] });
      const seeds = [{ feature_id: "SEED1", name: "Seed", description: "A seed feature." }];
      const b = service("B", { features: seeds });
      const text = `\uFEFF${JSON.stringify(a)}  \r\n\r\n   \r\n${JSON.stringify(b)}\t\r\n{"service_id":"C","name":""}\r\n${JSON.stringify(service("D"))}`;
      writeFileSync(join(dir, "in.jsonl"), text);
      const fromFile = await run(dir, ["--input", "in.jsonl", "--output", "file.jsonl"]);
      const fromStdin = await run(dir, ["--input", "-", "--output", "-"], new TextEncoder().encode(text));
      for (const result of [fromFile, fromStdin]) {
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/input (in\.jsonl|-):5: name: /);
        expect(result.stderr.split("\n").filter((l) => l.startsWith("✖ input"))).toHaveLength(1);
      }
      const written = jsonLines(readFileSync(join(dir, "file.jsonl"), "utf8"));
      expect(written.map((e) => e.service.service_id)).toEqual(["A", "B", "D"]);
      expect(written[0].service).toEqual({ ...a, features: [] });
      expect(written[1].service.features).toEqual(seeds);
      expect(jsonLines(fromStdin.stdout).map((e) => e.service.service_id).sort()).toEqual(["A", "B", "D"]);
    } finally {
      cleanup();
    }
  });

  test("a line that is not UTF-8 (a Latin-1 export) is a bad line, not text with replacement marks sent to the model", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const latin1 = Buffer.from(`${JSON.stringify(service("L", { name: "Café" }))}\n`, "latin1");
      const bytes = Buffer.concat([Buffer.from(`${JSON.stringify(service("A"))}\n`), latin1, Buffer.from(`${JSON.stringify(service("B"))}\n`)]);
      writeFileSync(join(dir, "in.jsonl"), bytes);
      for (const [args, stdin] of [[["--input", "in.jsonl"]], [["--input", "-"], bytes]] as const) {
        const before = server.requests.length;
        const result = await run(dir, [...args, "--output", "out.jsonl", "--fresh", "--cache-mode", "off"], stdin);
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/input (in\.jsonl|-):2: not UTF-8 text/);
        expect(jsonLines(readFileSync(join(dir, "out.jsonl"), "utf8")).map((e) => e.service.service_id)).toEqual(["A", "B"]);
        expect(server.requests.slice(before).some((r) => JSON.stringify(r.body).includes("\uFFFD"))).toBe(false);
      }
    } finally {
      cleanup();
    }
  });

  test("a U+FFFD an answer held is text like any other: map and export read the evolution it is in (only a services input refuses the mark)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify(service("A"))}\n`);
      expect((await run(dir, ["--input", "in.jsonl", "--output", "out.jsonl"])).code).toBe(0);
      const line = readFileSync(join(dir, "out.jsonl"), "utf8").replace(/"description":"([^"]*)"/, '"description":"$1 \uFFFD"');
      expect(line).toContain("\uFFFD");
      writeFileSync(join(dir, "marked.jsonl"), line);
      const exported = await runScript("export", ["--input", "marked.jsonl", "--output", "marked.csv"], { cwd: dir });
      expect(exported.stderr).not.toContain("not UTF-8");
      expect(exported.code).toBe(0);
      const mapped = await runScript("map", ["--input", "marked.jsonl", "--output", "mapped.jsonl", "--data", fixtureData, "--model", "openai:gpt-4o-mini"], { cwd: dir, baseURL: server.url });
      expect(mapped.stderr).not.toContain("not UTF-8");
      expect(mapped.code).toBe(0);
    } finally {
      cleanup();
    }
  });

  test("a duplicate service_id: the first line is run, the later one is a bad line, quarantined with its record", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const second = service("A", { name: "Second A" });
      writeFileSync(join(dir, "in.jsonl"), [service("A"), service("B"), second].map((s) => JSON.stringify(s)).join("\n"));
      const result = await run(dir, ["--input", "in.jsonl", "--output", "out.jsonl"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('input in.jsonl:3: service_id: duplicate "A"');
      const written = jsonLines(readFileSync(join(dir, "out.jsonl"), "utf8"));
      expect(written.map((e) => [e.service.service_id, e.service.name])).toEqual([["A", "Service A"], ["B", "Service B"]]);
      expect(quarantined(dir)).toEqual([expect.objectContaining({ kind: "input", line: 3, data: second })]);
      // preflight names the same bad line, and estimates only the services run will do.
      const preflight = await runScript("preflight", ["--input", "in.jsonl", "--data", fixtureData, "--model", "openai:gpt-4o-mini", "--json"], { cwd: dir });
      expect(preflight.code).toBe(1);
      const report = JSON.parse(preflight.stdout.trim().split("\n").at(-1)!);
      expect(JSON.stringify(report)).toContain('in.jsonl:3: service_id: duplicate \\"A\\"');
      expect(report.estimate.services).toBe(2);
    } finally {
      cleanup();
    }
  });

  test("a pretty-printed object (one field per line) is named as such at its first line, with the way to one object per line", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify(service("A"))}\n${JSON.stringify(service("B"), null, 2)}\n`);
      const result = await run(dir, ["--input", "in.jsonl", "--output", "out.jsonl"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('input in.jsonl:2: invalid JSON: a line with only "{", an object spread over several lines; JSONL holds one object per line (`jq -c . FILE` writes it so)');
      expect(jsonLines(readFileSync(join(dir, "out.jsonl"), "utf8")).map((e) => e.service.service_id)).toEqual(["A"]);
    } finally {
      cleanup();
    }
  });

  test("a file that is one pretty-printed object (not JSONL, not an array) is read as its one service, from a file and from stdin; an array of one such object too", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "one.json"), `\uFEFF\n${JSON.stringify(service("A"), null, 2)}\n`);
      writeFileSync(join(dir, "array.json"), `${JSON.stringify([service("B")], null, 2)}\n`);
      const results = [await run(dir, ["--input", "one.json", "--output", "one.jsonl"]), await run(dir, ["--input", "-", "--output", "stdin.jsonl"], readFileSync(join(dir, "one.json"))), await run(dir, ["--input", "array.json", "--output", "array.jsonl"])];
      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringContaining("✖") });
      expect(results[0]!.stderr).toContain("finished: 1/1 services done; calls descriptions 1/1,");
      for (const [file, id] of [["one.jsonl", "A"], ["stdin.jsonl", "A"], ["array.jsonl", "B"]]) {
        expect(jsonLines(readFileSync(join(dir, file!), "utf8")).map((e) => e.service.service_id)).toEqual([id]);
      }
    } finally {
      cleanup();
    }
  });

  test("a pretty-printed object that is not whole, or two one after another (jq . of a JSONL file): one line naming the file and the line at fault (exit 2)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pretty = JSON.stringify(service("A"), null, 2);
      writeFileSync(join(dir, "two.json"), `${pretty}\n${pretty}\n`);
      writeFileSync(join(dir, "cut.json"), `${pretty.replace('"name"', '"name" "x"')}\n`);
      const two = await run(dir, ["--input", "two.json", "--output", "out.jsonl", "--quiet"]);
      expect(two.code).toBe(2);
      const second = pretty.split("\n").length + 1;
      expect(two.stderr.trim().split("\n")).toEqual([`✖ input two.json:${second}: a second JSON object starts here; objects spread over several lines are not JSONL, which holds one object per line (\`jq -c . FILE\` writes it so)`]);
      const cut = await run(dir, ["--input", "cut.json", "--output", "out.jsonl", "--quiet"]);
      expect(cut.code).toBe(2);
      const lines = cut.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toStartWith("✖ input cut.json:3: a pretty-printed JSON object that is not valid JSON (");
    } finally {
      cleanup();
    }
  });

  test("an input that cannot be read at all, before any call: its one error line, without a 'stopping' warning before it saying the same", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pretty = JSON.stringify(service("A"), null, 2);
      writeFileSync(join(dir, "two.json"), `${pretty}\n${pretty}\n`);
      writeFileSync(join(dir, "array.json"), `[\n${JSON.stringify(service("A"))},\n{"service_id": }\n]\n`);
      for (const name of ["two.json", "array.json"]) {
        const result = await run(dir, ["--input", name, "--output", "out.jsonl"]);
        expect(result.code).toBe(2);
        const said = result.stderr.trim().split("\n").filter((line) => !line.startsWith("ℹ"));
        expect(said).toHaveLength(1);
        expect(said[0]).toStartWith(`✖ input ${name}:`);
      }
    } finally {
      cleanup();
    }
  });

  test("an input with no services (an empty file, blank lines, an empty array) says so in a warning; exit 0, as there is nothing to do", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "empty.jsonl"), "");
      writeFileSync(join(dir, "blank.jsonl"), "\n\n");
      writeFileSync(join(dir, "none.json"), "[]\n");
      for (const name of ["empty.jsonl", "blank.jsonl", "none.json"]) {
        const result = await run(dir, ["--input", name, "--output", "out.jsonl"]);
        expect(result.code).toBe(0);
        expect(result.stderr).toContain(`⚠ input ${name} holds no services: nothing to do`);
      }
    } finally {
      cleanup();
    }
  });

  test("a line that is JSON but no object (null, an array, a string) is named as such, not by a field it lacks", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "in.jsonl"), `${JSON.stringify(service("A"))}\nnull\n[1,2]\n"text"\n`);
      const result = await run(dir, ["--input", "in.jsonl", "--output", "out.jsonl"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("input in.jsonl:2: not a service: a line must be a JSON object with service_id, name and description, not null");
      expect(result.stderr).toContain("input in.jsonl:3: not a service: a line must be a JSON object with service_id, name and description, not an array");
      expect(result.stderr).toContain("input in.jsonl:4: not a service: a line must be a JSON object with service_id, name and description, not a string");
    } finally {
      cleanup();
    }
  });

  test("a line that is not JSON (cut short by a crash, not UTF-8) is quarantined as it was read, so it can be fixed and run again", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const cut = JSON.stringify(service("CUT")).slice(0, 30);
      writeFileSync(join(dir, "in.jsonl"), Buffer.concat([Buffer.from(`${JSON.stringify(service("A"))}\n`), Buffer.from('{"service_id":"L","name":"Caf\xe9"}\n', "latin1"), Buffer.from(cut)]));
      const result = await run(dir, ["--input", "in.jsonl", "--output", "out.jsonl"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("input in.jsonl:3: invalid JSON");
      expect(quarantined(dir).map((q) => [q.line, q.data])).toEqual([
        [2, '{"service_id":"L","name":"Caf\uFFFD"}'],
        [3, cut],
      ]);
    } finally {
      cleanup();
    }
  });

  test("--input a named pipe (a shell's <(...), /dev/stdin) is read as a stream, as `-` is; a folder is still refused", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, "services.pipe");
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const writer = Bun.spawn(["sh", "-c", `printf '%s\\n%s\\n' '${JSON.stringify(service("A"))}' '${JSON.stringify(service("B"))}' > ${fifo}`]);
      const result = await run(dir, ["--input", fifo, "--output", "out.jsonl"]);
      writer.kill(); // still blocked on opening the pipe when the run never read it
      await writer.exited;
      expect(result.stderr).not.toContain("not a file");
      expect(result.code).toBe(0);
      expect(jsonLines(readFileSync(join(dir, "out.jsonl"), "utf8")).map((e) => e.service.service_id)).toEqual(["A", "B"]);
      // export reads its input more than once: a pipe is kept in a temporary copy, as stdin is.
      const again = Bun.spawn(["sh", "-c", `cat ${join(dir, "out.jsonl")} > ${fifo}`]);
      const piped = await runScript("export", ["--input", fifo, "--output", "piped.html"], { cwd: dir });
      again.kill();
      await again.exited;
      expect(piped.code).toBe(0);
      expect((await runScript("export", ["--input", "out.jsonl", "--output", "file.html"], { cwd: dir })).code).toBe(0);
      expect(readFileSync(join(dir, "piped.html"), "utf8")).toBe(readFileSync(join(dir, "file.html"), "utf8"));
      const folder = await run(dir, ["--input", dir, "--output", "out.jsonl"]);
      expect(folder.code).toBe(2);
      expect(folder.stderr).toContain(`input ${dir}: not a file`);
    } finally {
      cleanup();
    }
  });
});
