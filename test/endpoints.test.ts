import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, runScript, tempDir, testKey, writeJsonl } from "./helpers.ts";

const primaryKey = "primary-SECRET-key-0001";
const backupKey = "backup-SECRET-key-0002";

let primary: TestServer;
let backup: TestServer;
beforeAll(() => {
  primary = startTestServer({ fault: () => ({ type: "500" }) });
  backup = startTestServer();
});
afterAll(async () => {
  await primary.stop();
  await backup.stop();
});

/** Every file below `dir`, with its text. */
const filesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, text: readFileSync(path, "utf8") }));

describe("providers in config (issue 14)", () => {
  test("acceptance 1: the primary endpoint fails, the fallback on a second endpoint answers; each server sees only its own key", async () => {
    const { dir, cleanup } = tempDir("sa-endpoints-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const config = {
        dataDir: fixtureData,
        model: "primary:gpt-4o-mini",
        models: { fallback: ["backup:gpt-4o-mini"] },
        retry: { attempts: 2, baseMs: 1, capMs: 5 },
        providers: {
          primary: { type: "openai", baseURL: primary.url, apiKeyEnv: "PRIMARY_KEY" },
          backup: { type: "openai", baseURL: backup.url, apiKeyEnv: "BACKUP_KEY", rpm: 6000, pricing: { "gpt-4o-mini": { input: 1, output: 2 } } },
        },
      };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
      const env = { PRIMARY_KEY: primaryKey, BACKUP_KEY: backupKey, XDG_CACHE_HOME: join(dir, "xdg") };
      const result = await runScript("run", ["--input", "services.jsonl", "--output", "out.jsonl", "--json"], { cwd: dir, env });
      expect(result.stderr).not.toContain("SECRET");
      expect(result.code).toBe(0);

      // 21 calls, each answered by the backup. The first 6 (descriptions, then the 5 features calls
      // sent at once) were tried twice on the primary (one retry); it was then down (circuitBreaker:
      // 3 failed calls in a row), and the 15 mapping calls went to the backup without asking it.
      expect(primary.requests.length).toBe(12);
      expect(backup.requests.length).toBe(21);
      const seen = (s: TestServer) => s.requests.map((r) => JSON.stringify(r.headers));
      expect(primary.requests.every((r) => r.authorization === `Bearer ${primaryKey}`)).toBe(true);
      expect(backup.requests.every((r) => r.authorization === `Bearer ${backupKey}`)).toBe(true);
      expect(seen(primary).some((h) => h.includes(backupKey) || h.includes(testKey))).toBe(false);
      expect(seen(backup).some((h) => h.includes(primaryKey) || h.includes(testKey))).toBe(false);

      const ledger = JSON.parse(readFileSync(join(dir, ".sa", "usage.json"), "utf8")) as { runs: Array<{ byModel: Record<string, { liveCalls: number; costUsd: number; skippedCalls: number }> }> };
      const byModel = ledger.runs.at(-1)!.byModel;
      expect(byModel["backup:gpt-4o-mini"]!.liveCalls).toBe(21);
      // The endpoint's own price applies.
      expect(byModel["backup:gpt-4o-mini"]!.costUsd).toBeGreaterThan(0);
      expect(byModel["primary:gpt-4o-mini"]?.liveCalls ?? 0).toBe(0);
      expect(byModel["primary:gpt-4o-mini"]!.skippedCalls).toBe(15);
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8").split("\n")[0]!) as { meta: { models: Record<string, string> } };
      const { fingerprint: _f, ...models } = line.meta.models;
      expect(Object.values(models).length).toBeGreaterThan(0);
      for (const model of Object.values(models)) expect(model).toBe("backup:gpt-4o-mini");

      // No key reaches the cache, the ledger, the quarantine or the output.
      for (const file of filesUnder(dir)) for (const secret of [primaryKey, backupKey]) expect(file.text.includes(secret) ? file.path : "").toBe("");
    } finally {
      cleanup();
    }
  }, 60_000);

  test("acceptance 2: the example plug-in answers --model example:any through a config file alone", async () => {
    const { dir, cleanup } = tempDir("sa-plugin-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      // A path relative to the config file.
      const module = relative(dir, join(root, "fixtures", "providers", "example.ts"));
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, providers: { example: { type: "module", module: module.startsWith(".") ? module : `./${module}` } } }));
      const result = await runScript("run", ["--model", "example:any", "--input", "services.jsonl", "--output", "out.jsonl", "--json"], { cwd: dir, env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      expect(result.code).toBe(0);
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { services: { ok: number } };
      expect(summary.services.ok).toBe(1);
      const ledger = JSON.parse(readFileSync(join(dir, ".sa", "usage.json"), "utf8")) as { runs: Array<{ byModel: Record<string, { liveCalls: number; costUsd: number }> }> };
      const example = ledger.runs.at(-1)!.byModel["example:any"]!;
      expect(example.liveCalls).toBe(21);
      // The plug-in's own price lookup.
      expect(example.costUsd).toBeGreaterThan(0);
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8").split("\n")[0]!) as { meta: { models: Record<string, string> } };
      expect(line.meta.models.descriptions).toBe("example:any");
    } finally {
      cleanup();
    }
  }, 60_000);

  test("an unknown endpoint and a key written into the config are exit 2 with one clear line", async () => {
    const { dir, cleanup } = tempDir("sa-endpoints-bad-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const unknown = await runScript("run", ["--model", "azure:gpt-4o", "--data", fixtureData, "--input", "services.jsonl", "--output", "out.jsonl"], { cwd: dir });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown provider "azure"');
      writeFileSync(join(dir, "service-ambitions.config.json"), `{\n  "providers": {\n    "azure": { "type": "openai", "apiKeyEnv": "sk-live-0123456789abcdef" }\n  }\n}\n`);
      const keyed = await runScript("run", ["--model", "azure:gpt-4o", "--data", fixtureData, "--input", "services.jsonl", "--output", "out.jsonl"], { cwd: dir });
      expect(keyed.code).toBe(2);
      expect(keyed.stderr).toContain("service-ambitions.config.json:3");
      expect(keyed.stderr).toContain("providers.azure.apiKeyEnv");
      expect(keyed.stderr).not.toContain("sk-live-0123456789abcdef");
    } finally {
      cleanup();
    }
  }, 60_000);

  test("preflight names each endpoint's missing variable, and --online lists models through each endpoint", async () => {
    const { dir, cleanup } = tempDir("sa-endpoints-preflight-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const config = {
        dataDir: fixtureData,
        model: "backup:gpt-4o-mini",
        models: { fallback: ["other:not-served"] },
        providers: {
          backup: { type: "openai", baseURL: backup.url, apiKeyEnv: "BACKUP_KEY", pricing: { "gpt-4o-mini": { input: 1, output: 2 } } },
          other: { type: "openai", baseURL: `${backup.url.replace("/v1", "")}/v1?api-key=${primaryKey}`, headers: { "api-key": { env: "OTHER_KEY" } }, pricing: { "not-served": { input: 1, output: 2 } } },
        },
      };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
      const args = ["--input", "services.jsonl", "--online"];
      const missing = await runScript("preflight", args, { cwd: dir, env: { BACKUP_KEY: backupKey } });
      expect(missing.code).toBe(1);
      expect(missing.stdout).toContain("✖ environment: OTHER_KEY (header api-key) is not set (needed for other:not-served)");
      const listed = await runScript("preflight", args, { cwd: dir, env: { BACKUP_KEY: backupKey, OTHER_KEY: "other-SECRET" } });
      expect(listed.stdout).toContain("✔ environment: BACKUP_KEY is set; endpoint " + backup.url);
      expect(listed.stdout).toContain("provider: backup: 2 models listed; other: 2 models listed");
      expect(listed.stdout).toContain("model not-served is not listed by other");
      for (const out of [missing.stdout + missing.stderr, listed.stdout + listed.stderr]) {
        for (const secret of [primaryKey, backupKey, "other-SECRET"]) expect(out).not.toContain(secret);
      }
    } finally {
      cleanup();
    }
  }, 60_000);

  test("the cache key holds the endpoint's name: the same model and URL under another name is asked again", async () => {
    const { dir, cleanup } = tempDir("sa-endpoints-cache-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const entry = { type: "openai", baseURL: backup.url, apiKeyEnv: "BACKUP_KEY", pricing: { "gpt-4o-mini": { input: 1, output: 2 } } };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, providers: { one: entry, two: entry } }));
      const env = { BACKUP_KEY: backupKey, XDG_CACHE_HOME: join(dir, "xdg") };
      const run = (model: string, out: string) => runScript("run", ["--model", model, "--input", "services.jsonl", "--output", out], { cwd: dir, env });
      const before = backup.requests.length;
      expect((await run("one:gpt-4o-mini", "a.jsonl")).code).toBe(0);
      expect(backup.requests.length - before).toBe(21);
      expect((await run("one:gpt-4o-mini", "b.jsonl")).code).toBe(0);
      expect(backup.requests.length - before).toBe(21);
      expect((await run("two:gpt-4o-mini", "c.jsonl")).code).toBe(0);
      expect(backup.requests.length - before).toBe(42);
    } finally {
      cleanup();
    }
  }, 60_000);
});

describe("keys read from variables that config names", () => {
  test("a gateway that quotes the key (apiKeyEnv, or a header's env) in its error: the key reaches no log, --json, ledger or quarantine", async () => {
    // A gateway that echoes the credential it was sent, as some do in a 400 or 401.
    const echo = (status: number) =>
      Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) => {
          const sent = (req.headers.get("authorization") ?? req.headers.get("api-key") ?? "").replace(/^Bearer /, "");
          return Response.json({ error: { message: `invalid credential ${sent} for this gateway` } }, { status, headers: { "x-request-id": "req_echo" } });
        },
      });
    const bad = echo(400);
    const denied = echo(401);
    const { dir, cleanup } = tempDir("sa-endpoints-echo-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const providers = {
        gw: { type: "openai", baseURL: `http://127.0.0.1:${bad.port}/v1`, apiKeyEnv: "GATEWAY_TOKEN" },
        az: { type: "openai", baseURL: `http://127.0.0.1:${denied.port}/v1`, headers: { "api-key": { env: "AZURE_OPENAI_KEY" } } },
      };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, providers }));
      const secrets = ["gwtok_ABCDEFGH12345678", "0123456789abcdef0123456789abcdef"];
      const env = { GATEWAY_TOKEN: secrets[0], AZURE_OPENAI_KEY: secrets[1], XDG_CACHE_HOME: join(dir, "xdg") };
      for (const model of ["gw:gpt-4o", "az:gpt-4o"]) {
        const result = await runScript("run", ["--model", model, "--input", "services.jsonl", "--output", "out.jsonl", "--verbose", "--json"], { cwd: dir, env });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("invalid credential [redacted]");
        for (const secret of secrets) expect(result.stdout + result.stderr).not.toContain(secret);
      }
      for (const file of filesUnder(dir)) for (const secret of secrets) expect(file.text.includes(secret) ? file.path : "").toBe("");
    } finally {
      cleanup();
      bad.stop(true);
      denied.stop(true);
    }
  }, 60_000);
});

describe("preflight --online against an endpoint that never answers", () => {
  test("the model list is given up on after 2 attempts, whatever retry.attempts says; the check fails naming it (exit 1)", async () => {
    let asked = 0;
    const silent = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(req) {
        if (new URL(req.url).pathname.endsWith("/models")) asked++;
        await Bun.sleep(5_000);
        return Response.json({ object: "list", data: [] });
      },
    });
    const { dir, cleanup } = tempDir("sa-endpoints-silent-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, requestTimeout: 300, retry: { attempts: 6, baseMs: 10, capMs: 20 } }));
      const result = await runScript("preflight", ["--input", "services.jsonl", "--online", "--json"], { cwd: dir, baseURL: `http://127.0.0.1:${silent.port}/v1` });
      expect(result.code).toBe(1);
      const provider = JSON.parse(result.stdout.trim()).checks.find((c: { name: string }) => c.name === "provider");
      expect(provider).toMatchObject({ ok: false, code: "E_PROVIDER" });
      expect(provider.detail).toContain("after 2 attempt(s)");
      expect(asked).toBe(2);
    } finally {
      cleanup();
      silent.stop(true);
    }
  }, 30_000);
});
