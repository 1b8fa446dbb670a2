import type { Node } from "jsonc-parser";
import type { z } from "zod";
import { SAError } from "./errors.ts";
import { formatIssues, issueLocation } from "./zod-error.ts";

// Both parsers load only to explain a bad file (a sync require: callers stay synchronous).
const jsonc = () => require("jsonc-parser") as typeof import("jsonc-parser");
const yaml = () => require("yaml") as typeof import("yaml");

/**
 * The 1-based line of the value at `path` in a JSON text (or of the nearest parent that exists),
 * so an error in a data file can name its line as well as its field.
 */
export function lineOf(text: string, path: PropertyKey[]): number | undefined {
  const { findNodeAtLocation, parseTree } = jsonc();
  const tree = parseTree(text);
  if (!tree) return undefined;
  let node: Node | undefined;
  for (let depth = path.length; depth >= 0 && !node; depth--) {
    node = findNodeAtLocation(tree, path.slice(0, depth).map((p) => (typeof p === "number" ? p : String(p))));
  }
  return node ? text.slice(0, node.offset).split("\n").length : undefined;
}

/** The same for a YAML text: the line of the value at `path`, or of the nearest parent that exists. */
export function yamlLineOf(text: string, path: PropertyKey[]): number | undefined {
  const { LineCounter, parseDocument } = yaml();
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
    if (offset !== undefined) return counter.linePos(offset).line;
  }
  return undefined;
}

/**
 * The 1-based line of the first syntax error in a JSON text that `JSON.parse` refused: Bun's
 * message gives no position, so jsonc-parser (comments and trailing commas refused) finds it.
 */
export function syntaxErrorLine(text: string): number | undefined {
  const errors: import("jsonc-parser").ParseError[] = [];
  jsonc().parse(text, errors, { disallowComments: true, allowTrailingComma: false });
  const offset = errors[0]?.offset;
  return offset === undefined ? undefined : text.slice(0, offset).split("\n").length;
}

/** The 1-based line where each item of a top-level JSON array starts (a JSON array input names its items by line). */
export function arrayItemLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  const item = (startLine: number) => {
    if (depth === 1) lines.push(startLine + 1);
  };
  const open = (_offset: number, _length: number, startLine: number) => {
    item(startLine);
    depth++;
  };
  const close = () => {
    depth--;
  };
  jsonc().visit(text, { onObjectBegin: open, onArrayBegin: open, onObjectEnd: close, onArrayEnd: close, onLiteralValue: (_value, _offset, _length, startLine) => item(startLine) });
  return lines;
}

/**
 * The 1-based line of the key at `path` in a TS or JS config's source (an object literal): each key
 * of the path is looked for after the one before it, as `key:`, `"key":` or `'key':`. A key the
 * source builds another way (a spread, a computed name) is not found: then the nearest parent's line.
 */
export function sourceLineOf(text: string, path: PropertyKey[]): number | undefined {
  let offset = 0;
  let line: number | undefined;
  for (const key of path) {
    if (typeof key !== "string") continue;
    const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const match = new RegExp(`(^|[\\s{,])(["'\`]?)${escaped}\\2\\s*:`, "m").exec(text.slice(offset));
    if (!match) break;
    offset += match.index + match[0].length;
    line = text.slice(0, offset).split("\n").length;
  }
  return line;
}

/**
 * A JSON file's text parsed, or an E_DATA error naming `where` (e.g. `ledger <path>`) and the
 * line of the syntax error.
 */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    const line = syntaxErrorLine(text);
    throw new SAError("E_DATA", `${where}${line ? `:${line}` : ""}: invalid JSON (${(cause as Error).message})`, { cause });
  }
}

/** A zod refusal of a JSON file as one E_DATA line: `where`, the line of the field at fault, the issues. */
export function jsonIssueError(text: string, where: string, error: z.ZodError): SAError {
  const line = lineOf(text, issueLocation(error));
  return new SAError("E_DATA", `${where}${line ? `:${line}` : ""}: ${formatIssues(error)}`);
}
