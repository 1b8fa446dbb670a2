import type { Node } from "jsonc-parser";

/**
 * The 1-based line of the value at `path` in a JSON text (or of the nearest parent that exists),
 * so an error in a data file can name its line as well as its field.
 */
export async function lineOf(text: string, path: PropertyKey[]): Promise<number | undefined> {
  // Loaded only to explain a bad file.
  const { findNodeAtLocation, parseTree } = await import("jsonc-parser");
  const tree = parseTree(text);
  if (!tree) return undefined;
  let node: Node | undefined;
  for (let depth = path.length; depth >= 0 && !node; depth--) {
    node = findNodeAtLocation(tree, path.slice(0, depth).map((p) => (typeof p === "number" ? p : String(p))));
  }
  return node ? text.slice(0, node.offset).split("\n").length : undefined;
}
