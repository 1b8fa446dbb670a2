/**
 * Status codes worth another attempt. Anything else (400, 401, 403, 404, 422...) will fail
 * the same way again, so it is returned at once.
 */
export const retryStatusCodes = [
  408, // Request Timeout: the server gave up waiting; a new attempt may be quicker.
  409, // Conflict: a concurrent change on the provider's side; usually transient.
  425, // Too Early: the server refuses to risk a replay; retrying later is the documented answer.
  429, // Too Many Requests: rate limited; wait as long as retry-after says.
  500, // Internal Server Error
  502, // Bad Gateway
  503, // Service Unavailable
  504, // Gateway Timeout
  520, 521, 522, 523, 524, // Cloudflare's origin errors, seen in front of OpenAI-compatible gateways.
  529, // Overloaded
];
