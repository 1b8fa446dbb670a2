import type { z } from "zod";

/** One readable line for the first zod issue: `field.path: message` (and how many more there are). */
export function formatIssues(error: z.ZodError, prefix?: (path: PropertyKey[]) => string): string {
  const [first] = error.issues;
  if (!first) return "invalid value";
  const path = first.path.map(String).join(".");
  const keys = first.code === "unrecognized_keys" ? ` ${first.keys.map((k) => `"${k}"`).join(", ")}` : "";
  const where = prefix ? prefix(first.path) : path ? `${path}: ` : "";
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : "";
  return `${where}${first.message}${keys}${more}`;
}
