import { describe, expect, test } from "bun:test";
import { readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { root, tempDir } from "./helpers.ts";

/** Runs `bash .ci/run --check` with only the given programs on PATH. */
async function check(programs: string[] | undefined) {
  const { dir, cleanup } = tempDir();
  try {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== "CHROMIUM_PATH") env[k] = v;
    if (programs) {
      for (const p of programs) symlinkSync(Bun.which(p)!, join(dir, p));
      env.PATH = dir;
    }
    const proc = Bun.spawn([Bun.which("bash")!, join(root, ".ci/run"), "--check"], { env, stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return { out, code };
  } finally {
    cleanup();
  }
}

describe("setup", () => {
  test("the README's second quick-start command installs what is missing, then tests", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const quickStart = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split("\n");
    expect(quickStart?.[1]).toBe("bash .ci/run");
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    expect(ci).toContain("bun run test");
    // Every program the tests start besides bun is checked by .ci/run and named in the README.
    for (const tool of ["redis-server", "chromium", "pdftotext", "make", "script"]) {
      expect(ci).toContain(tool);
      expect(readme.split("### Prerequisites")[1]).toContain(`\`${tool}\``);
    }
  });

  test("on a machine with only bash and Node, `.ci/run --check` names everything the tests need", async () => {
    const bare = await check(["node", "dirname", "tr", "id"]);
    expect(bare.code).toBe(1);
    expect(bare.out.trim()).toBe("ci: missing: bun redis-server pdftotext make script chromium");
  });

  test("here, where the suite runs, nothing is missing", async () => {
    const full = await check(undefined);
    expect(full.out.trim()).toBe("ci: nothing missing");
    expect(full.code).toBe(0);
  });
});

describe("the test server as a program", () => {
  test("`bun lib/test-server.ts '{...}'` prints its URL, serves with the options given, and ends with exit 0 on SIGTERM", async () => {
    const proc = Bun.spawn(["bun", join(root, "lib/test-server.ts"), JSON.stringify({ models: ["walkthrough-model"] })], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const url = text.trim();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const models = (await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(["walkthrough-model"]);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      proc.kill("SIGKILL");
    }
  });
});
