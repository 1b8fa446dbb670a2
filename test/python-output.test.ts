import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

/** A line of ours as the Python tool writes it: no fingerprint, its `search` model, nulls, seed features cleared. */
function asPythonLine(line: string): string {
  const evolution = JSON.parse(line);
  const { descriptions, features, mapping } = evolution.meta.models;
  evolution.meta.models = { descriptions, features, mapping, search: "openai:gpt-4o-search-preview" };
  evolution.meta.run_id = "5f0c3c39-6f6f-4b87-9c1d-2d7d3e5c0a11";
  evolution.meta.created = "2025-09-01T10:00:00.123456Z";
  evolution.service = { ...evolution.service, parent_id: null, customer_type: null, features: [] };
  return JSON.stringify(evolution);
}

describe("an output written by the Python tool", () => {
  test("its lines are kept as done when service, catalogues and models match; a changed service is redone", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const services = makeServices(3);
      const input = writeJsonl(join(dir, "in.jsonl"), services);
      const output = join(dir, "out.jsonl");
      const args = ["--input", input, "--output", output, "--data", fixtureData, "--cache-mode", "off", "--json"];
      const run = () => runScript("run", args, { cwd: dir, baseURL: server.url });
      expect((await run()).code).toBe(0);
      const python = readFileSync(output, "utf8").trim().split("\n").map(asPythonLine);
      writeFileSync(output, `${python.join("\n")}\n`);

      const before = server.requests.length;
      const kept = await run();
      expect(kept.code).toBe(0);
      expect(server.requests.length - before).toBe(0);
      expect(lastJson(kept.stdout).services).toMatchObject({ total: 3, ok: 0, skipped: 3, redone: 0 });
      expect(kept.stderr).toContain("written by the Python tool");
      expect(readFileSync(output, "utf8")).toBe(`${python.join("\n")}\n`);

      // Its service record changes: only that service is asked for again (21 calls), and said why.
      services[1]!.description = "A service whose description changed.";
      writeJsonl(input, services);
      const changed = await run();
      expect(changed.code).toBe(0);
      expect(server.requests.length - before).toBe(21);
      expect(lastJson(changed.stdout).services).toMatchObject({ total: 3, ok: 1, skipped: 2, redone: 1 });
      const lines = readFileSync(output, "utf8").trim().split("\n");
      expect([lines[0], lines[2]]).toEqual([python[0], python[2]]);
      expect(JSON.parse(lines[1]!).meta.models.fingerprint).toStartWith("v1:");
    } finally {
      cleanup();
    }
  });
});
