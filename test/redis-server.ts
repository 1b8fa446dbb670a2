import { createServer } from "node:net";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A real redis-server on a free 127.0.0.1 port (or `port`, to bring one back), with no persistence. */
export async function startRedis(port?: number): Promise<RedisServer> {
  port ??= await freePort();
  const proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let seen = "";
  const deadline = Date.now() + 10_000;
  while (!seen.includes("Ready to accept connections")) {
    if (Date.now() > deadline) throw new Error(`redis-server did not start: ${seen}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`redis-server exited: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}
