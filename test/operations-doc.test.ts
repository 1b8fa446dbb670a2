import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exitCodes } from "../lib/errors.ts";
import { root } from "./helpers.ts";

test("docs/operations.md has a troubleshooting entry for exactly the codes in lib/errors.ts", () => {
  const doc = readFileSync(join(root, "docs", "operations.md"), "utf8");
  const documented = [...doc.matchAll(/^### (E_[A-Z_]+)\s*$/gm)].map((m) => m[1]).sort();
  expect(documented).toEqual(Object.keys(exitCodes).sort());
});
