import type { z } from "zod";

/**
 * A validator compiled once from a zod schema, for answers and values read back from our own
 * cache. It says yes only when zod would accept the value as it is: the same checks, no default to
 * fill in, no unknown key to strip (zod's output would equal the value, up to key order). It says
 * no to anything else, and the caller then parses with zod as before, so what passes and what fails,
 * and every error message, stay zod's. Only a subset of zod is compiled (the types our answer
 * and cache-entry schemas use); a schema with anything else gets no fast check at all.
 *
 * Hand-written because zod has no compiled "is this already valid" check, and a parse builds a
 * copy of every object with its issues list (measured: most of a cached rerun's validation time).
 */
export type FastCheck = (value: unknown) => boolean;

interface Def {
  type: string;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  [key: string]: unknown;
}
interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  fn?: (value: unknown) => unknown;
  when?: unknown;
  abort?: boolean;
  format?: string;
}

const defOf = (schema: unknown) => (schema as { _zod: { def: Def } })._zod.def;
const checksOf = (def: Def) => (def.checks ?? []).map((c) => c._zod.def);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (!isObject(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

const compiled = new WeakMap<object, FastCheck | null>();

/** The schema's compiled check, built on first use; undefined when the schema uses what is not compiled. */
export function fastCheckOf(schema: z.ZodType): FastCheck | undefined {
  let check = compiled.get(schema);
  if (check === undefined) compiled.set(schema, (check = compile(schema) ?? null));
  return check ?? undefined;
}

function compile(schema: unknown): FastCheck | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case "string":
      return compileString(def);
    case "number":
      return compileNumber(def);
    case "boolean":
      return plain(def, (v) => typeof v === "boolean");
    case "enum":
      return compileEnum(def);
    case "literal":
      return plain(def, (v) => (def.values as unknown[]).includes(v));
    case "unknown":
    case "any":
      return compileUnknown(def);
    case "nullable":
      return wrap(def, (inner) => (v) => v === null || inner(v));
    case "optional":
      return wrap(def, (inner) => (v) => v === undefined || inner(v));
    // A value that is there goes to the inner schema; a missing one would be filled in: no.
    case "default":
      return wrap(def, (inner) => (v) => v !== undefined && inner(v));
    case "array":
      return compileArray(def);
    case "record":
      return compileRecord(def);
    case "object":
      return compileObject(def);
    case "union":
      return compileUnion(def);
    case "pipe":
      return compilePipe(def);
    default:
      return undefined;
  }
}

/** A type with no checks of its own. */
const plain = (def: Def, check: FastCheck): FastCheck | undefined => (checksOf(def).length === 0 ? check : undefined);

function wrap(def: Def, make: (inner: FastCheck) => FastCheck): FastCheck | undefined {
  const inner = checksOf(def).length === 0 ? compile(def.innerType) : undefined;
  return inner && make(inner);
}

function compileString(def: Def): FastCheck | undefined {
  if (def.coerce) return undefined;
  let min = 0;
  const refinements: Array<(value: unknown) => unknown> = [];
  for (const check of checksOf(def)) {
    if (isRefinement(check)) refinements.push(check.fn!);
    else if (check.check === "min_length" && typeof check.minimum === "number") min = Math.max(min, check.minimum);
    else return undefined;
  }
  return (v) => typeof v === "string" && v.length >= min && passesAll(refinements, v);
}

/** A plain `refine(fn)`: no condition on when it runs. */
const isRefinement = (check: CheckDef) => check.check === "custom" && typeof check.fn === "function" && check.when === undefined;

/** Whether every refinement says a plain `true` (anything else is left to zod). */
function passesAll(refinements: Array<(value: unknown) => unknown>, value: unknown): boolean {
  for (const fn of refinements) if (fn(value) !== true) return false;
  return true;
}

function compileNumber(def: Def): FastCheck | undefined {
  if (def.coerce || (def.format !== undefined && def.format !== "safeint")) return undefined;
  let int = def.format === "safeint";
  let [min, minInclusive, max, maxInclusive] = [-Infinity, true, Infinity, true];
  for (const { check, value, inclusive, format } of checksOf(def)) {
    // `z.number().int()` says safeint as a check, where `z.int()` says it in the type.
    if (check === "number_format" && format === "safeint") {
      int = true;
      continue;
    }
    if (typeof value !== "number") return undefined;
    // Several bounds of one side: the tightest holds all of them.
    if (check === "greater_than" && (value > min || (value === min && !inclusive))) [min, minInclusive] = [value, inclusive === true];
    else if (check === "less_than" && (value < max || (value === max && !inclusive))) [max, maxInclusive] = [value, inclusive === true];
    else if (check !== "greater_than" && check !== "less_than") return undefined;
  }
  return (v) =>
    typeof v === "number" && Number.isFinite(v) && (!int || Number.isSafeInteger(v)) && (minInclusive ? v >= min : v > min) && (maxInclusive ? v <= max : v < max);
}

function compileEnum(def: Def): FastCheck | undefined {
  const values = Object.values(def.entries as Record<string, unknown>);
  if (!values.every((v) => typeof v === "string")) return undefined;
  const known = new Set(values);
  return plain(def, (v) => known.has(v as string));
}

/** Anything there; refinements (plain `refine(fn)`) must hold. A missing value is left to zod. */
function compileUnknown(def: Def): FastCheck | undefined {
  const refinements: Array<(value: unknown) => unknown> = [];
  for (const check of checksOf(def)) {
    if (!isRefinement(check)) return undefined;
    refinements.push(check.fn!);
  }
  return (v) => v !== undefined && passesAll(refinements, v);
}

function compileArray(def: Def): FastCheck | undefined {
  const element = checksOf(def).length === 0 ? compile(def.element) : undefined;
  if (!element) return undefined;
  return (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
    return true;
  };
}

/** A record with plain string keys. */
function compileRecord(def: Def): FastCheck | undefined {
  const key = defOf(def.keyType);
  if (key.type !== "string" || checksOf(key).length > 0 || checksOf(def).length > 0) return undefined;
  const value = compile(def.valueType);
  if (!value) return undefined;
  return (v) => {
    if (!isPlain(v)) return false;
    for (const k in v) if (!value(v[k])) return false;
    return true;
  };
}

/** Every shape key checked; an unknown key is kept only by a loose object (else zod strips or refuses it). */
function compileObject(def: Def): FastCheck | undefined {
  if (checksOf(def).length > 0) return undefined;
  const shape = def.shape as Record<string, unknown>;
  const keys = Object.keys(shape);
  const fields: FastCheck[] = [];
  for (const key of keys) {
    const field = compile(shape[key]);
    if (!field) return undefined;
    fields.push(field);
  }
  const catchall = def.catchall === undefined ? undefined : defOf(def.catchall);
  const loose = catchall?.type === "unknown" && checksOf(catchall).length === 0;
  if (catchall && !loose && catchall.type !== "never") return undefined;
  const known = new Set(keys);
  return (v) => {
    if (!isObject(v)) return false;
    for (let i = 0; i < keys.length; i++) if (!fields[i]!(v[keys[i]!])) return false;
    if (!loose) for (const k in v) if (!known.has(k)) return false;
    return true;
  };
}

/**
 * What surely fails an option of a union, whatever its checks: a value of another JavaScript type
 * than the option's string, number, boolean or object. Undefined when the option could take it.
 */
function surelyRejects(option: unknown): FastCheck | undefined {
  switch (defOf(option).type) {
    case "string":
      return (v) => typeof v !== "string";
    case "number":
      return (v) => typeof v !== "number";
    case "boolean":
      return (v) => typeof v !== "boolean";
    case "object":
      return (v) => !isObject(v);
    default:
      return undefined;
  }
}

/**
 * zod takes the first option that accepts a value, so an option's check may pass the value only
 * when every option before it surely refuses it (else an earlier option could change it).
 */
function compileUnion(def: Def): FastCheck | undefined {
  if (checksOf(def).length > 0 || def.inclusive === false || def.discriminator !== undefined) return undefined;
  const options = def.options as unknown[];
  const checks: FastCheck[] = [];
  const refusals: Array<FastCheck | undefined> = [];
  for (const option of options) {
    const check = compile(option);
    if (!check) return undefined;
    checks.push(check);
    refusals.push(surelyRejects(option));
  }
  return (v) => {
    for (let i = 0; i < checks.length; i++) {
      if (checks[i]!(v)) return true;
      if (!refusals[i]?.(v)) return false;
    }
    return false;
  };
}

/**
 * A schema piped into a transform (`.transform(fn)`): the value passes when it passes the schema
 * and the transform gives it back unchanged (the same object, or one with the same keys and
 * values), so zod's output would equal it. The transform is run on the value: it must be pure,
 * as every transform in our schemas is. One that reports an issue is not passed.
 */
function compilePipe(def: Def): FastCheck | undefined {
  const input = checksOf(def).length === 0 ? compile(def.in) : undefined;
  const out = defOf(def.out);
  if (!input || out.type !== "transform" || checksOf(out).length > 0 || typeof out.transform !== "function") return undefined;
  const transform = out.transform as (value: unknown, payload: { value: unknown; issues: unknown[]; addIssue(issue: unknown): void }) => unknown;
  return (v) => {
    if (!input(v)) return false;
    // What zod hands a transform: the payload, with `addIssue` (as `ctx`).
    const payload = { value: v, issues: [] as unknown[], addIssue: (issue: unknown) => void payload.issues.push(issue) };
    try {
      return sameValue(v, transform(v, payload)) && payload.issues.length === 0;
    } catch {
      return false;
    }
  };
}

/** The same value, or a plain object with exactly the same keys holding identical values. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isPlain(a) || !isPlain(b)) return false;
  const keys = Object.keys(b);
  if (keys.length !== Object.keys(a).length) return false;
  for (const key of keys) if (!Object.hasOwn(a, key) || a[key] !== b[key]) return false;
  return true;
}
