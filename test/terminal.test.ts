import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runInTerminal, tempDir, writeJsonl } from "./helpers.ts";

const hide = "\x1b[?25l";
const show = "\x1b[?25h";

describe("terminal state", () => {
  test("after a double Ctrl-C on a TTY the cursor hidden by the progress bars is shown again (exit 130)", async () => {
    const server = startTestServer({ latencyMs: 400 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(20));
      const proc = runInTerminal("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
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

/** What a terminal of `cols` columns shows after `raw`: its lines, a wrapped line joined back into one. */
async function screen(raw: string, cols = 100): Promise<string[]> {
  const { Terminal } = (await import("@xterm/headless")).default;
  const term = new Terminal({ cols, rows: 40, scrollback: 5000, allowProposedApi: true });
  await new Promise<void>((done) => term.write(raw, done));
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i)!;
    const text = line.translateToString(true);
    if (line.isWrapped && lines.length) lines[lines.length - 1] += text;
    else lines.push(text);
  }
  return lines.filter((l) => l.trim());
}

describe("log lines while the bars are drawn", () => {
  test("a service's error logged mid-run stays on screen above the bars, which are left drawn once", async () => {
    // Request 5 is a features call (the 3 descriptions calls go first): a 400, so its service fails mid-run.
    const server = startTestServer({ latencyMs: 300, fault: (n) => (n === 5 ? { type: "400" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const proc = runInTerminal("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      const raw = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(1);
      const lines = await screen(raw);
      const error = lines.findIndex((l) => /^✖ \[SVC00\d\] service SVC00\d failed at features: .*HTTP 400/.test(l));
      expect(error).toBeGreaterThan(-1);
      // Each bar once (none left behind half drawn over), below the error, and the summary below them.
      for (const stage of ["services", "descriptions", "features", "mapping"]) {
        const at = lines.flatMap((l, i) => (l.startsWith(` ${stage} `) ? [i] : []));
        expect({ stage, count: at.length }).toEqual({ stage, count: 1 });
        expect(at[0]!).toBeGreaterThan(error);
      }
      expect(lines.findIndex((l) => l.startsWith("✖ failed: 2 written, 1 failed"))).toBeGreaterThan(lines.findIndex((l) => l.startsWith(" mapping ")));
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});

describe("--output - on a terminal", () => {
  test("the evolutions written to a terminal stay readable: progress is plain lines among them, no bars drawn over them", async () => {
    const server = startTestServer({ latencyMs: 100 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const proc = runInTerminal("run", ["--input", input, "--output", "-", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      const raw = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      const lines = await screen(raw);
      const evolutions = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { service: { service_id: string } });
      expect(evolutions.map((e) => e.service.service_id).sort()).toEqual(["SVC001", "SVC002"]);
      expect(raw).not.toContain("\x1b[?25l");
      expect(lines.some((l) => l.startsWith("ℹ finished: 2/2 services done"))).toBe(true);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});

describe("a second Ctrl-C while the bars are drawn", () => {
  test("line wrapping, which the bars turn off, is on again at the exit, and the shell's prompt starts on a line of its own", async () => {
    // Calls take 2 s: the second ^C comes while they are in flight, so the run exits with the bars still up.
    const server = startTestServer({ latencyMs: 2000 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(6));
      const proc = runInTerminal("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      let out = "";
      const reading = (async () => {
        for await (const chunk of proc.stdout) out += new TextDecoder().decode(chunk);
      })();
      const deadline = Date.now() + 30_000;
      while (!(out.includes("\x1b[?7l") && server.requests.length > 0) && Date.now() < deadline) await Bun.sleep(50);
      for (const _ of [1, 2]) {
        proc.stdin.write("\x03");
        proc.stdin.flush();
        await Bun.sleep(200);
      }
      expect(await proc.exited).toBe(130);
      await reading;
      expect(server.answered).toBe(0);
      expect(out.lastIndexOf("\x1b[?7h")).toBeGreaterThan(out.lastIndexOf("\x1b[?7l"));
      expect(out.lastIndexOf("\x1b[?25h")).toBeGreaterThan(out.lastIndexOf("\x1b[?25l"));
      expect(out).toEndWith("\n");
      const lines = await screen(out);
      expect(lines.at(-1)).toStartWith(" mapping ");
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
