import { Redis } from "ioredis";
import { SAError, errorMessage } from "../errors.ts";
import type { Log } from "../log.ts";
import { redactUrl } from "../redact.ts";
import { connectionError, missingDatabase } from "../redis-errors.ts";
import type { Config } from "../schema/config.ts";

/** Where a queue lives and how its jobs are run: the URL comes from `--queue` or `queue.url`. */
export interface QueueSettings {
  url: string;
  name: string;
  attempts: number;
  lockDuration: number;
}

/** `--queue` wins over `queue.url`; one of them must name a Redis server. */
export function queueSettings(config: Config, url: string | undefined): QueueSettings {
  const chosen = url ?? config.queue.url;
  if (!chosen) throw new SAError("E_USAGE", "--queue is required (redis://HOST:PORT[/DB], or config queue.url)");
  if (!/^rediss?:\/\//.test(chosen)) throw new SAError("E_USAGE", `--queue: expected redis://HOST:PORT[/DB], got "${chosen.replace(/\/\/[^@/]*@/, "//***@")}"`);
  return { url: chosen, name: config.queue.name, attempts: config.queue.attempts, lockDuration: config.queue.lockDuration };
}

/** A connection BullMQ can block on (`maxRetriesPerRequest: null`, as its workers require). */
export function queueConnection(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null, connectTimeout: 5000, lazyConnect: false });
  // An unheard 'error' event prints a stack per reconnect attempt; BullMQ reports failures itself.
  client.on("error", () => {});
  return client;
}

/**
 * A queue connection that is known to work: a Redis that cannot be reached, or refuses the
 * credentials, is one line naming it (without its password) and exit 2, never a wait without end.
 */
export async function openQueueConnection(url: string): Promise<Redis> {
  const client = new Redis(url, { maxRetriesPerRequest: null, connectTimeout: 5000, lazyConnect: true });
  let lastError: Error | undefined;
  client.on("error", (error) => (lastError = connectionError(lastError, error)));
  try {
    await client.connect();
    await client.ping();
    if (missingDatabase(lastError)) throw lastError;
  } catch (error) {
    client.disconnect();
    throw new SAError("E_CONFIG", `queue: Redis ${redactUrl(url)} cannot be reached (${errorMessage(lastError ?? error)}); check --queue or queue.url`);
  }
  return client;
}

/** One warning when the queue's Redis is lost, one line when it is back (ioredis keeps reconnecting meanwhile). */
export function watchConnection(client: Redis, url: string, log: Pick<Log, "warn" | "info">, whileLost: string, onBack?: () => void): void {
  let lost = false;
  client.on("error", (error) => {
    if (lost || client.status === "ready") return;
    lost = true;
    log.warn(`queue: Redis ${redactUrl(url)} is unreachable (${errorMessage(error)}); ${whileLost}`);
  });
  client.on("ready", () => {
    if (lost) log.info(`queue: Redis ${redactUrl(url)} is back`);
    if (lost) onBack?.();
    lost = false;
  });
}

/** The Redis keys this project keeps next to a queue's own (BullMQ's live under `bull:<name>:`). */
export const queueKeys = (name: string) => ({
  journal: `sa:queue:${name}:journal`,
  spend: (runId: string) => `sa:queue:${name}:spend:${runId}`,
  /** A run's requests and tokens over every worker (a hash), which its usage limits are checked against. */
  usage: (runId: string) => `sa:queue:${name}:usage:${runId}`,
  stop: `sa:queue:${name}:stop`,
});

export type QueueKeys = ReturnType<typeof queueKeys>;

/** BullMQ refuses `:` in custom job ids; a service's fingerprint (`v1:<hex>`) is its job id with `-`. */
export const jobIdFor = (fingerprint: string) => fingerprint.replaceAll(":", "-");
