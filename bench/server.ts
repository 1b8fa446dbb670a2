import { readUntil } from "./child.ts";
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
  const proc = Bun.spawn(["bun", import.meta.path, JSON.stringify(options)], { stdout: "pipe", stderr: "inherit" });
  const url = (await readUntil(proc.stdout, "\n", "bench: the test server did not start")).trim();
  return {
    url,
    stats: async () => (await (await fetch(`${url.replace(/\/v1$/, "")}/__stats`)).json()) as ServerStats,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** `bun bench/server.ts '{"latencyMs":200}'` serves until killed and prints its URL: the benchmark's remote provider. */
if (import.meta.main) {
  const { startTestServer } = await import("../lib/test-server.ts");
  const server = startTestServer(JSON.parse(process.argv[2] ?? "{}") as TestServerOptions);
  process.stdout.write(`${server.url}\n`);
  process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
}
