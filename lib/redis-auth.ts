/**
 * A password Redis refused. ioredis then selects the URL's database and gets NOAUTH, as does
 * every later command: those say no password was given, when the one given was wrong.
 */
export const refusedPassword = (error: unknown): error is Error => error instanceof Error && /^(WRONGPASS|ERR AUTH|ERR invalid password)/.test(error.message);

/** Why a Redis connection fails, from its last error and the next one: a refused password outranks the NOAUTH errors that follow it. */
export const connectionError = (last: Error | undefined, next: Error): Error => (refusedPassword(last) && /^NOAUTH/.test(next.message) ? last : next);
