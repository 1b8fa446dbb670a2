/** Secrets that must never reach a log, cache, ledger or output file. */
const secretEnvNames = ["OPENAI_API_KEY", "SA_OPENAI_API_KEY", "SA_LOGFIRE_TOKEN", "AZURE_OPENAI_API_KEY", "OPENROUTER_API_KEY"];

/** Values read from variables that config names (an endpoint's `apiKeyEnv`, a header's `env`). */
const namedSecrets = new Set<string>();

/** Adds a secret read from a variable named in config, so that it is redacted like the known ones. */
export function addSecret(value: string | undefined): void {
  if (value && value.length >= 4) namedSecrets.add(value);
}

function secretValues(): string[] {
  const known = secretEnvNames.map((name) => process.env[name]).filter((v): v is string => !!v && v.length >= 4);
  return namedSecrets.size ? [...known, ...namedSecrets] : known;
}

// Catch keys we were not told about too: OpenAI-style keys, bearer tokens, and credentials in URLs
// (`https://user:pass@host`, `?api-key=...`) quoted in error messages.
const secretPatterns = [
  /\bsk-[A-Za-z0-9_\-]{8,}/g,
  /(Bearer\s+)[A-Za-z0-9._\-]{8,}/gi,
  /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+(?=@)/gi,
  /([?&](?:[\w-]*[-_])?(?:api[-_]?key|key|token|secret|password|passwd|pwd|auth|sig|signature)=)[^&\s#"']+/gi,
];

/** Replaces every known secret in `text` with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const value of secretValues()) out = out.split(value).join("[redacted]");
  for (const pattern of secretPatterns) out = out.replace(pattern, (_m, prefix) => `${typeof prefix === "string" ? prefix : ""}[redacted]`);
  return out;
}

/** Query parameters that carry credentials at gateways (`?api-key=`, `?key=`, `?sig=`, tokens). */
const secretParam = /^(?:.*[-_])?(?:api[-_]?key|key|token|secret|password|passwd|pwd|auth|authorization|sig|signature|credential|credentials|session)$/i;

/**
 * A URL without its userinfo (`user:pass@`) and without query parameters that carry secrets, for
 * anything logged, stored or hashed. A URL with neither comes back unchanged, byte for byte, so
 * cache keys made from clean URLs stay the same.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return redact(url);
  }
  const secrets = [...parsed.searchParams.keys()].filter((name) => secretParam.test(name));
  if (!parsed.username && !parsed.password && secrets.length === 0) return url;
  parsed.username = "";
  parsed.password = "";
  for (const name of secrets) parsed.searchParams.delete(name);
  const clean = parsed.toString();
  // URL adds a "/" to a bare origin; keep the caller's form.
  return url.endsWith("/") || !clean.endsWith("/") || parsed.pathname !== "/" ? clean : clean.slice(0, -1);
}
