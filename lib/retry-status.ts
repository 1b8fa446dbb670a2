/**
 * Status codes worth another attempt: 408, 409, 425, 429 and every 5xx. Anything else (400, 401,
 * 403, 404, 422...) will fail the same way again, so it is returned at once.
 */
export const retryStatusCodes = [
  408, // Request Timeout: the server gave up waiting; a new attempt may be quicker.
  409, // Conflict: a concurrent change on the provider's side; usually transient.
  425, // Too Early: the server refuses to risk a replay; retrying later is the documented answer.
  429, // Too Many Requests: rate limited; wait as long as retry-after says.
  // Every server error: a gateway's own (Cloudflare's 520-530, an overloaded 529, a proxy's 507)
  // as well as the provider's, as the openai SDK (whose retries ours replace) treats them.
  ...Array.from({ length: 100 }, (_, i) => 500 + i),
];
