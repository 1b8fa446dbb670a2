import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, root, tempDir, testKey, writeJsonl } from "./helpers.ts";

const hide = "\x1b[?25l";
const show = "\x1b[?25h";

describe("terminal state", () => {
  test("after a double Ctrl-C on a TTY the cursor hidden by the progress bars is shown again (exit 130)", async () => {
    const server = startTestServer({ latencyMs: 400 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(20));
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "CI") env[k] = v;
      Object.assign(env, { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: server.url, COLUMNS: "100" });
      const command = ["bun", join(root, "scripts/run.ts"), "--input", input, "--output", "out.jsonl", "--data", fixtureData].join(" ");
      // `script` gives the command a pseudo-terminal; a ^C written to it is a SIGINT to the command.
      const proc = Bun.spawn(["script", "-q", "-e", "-c", command, "/dev/null"], { cwd: dir, env, stdout: "pipe", stderr: "pipe", stdin: "pipe" });
      let out = "";
      const reading = (async () => {
        for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
      })();
      const deadline = Date.now() + 30_000;
      while (!(out.includes(hide) && server.requests.length > 0) && Date.now() < deadline) await Bun.sleep(50);
      expect(out).toContain(hide);
      proc.stdin.write("\x03");
      proc.stdin.flush();
      await Bun.sleep(300);
      proc.stdin.write("\x03");
      proc.stdin.flush();
      const code = await proc.exited;
      await reading;
      expect(code).toBe(130);
      // The last cursor escape written is the one that shows it.
      expect(out.lastIndexOf(show)).toBeGreaterThan(out.lastIndexOf(hide));
      expect(server.answered).toBeLessThan(20 * 21);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
