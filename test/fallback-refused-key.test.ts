import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const primaryKey = "primary-SECRET-key-0001";
const backupKey = "backup-SECRET-key-0002";

type ByModel = Record<string, { liveCalls: number; skippedCalls: number; failedCalls: number }>;

let servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers) await server.stop();
  servers = [];
});

/** Two named endpoints, `primary` first and `backup` its fallback, each with its own key and server. */
async function runWithEndpoints(dir: string, faults: { primary?: "401" | "403"; backup?: "401" | "403" }) {
  const [primary, backup] = [faults.primary, faults.backup].map((type) => startTestServer({ fault: () => (type ? { type } : undefined) }));
  servers.push(primary!, backup!);
  writeJsonl(join(dir, "services.jsonl"), makeServices(3));
  const config = {
    dataDir: fixtureData,
    model: "primary:gpt-4o-mini",
    models: { fallback: ["backup:gpt-4o-mini"] },
    retry: { attempts: 2, baseMs: 1, capMs: 5 },
    providers: {
      primary: { type: "openai", baseURL: primary!.url, apiKeyEnv: "PRIMARY_KEY" },
      backup: { type: "openai", baseURL: backup!.url, apiKeyEnv: "BACKUP_KEY" },
    },
  };
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
  const env = { PRIMARY_KEY: primaryKey, BACKUP_KEY: backupKey, XDG_CACHE_HOME: join(dir, "xdg") };
  const result = await runScript("run", ["--input", "services.jsonl", "--output", "out.jsonl", "--json"], { cwd: dir, env });
  const byModel = () => (JSON.parse(readFileSync(join(dir, ".sa", "usage.json"), "utf8")) as { runs: Array<{ byModel: ByModel }> }).runs.at(-1)!.byModel;
  return { result, primary: primary!, backup: backup!, byModel };
}

describe("a fallback on another endpoint answers when one endpoint refuses its key", () => {
  for (const status of ["401", "403"] as const) {
    test(`HTTP ${status} on the primary endpoint: the fallback answers every call, the primary is not asked again, one line says why`, async () => {
      const { dir, cleanup } = tempDir("sa-refused-");
      try {
        const { result, primary, backup, byModel } = await runWithEndpoints(dir, { primary: status });
        expect(result.stderr).not.toContain("SECRET");
        expect(result.code).toBe(0);
        const out = readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n");
        expect(out).toHaveLength(3);
        // Only the calls sent before the first refusal came back reach the primary: the 3 descriptions calls at most.
        expect(primary.requests.length).toBeGreaterThan(0);
        expect(primary.requests.length).toBeLessThanOrEqual(3);
        expect(primary.requests.every((r) => r.status === Number(status))).toBe(true);
        expect(backup.answered).toBe(backup.requests.length);
        const refusals = result.stderr.split("\n").filter((l) => l.includes(`HTTP ${status}`));
        expect(refusals).toHaveLength(1);
        expect(refusals[0]).toContain(`primary gpt-4o-mini: HTTP ${status}`);
        expect(refusals[0]).toContain("PRIMARY_KEY");
        expect(refusals[0]).toContain("the next model answers its calls for the rest of the run");
        const models = byModel();
        expect(models["backup:gpt-4o-mini"]!.liveCalls).toBe(backup.requests.length);
        expect(models["primary:gpt-4o-mini"]!.failedCalls).toBe(primary.requests.length);
        expect(models["primary:gpt-4o-mini"]!.skippedCalls).toBe(backup.requests.length - primary.requests.length);
        for (const line of out) for (const [key, model] of Object.entries((JSON.parse(line) as { meta: { models: Record<string, string> } }).meta.models)) if (key !== "fingerprint") expect(model).toBe("backup:gpt-4o-mini");
      } finally {
        cleanup();
      }
    }, 60_000);
  }

  for (const status of ["401", "403"] as const) {
    test(`HTTP ${status} on the chain's last model still stops the run with exit 2, naming its key`, async () => {
      const { dir, cleanup } = tempDir("sa-refused-");
      try {
        const { result, backup } = await runWithEndpoints(dir, { primary: status, backup: status });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(`backup gpt-4o-mini: HTTP ${status}`);
        expect(result.stderr).toContain("BACKUP_KEY");
        expect(result.stderr).not.toContain("SECRET");
        expect(backup.requests.length).toBeLessThanOrEqual(3);
      } finally {
        cleanup();
      }
    }, 60_000);
  }

  test("HTTP 401 on the fallback only: the primary answers everything, the run never hears of it", async () => {
    const { dir, cleanup } = tempDir("sa-refused-");
    try {
      const { result, backup } = await runWithEndpoints(dir, { backup: "401" });
      expect(result.code).toBe(0);
      expect(backup.requests).toHaveLength(0);
      expect(result.stderr).not.toContain("HTTP 401");
    } finally {
      cleanup();
    }
  }, 60_000);
});
