import type { z } from "zod";

type Issue = z.core.$ZodIssue;

/**
 * The issue to show. A union that failed reports each branch's issues; the branch that got
 * furthest into the value (the longest path) is the one the author most likely meant.
 */
function firstIssue(error: z.ZodError): Issue | undefined {
  const pick = (issue: Issue | undefined, prefix: PropertyKey[]): Issue | undefined => {
    if (!issue) return undefined;
    if (issue.code === "invalid_union" && issue.errors.length) {
      const branches = issue.errors.map((branch) => pick(branch[0] as Issue | undefined, [...prefix, ...issue.path])).filter((b): b is Issue => !!b);
      const deepest = branches.sort((a, b) => b.path.length - a.path.length)[0];
      if (deepest && deepest.path.length > prefix.length + issue.path.length) return deepest;
    }
    return { ...issue, path: [...prefix, ...issue.path] } as Issue;
  };
  return pick(error.issues[0], []);
}

/**
 * Where the first issue sits in the file, for its line number: an unknown key is found at the key
 * itself, not at the object that holds it (which may start many lines above).
 */
export function issueLocation(error: z.ZodError): PropertyKey[] {
  const first = firstIssue(error);
  if (!first) return [];
  return first.code === "unrecognized_keys" && first.keys[0] !== undefined ? [...first.path, first.keys[0]] : first.path;
}

/** One readable line for the first zod issue: `field.path: message` (and how many more there are). */
export function formatIssues(error: z.ZodError, prefix?: (path: PropertyKey[]) => string): string {
  const first = firstIssue(error);
  if (!first) return "invalid value";
  const path = first.path.map(String).join(".");
  // zod's own message names unknown keys; a custom message may not.
  const keys = first.code === "unrecognized_keys" && !first.keys.every((k) => first.message.includes(k)) ? ` ${first.keys.map((k) => `"${k}"`).join(", ")}` : "";
  const where = prefix ? prefix(first.path) : path ? `${path}: ` : "";
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : "";
  // A record's key that failed its own schema: zod says only "Invalid key in record"; its schema says why.
  const keyReason = first.code === "invalid_key" && first.issues[0]?.message ? `: ${first.issues[0].message}` : "";
  return `${where}${first.message}${keyReason}${keys}${more}`;
}
