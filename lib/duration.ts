const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;

/**
 * A duration as users write it on the command line, `30d`, `12h`, `45m`, `90s` (a decimal
 * number and one unit), in milliseconds; undefined when it is not one. Used by `cache prune
 * --older-than` and `usage --since`.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(d|h|m|s)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * unitMs[m[2] as keyof typeof unitMs];
}
