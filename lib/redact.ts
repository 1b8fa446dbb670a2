/** Secrets that must never reach a log, cache, ledger or output file. */
const secretEnvNames = ["OPENAI_API_KEY", "SA_OPENAI_API_KEY", "SA_LOGFIRE_TOKEN", "AZURE_OPENAI_API_KEY", "OPENROUTER_API_KEY"];

function secretValues(): string[] {
  return secretEnvNames.map((name) => process.env[name]).filter((v): v is string => !!v && v.length >= 4);
}

// Catch keys we were not told about too: OpenAI-style keys and bearer tokens.
const secretPatterns = [/\bsk-[A-Za-z0-9_\-]{8,}/g, /(Bearer\s+)[A-Za-z0-9._\-]{8,}/gi];

/** Replaces every known secret in `text` with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const value of secretValues()) out = out.split(value).join("[redacted]");
  for (const pattern of secretPatterns) out = out.replace(pattern, (_m, prefix) => `${typeof prefix === "string" ? prefix : ""}[redacted]`);
  return out;
}
