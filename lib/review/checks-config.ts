import { z } from "zod";

/**
 * The `checks` config key, apart from the checks themselves: reading the config never loads them.
 */

/** The checks a reviewer would otherwise do by hand, in report order. */
export const checkIds = ["incomplete", "missing-role", "repeated-feature", "falling-level", "unmapped-feature", "unused-item", "unknown-item", "brand-name", "names-plateau"] as const;
export type CheckId = (typeof checkIds)[number];

export const severitySchema = z.enum(["error", "warning", "off"]);
export type Severity = z.infer<typeof severitySchema>;

export const checksConfigSchema = z.strictObject({
  /** Brand or company names no description should contain. @default [] */
  brands: z.array(z.string().min(1)).default([]),
  /** Per check: `error` fails `check` (exit 1), `warning` reports, `off` skips. */
  severity: z.partialRecord(z.enum(checkIds), severitySchema).default({}),
});
export type ChecksConfig = z.infer<typeof checksConfigSchema>;
