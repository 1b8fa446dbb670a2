import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { cacheEntrySchema } from "../lib/cache.ts";
import { evolutionSchema } from "../lib/schema/evolution.ts";
import { descriptionsResponse, facetsSchema, featuresResponse } from "../lib/schema/responses.ts";
import { fastCheckOf } from "../lib/zod-fast-check.ts";
import { validateAnswer, type CallSpec } from "../lib/call-spec.ts";
import { canonicalJson } from "../lib/jsonl.ts";
import type { Catalogue } from "../lib/schema/data.ts";

const lenientMapping = z.object({
  mappings: z.array(z.object({ feature_id: z.string(), items: z.array(z.object({ item: z.string(), rationale: z.string().optional(), facets: z.record(z.string(), z.unknown()).nullish() })) })),
});
const catalogue = {
  field: "applications",
  facets: [
    { id: "interface", label: "Interface", type: "enum", required: true, options: [{ id: "ui", label: "UI" }, { id: "api", label: "API" }] },
    { id: "criticality", label: "Criticality", type: "integer", required: true },
    { id: "share", label: "Share", type: "number", required: false },
    { id: "managed", label: "Managed", type: "boolean", required: false },
    { id: "notes", label: "Notes", type: "string", required: false },
  ],
  items: [{ id: "APP1", name: "One" }],
} as unknown as Catalogue;
const facets = facetsSchema(catalogue)!;

const entry = (over: Record<string, unknown> = {}) => ({
  v: 1,
  answer: { ok: true },
  usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 2, reasoningTokens: 0 },
  model: "m",
  provider: "p",
  createdAt: "2026-01-01T00:00:00.000Z",
  request: { stage: "features", serviceId: "S1", runId: "r" },
  expiresAt: null,
  ...over,
});
const feature = (over: Record<string, unknown> = {}) => ({ role: "r1", name: "N", description: "D", score: { level: 3, justification: "J" }, ...over });
const facetValues = (over: Record<string, unknown> = {}) => ({ interface: "api", criticality: 2, share: null, managed: null, notes: null, ...over });

/** Schema, then values: `true` when the compiled check must pass the value, `false` when it must leave it to zod. */
const cases: Array<[string, z.ZodType, Array<[unknown, boolean]>]> = [
  [
    "cache entry",
    cacheEntrySchema,
    [
      [entry(), true],
      [entry({ dropped: { reason: "x", data: "y" } }), true],
      [entry({ expiresAt: "2030-01-01T00:00:00.000Z" }), true],
      [entry({ v: 2 }), false],
      [entry({ answer: undefined }), false],
      [{ ...entry(), answer: undefined }, false],
      [entry({ usage: { inputTokens: "1", cachedInputTokens: 0, outputTokens: 2, reasoningTokens: 0 } }), false],
      [entry({ expiresAt: undefined }), false], // zod fills in the default: its output differs
      [entry({ extra: 1 }), false], // zod strips it
      [entry({ request: { stage: "s" } }), false],
      [entry({ dropped: { reason: 1, data: "y" } }), false],
      ['{"v":1', false],
      [null, false],
      [[entry()], false],
    ],
  ],
  [
    "descriptions",
    descriptionsResponse(["P1", "P2"]),
    [
      [{ descriptions: [{ plateau_name: "P1", description: "d" }] }, true],
      [{ descriptions: [] }, true],
      [{ descriptions: [{ plateau_name: "P3", description: "d" }] }, false],
      [{ descriptions: [{ plateau_name: "P1", description: "" }] }, false],
      [{ descriptions: [{ plateau_name: "P1", description: "d", x: 1 }] }, false],
      [{ descriptions: {} }, false],
      [{}, false],
    ],
  ],
  [
    "features",
    featuresResponse(["r1", "r2"]),
    [
      [{ features: [feature(), feature({ role: "r2" })] }, true],
      [{ features: [feature({ score: { level: 0, justification: "J" } })] }, false],
      [{ features: [feature({ score: { level: 6, justification: "J" } })] }, false],
      [{ features: [feature({ score: { level: 2.5, justification: "J" } })] }, false],
      [{ features: [feature({ score: { level: 2, justification: "J", extra: 1 } })] }, false],
      [{ features: [feature({ role: "r9" })] }, false],
      [{ features: [feature({ name: "" })] }, false],
      [{ features: [feature({ name: 1 })] }, false],
    ],
  ],
  [
    "lenient mapping",
    lenientMapping,
    [
      [{ mappings: [{ feature_id: "F", items: [{ item: "APP1", facets: { a: 1 } }, { item: "X", rationale: "r", facets: null }, { item: "Y" }] }] }, true],
      [{ mappings: [{ feature_id: "F", items: [{ item: "APP1", extra: 1 }] }] }, false],
      [{ mappings: [{ feature_id: "F", items: [{ item: "APP1", facets: [] }] }] }, false],
      [{ mappings: [{ feature_id: "F", items: [{ item: "APP1", rationale: null }] }] }, false],
      [{ mappings: [{ feature_id: 1, items: [] }] }, false],
    ],
  ],
  [
    "facets",
    facets,
    [
      [facetValues(), true],
      [facetValues({ share: 0.5, managed: true, notes: "n" }), true],
      [facetValues({ interface: "db" }), false],
      [facetValues({ criticality: 1.5 }), false],
      [facetValues({ criticality: null }), false],
      [facetValues({ share: "1" }), false],
      [facetValues({ managed: "yes" }), false],
      [facetValues({ notes: 3 }), false],
      [facetValues({ other: 1 }), false],
      [{ interface: "api" }, false],
    ],
  ],
  [
    "number bounds",
    z.object({ open: z.number().gt(0).lt(10), closed: z.number().min(1).max(5), twice: z.int().min(0).min(2).max(9).max(4) }),
    [
      [{ open: 0.5, closed: 1, twice: 2 }, true],
      [{ open: 9.99, closed: 5, twice: 4 }, true],
      [{ open: 0, closed: 3, twice: 3 }, false],
      [{ open: 10, closed: 3, twice: 3 }, false],
      [{ open: 1, closed: 0.99, twice: 3 }, false],
      [{ open: 1, closed: 5.01, twice: 3 }, false],
      [{ open: 1, closed: 3, twice: 1 }, false],
      [{ open: 1, closed: 3, twice: 5 }, false],
      [{ open: 1, closed: 3, twice: 2.5 }, false],
      [{ open: Number.POSITIVE_INFINITY, closed: 3, twice: 3 }, false],
      [{ open: Number.NaN, closed: 3, twice: 3 }, false],
    ],
  ],
];

const evolution = (over: { service?: Record<string, unknown>; score?: Record<string, unknown>; top?: Record<string, unknown> } = {}) => ({
  meta: { schema_version: "1.0", run_id: "r", seed: null, models: { fingerprint: "f" }, mapping_types: ["applications"], catalogue_hash: "h", created: "2026-01-01T00:00:00Z" },
  service: { service_id: "S1", name: "S", description: "d", jobs_to_be_done: ["a", { name: "b", note: 1 }], features: [], ...over.service },
  plateaus: [
    {
      plateau: 1,
      plateau_name: "Foundational",
      service_description: "sd",
      features: [{ feature_id: "F1", name: "N", description: "D", score: { level: 2, label: "Managed", justification: "J", ...over.score }, customer_type: "r1", mappings: { applications: [{ item: "APP1", facets: null }] } }],
      roles: [],
      mappings: { applications: [{ id: "APP1", name: "One", mappings: [{ feature_id: "F1", description: "D" }] }] },
    },
  ],
  ...over.top,
});
const tail = z.object({ a: z.string().default("x") });
const stripping = z.union([tail, z.object({ b: z.string() })]);

cases.push(
  [
    "an evolution line (unions, refinements, a transform)",
    evolutionSchema,
    [
      [evolution(), true],
      [evolution({ top: { extra: { kept: true } } }), true], // loose objects keep unknown keys
      [evolution({ score: { label: "" } }), false], // the transform fills the label in
      [evolution({ score: { label: undefined } }), false], // so does the default
      [evolution({ score: { level: 6 } }), false],
      [evolution({ service: { jobs_to_be_done: ["  "] } }), false], // the refinement refuses a blank job
      [evolution({ service: { jobs_to_be_done: [{ name: " " }] } }), false],
      [evolution({ service: { jobs_to_be_done: [3] } }), false],
      [evolution({ service: { service_id: "" } }), false],
    ],
  ],
  [
    "a union whose earlier option could change the value",
    stripping,
    [
      [{ a: "y" }, true],
      [{ b: "q" }, false], // zod's first option takes it, filling in `a` and stripping `b`
    ],
  ],
  [
    "a union whose earlier options surely refuse",
    z.union([z.string(), z.number(), z.boolean(), tail]),
    [
      ["s", true],
      [1, true],
      [false, true],
      [{ a: "y" }, true],
      [{}, false],
      [null, false],
    ],
  ],
  [
    "transforms",
    z.object({ keep: z.object({ a: z.number() }).transform((o) => o), copy: z.object({ a: z.number() }).transform((o) => ({ ...o })) }),
    [
      [{ keep: { a: 1 }, copy: { a: 2 } }, true],
      [{ keep: { a: "1" }, copy: { a: 2 } }, false],
    ],
  ],
  ["a transform that changes the value", z.string().transform((s) => s.length), [["abc", false]]],
  ["a transform that adds a key", z.object({ a: z.number() }).transform((o) => ({ ...o, b: 1 })), [[{ a: 1 }, false]]],
  [
    "a transform that reports an issue",
    z.string().transform((s, ctx) => {
      if (s === "bad") ctx.addIssue({ code: "custom", message: "bad" });
      return s;
    }),
    [
      ["good", true],
      ["bad", false],
    ],
  ],
  ["int as a check", z.object({ n: z.number().int().min(1) }), [[{ n: 2 }, true], [{ n: 2.5 }, false], [{ n: 0 }, false]]],
);

describe("compiled checks agree with zod", () => {
  for (const [name, schema, values] of cases) {
    test(name, () => {
      const check = fastCheckOf(schema);
      expect(check).toBeDefined();
      for (const [value, passes] of values) {
        const parsed = schema.safeParse(value);
        expect({ value, fast: check!(value) }).toEqual({ value, fast: passes });
        // What the compiled check passes, zod accepts, and zod's output equals the value.
        if (passes) expect(parsed).toEqual({ success: true, data: value } as never);
      }
    });
  }
});

describe("what is not compiled is left to zod", () => {
  test.each([
    ["a transform after a schema that is not compiled", z.string().regex(/a/).transform((s) => s)],
    ["a string pattern", z.string().regex(/a/)],
    ["an array length", z.array(z.string()).min(1)],
    ["a refined object", z.object({ a: z.string() }).refine(() => true)],
    ["a union with an option that is not compiled", z.union([z.string(), z.date()])],
    ["a discriminated union", z.discriminatedUnion("k", [z.object({ k: z.literal("a") }), z.object({ k: z.literal("b") })])],
    ["a nested unsupported type", z.object({ a: z.object({ b: z.date() }) })],
  ])("%s", (_name, schema) => {
    expect(fastCheckOf(schema as z.ZodType)).toBeUndefined();
  });
});

describe("answers through validateAnswer", () => {
  const spec = (schema: z.ZodType): CallSpec<unknown> => ({ task: "t", stage: "features", serviceId: "S", priority: 0, messages: [], schema, schemaName: "x" });
  const answers: Array<[string, z.ZodType, unknown]> = [
    ["features", featuresResponse(["r1", "r2"]), { features: [feature(), feature({ role: "r2" })] }],
    ["features, keys in another order", featuresResponse(["r1", "r2"]), { features: [{ score: { justification: "J", level: 3 }, description: "D", name: "N", role: "r1" }] }],
    ["lenient mapping", lenientMapping, { mappings: [{ items: [{ facets: { b: 2, a: 1 }, item: "APP1" }, { item: "X", facets: null }], feature_id: "F" }] }],
    ["descriptions", descriptionsResponse(["P1", "P2"]), { descriptions: [{ description: "d", plateau_name: "P1" }] }],
  ];
  test.each(answers)("%s: the value the compiled check takes equals zod's, and is written the same", (_name, schema, answer) => {
    const checked = validateAnswer(spec(schema), JSON.stringify(answer));
    const parsed = schema.safeParse(answer);
    expect(checked.ok && parsed.success).toBe(true);
    if (!checked.ok || !parsed.success) return;
    expect(checked.value).toEqual(parsed.data);
    expect(canonicalJson(checked.value)).toBe(canonicalJson(parsed.data));
  });

  test("an answer the compiled check refuses gets zod's reason, as before", () => {
    const checked = validateAnswer(spec(featuresResponse(["r1"])), JSON.stringify({ features: [feature({ score: { level: 9, justification: "J" } })] }));
    const parsed = featuresResponse(["r1"]).safeParse({ features: [feature({ score: { level: 9, justification: "J" } })] });
    expect(checked.ok).toBe(false);
    expect(parsed.success).toBe(false);
    expect(checked).toMatchObject({ ok: false, reason: expect.stringContaining("features.0.score.level") });
  });
});
