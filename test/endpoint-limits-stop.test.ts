import { test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, interruptWhilePaced, makeServices, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

test("Ctrl-C while calls wait for their endpoint's own rpm turn: exit 130 at once, and no call goes out after the signal", async () => {
  const server = startTestServer();
  const { dir, cleanup } = tempDir();
  try {
    // The endpoint paces its own calls at 6 a minute (providers.slow.rpm): 4 descriptions calls, the last some 30 s after the first.
    const providers = { slow: { type: "openai", baseURL: server.url, apiKeyEnv: "SLOW_KEY", rpm: 6 } };
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "slow:gpt-4o-mini", providers }));
    const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
    const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl"], { cwd: dir, env: { SLOW_KEY: "sk-slow-0123456789" } });
    await interruptWhilePaced(proc, server, dir);
  } finally {
    cleanup();
    await server.stop();
  }
}, 90_000);
