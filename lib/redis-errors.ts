/**
 * A password Redis refused. ioredis then selects the URL's database and gets NOAUTH, as does
 * every later command: those say no password was given, when the one given was wrong.
 */
export const refusedPassword = (error: unknown): error is Error => error instanceof Error && /^(WRONGPASS|ERR AUTH|ERR invalid password)/.test(error.message);

/**
 * Why a Redis connection fails, from its last error and the next one: a refused password outranks
 * the NOAUTH errors that follow it, and a missing database (the connection is then closed) all of them.
 */
export const connectionError = (last: Error | undefined, next: Error): Error => ((refusedPassword(last) && /^NOAUTH/.test(next.message)) || missingDatabase(last) ? last : next);

/**
 * The URL names a database the server does not have (`/99` of 16). ioredis says so once and goes
 * on in database 0, where the cache, the queue or the buckets would then write among other data:
 * such a connection is closed instead, and used as one that cannot be reached.
 */
export const missingDatabase = (error: unknown): error is Error => error instanceof Error && /^ERR (DB index is out of range|invalid DB index)/.test(error.message);

/** A Redis client as far as its errors go (ioredis's, or a driver's instance of it). */
export interface ErrorEmitter {
  on(event: "error", listener: (error: Error) => void): unknown;
  disconnect?(): void;
}

/**
 * Listens to a client's errors: `keep` gets the connection's error as `connectionError` ranks
 * them, and a connection to a database the server lacks is closed (`missingDatabase`).
 */
export function watchConnectionErrors(client: ErrorEmitter, keep: (error: Error) => void): void {
  let last: Error | undefined;
  client.on("error", (error) => {
    keep((last = connectionError(last, error)));
    if (missingDatabase(error)) client.disconnect?.();
  });
}
