import { join } from "node:path";
import { SAError } from "../lib/errors.ts";
import type { TestServerOptions } from "../lib/test-server.ts";

export interface ServerStats {
  requests: number;
  answered: number;
  rejected429: number;
  /** Prompt + completion tokens billed for answered requests. */
  tokens: number;
  /** When the first and the last request arrived (epoch ms). */
  firstAt: number | null;
  lastAt: number | null;
}

/** The test server in its own process, as a remote provider would be: its work does not slow the client. */
export async function spawnServer(options: TestServerOptions) {
  const proc = Bun.spawn(["bun", join(import.meta.dir, "..", "lib", "test-server.ts"), JSON.stringify(options)], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new SAError("E_USAGE", "bench: the test server did not start");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = text.trim();
  return {
    url,
    stats: async () => (await (await fetch(`${url.replace(/\/v1$/, "")}/__stats`)).json()) as ServerStats,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
