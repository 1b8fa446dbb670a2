import { join } from "node:path";
import { API } from "typescript/unstable/async";
import { SyntaxKind, type Node, type SourceFile } from "typescript/unstable/ast";

/** A function and how many lines it spans, from its first line to its closing brace. */
export interface FunctionSpan {
  file: string;
  name: string;
  line: number;
  lines: number;
}

const functionKinds = new Set([
  SyntaxKind.FunctionDeclaration,
  SyntaxKind.FunctionExpression,
  SyntaxKind.ArrowFunction,
  SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor,
  SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor,
]);

/** The name a reader would search for: the declaration's, else the variable or property it is assigned to. */
function nameOf(node: Node, source: SourceFile): string {
  const own = (node as { name?: Node }).name;
  if (own) return own.getText(source);
  const parentName = (node.parent as { name?: Node } | undefined)?.name;
  const named = node.parent?.kind === SyntaxKind.VariableDeclaration || node.parent?.kind === SyntaxKind.PropertyAssignment;
  return named && parentName ? parentName.getText(source) : "(anonymous)";
}

function spansOf(file: string, source: SourceFile): FunctionSpan[] {
  const spans: FunctionSpan[] = [];
  const visit = (node: Node): void => {
    if (functionKinds.has(node.kind) && (node as { body?: Node }).body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.end).line;
      spans.push({ file, name: nameOf(node, source), line: first + 1, lines: last - first + 1 });
    }
    node.forEachChild(visit);
  };
  source.forEachChild(visit);
  return spans;
}

/**
 * Every function of the given files (paths relative to `root`) with its length in lines, parsed
 * by the TypeScript compiler (typescript 7's API, which runs tsgo in a child process). A nested
 * function counts in its parent too, as a reader has to read it there.
 */
export async function functionSpans(root: string, files: string[]): Promise<FunctionSpan[]> {
  const api = new API({ cwd: root });
  try {
    const snapshot = await api.updateSnapshot({ openProject: join(root, "tsconfig.json") });
    const program = snapshot.getProjects()[0]!.program;
    const spans: FunctionSpan[] = [];
    for (const file of files) {
      const source = await program.getSourceFile(join(root, file));
      if (!source) throw new Error(`${file}: not in the TypeScript project`);
      spans.push(...spansOf(file, source));
    }
    return spans;
  } finally {
    await api.close();
  }
}
