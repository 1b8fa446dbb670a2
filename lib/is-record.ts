/** Whether a parsed JSON, YAML or module value is an object with keys (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
