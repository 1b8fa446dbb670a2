import type { Node } from "jsonc-parser";

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

/** The 1-based line each item of a top-level JSON array starts on, counted from the text's first line. */
export function arrayItemLines(text: string): number[] {
  const tree = jsonc().parseTree(text);
  const lines: number[] = [];
  let line = 1;
  let from = 0;
  for (const item of tree?.type === "array" ? (tree.children ?? []) : []) {
    for (let i = text.indexOf("\n", from); i !== -1 && i < item.offset; i = text.indexOf("\n", i + 1)) line++;
    from = item.offset;
    lines.push(line);
  }
  return lines;
}
