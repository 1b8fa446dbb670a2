import { hasher } from "./hash.ts";

type JsonSchema = Record<string, unknown>;

const adjectives = ["Adaptive", "Unified", "Proactive", "Personalised", "Insightful", "Seamless", "Resilient", "Connected", "Intelligent", "Transparent", "Collaborative", "Predictive"];
const nouns = ["Journey", "Insights", "Workflow", "Assistant", "Dashboard", "Pathways", "Feedback Loop", "Service Hub", "Analytics", "Orchestration", "Support Desk", "Engagement"];
const verbs = ["Provides", "Delivers", "Enables", "Offers", "Automates", "Coordinates"];
const outcomes = ["clearer outcomes", "faster decisions", "measurable improvements", "less manual effort", "consistent experiences", "timely support"];

/** A deterministic pseudo-random stream from a seed string. */
function stream(seed: string) {
  let counter = 0;
  return (n: number): number => {
    const digest = hasher("sha256").update(`${seed}:${counter++}`).digest();
    return digest.readUInt32BE(0) % Math.max(1, n);
  };
}

function resolveRef(root: JsonSchema, schema: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return schema;
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) node = (node as JsonSchema)[part];
  return resolveRef(root, node as JsonSchema);
}

function text(key: string, pick: (n: number) => number): string {
  const adjective = adjectives[pick(adjectives.length)]!;
  const noun = nouns[pick(nouns.length)]!;
  if (key === "name") return `${adjective} ${noun}`;
  if (key === "justification") return `Evidence of ${outcomes[pick(outcomes.length)]} is defined and reviewed regularly.`;
  return `${verbs[pick(verbs.length)]} ${adjective.toLowerCase()} ${noun.toLowerCase()} for ${outcomes[pick(outcomes.length)]}.`;
}

/** The first property of an array's item schema that is an enum: the array gets one entry per value. */
function enumeratingKey(root: JsonSchema, items: JsonSchema): [string, unknown[]] | undefined {
  const props = (items.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, prop] of Object.entries(props)) {
    const resolved = resolveRef(root, prop);
    if (Array.isArray(resolved.enum)) return [key, resolved.enum];
  }
  return undefined;
}

/**
 * Builds a schema-valid value for a JSON schema, deterministically from `seed`.
 * A top-level array of objects keyed by an enum gets one entry per enum value (every plateau,
 * every role, every feature id); deeper arrays get a few distinct entries. A string property
 * named in `choices` (ids too many to pin as an enum) takes one of its values.
 */
export function fakeFromSchema(schema: JsonSchema, seed: string, choices: Record<string, string[]> = {}): unknown {
  const pick = stream(seed);
  const visit = (node: JsonSchema, key: string, depth: number, fixed?: [string, unknown]): unknown => {
    const s = resolveRef(schema, node);
    if (Array.isArray(s.anyOf)) return visit((s.anyOf as JsonSchema[]).find((o) => o.type !== "null") ?? {}, key, depth);
    if (Array.isArray(s.enum)) return s.enum[pick(s.enum.length)];
    if ("const" in s) return s.const;
    const type = Array.isArray(s.type) ? (s.type as string[]).find((t) => t !== "null") : (s.type as string | undefined);
    switch (type) {
      case "object": {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonSchema>)) {
          out[k] = fixed && fixed[0] === k ? fixed[1] : visit(v, k, depth + 1);
        }
        return out;
      }
      case "array": {
        const items = resolveRef(schema, (s.items ?? {}) as JsonSchema);
        const enumerated = depth <= 1 ? enumeratingKey(schema, items) : undefined;
        if (enumerated) return enumerated[1].map((value) => visit(items, key, depth + 1, [enumerated[0], value]));
        const values = Array.isArray(items.enum) ? items.enum : undefined;
        const count = 1 + pick(3);
        const out = Array.from({ length: count }, () => visit(items, key, depth + 1));
        // Distinct entries, as a model would give (mapping items differ by their first field).
        const seen = new Set<string>();
        return values ? out : out.filter((v) => {
          const id = JSON.stringify(v && typeof v === "object" ? Object.values(v)[0] : v);
          return seen.has(id) ? false : (seen.add(id), true);
        });
      }
      case "integer":
      case "number": {
        // zod writes the safe-integer range for a bare int: keep such numbers small and readable.
        const min = typeof s.minimum === "number" && s.minimum > -1e6 ? s.minimum : 1;
        const max = typeof s.maximum === "number" && s.maximum < 1e6 ? s.maximum : min + 4;
        return min + pick(Math.floor(max - min) + 1);
      }
      case "boolean":
        return pick(2) === 1;
      case "string":
        return choices[key]?.length ? choices[key][pick(choices[key].length)] : text(key, pick);
      default:
        return null;
    }
  };
  return visit(schema, "", 0);
}
