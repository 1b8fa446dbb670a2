import { expect, test } from "bun:test";
import { Glob } from "bun";
import { functionSpans } from "./support/function-length.ts";
import { root } from "./helpers.ts";

const MAX_LINES = 60;


test(`no function in lib/, providers/ or scripts/ is over ${MAX_LINES} lines`, async () => {
  const files = [...new Glob("{lib,providers,scripts}/**/*.ts").scanSync({ cwd: root })].sort();
  const spans = await functionSpans(root, files);
  // The scan sees real functions (it would pass vacuously if it saw none).
  expect(spans.length).toBeGreaterThan(200);
  expect(spans).toContainEqual(expect.objectContaining({ file: "lib/ledger.ts", name: "readLedger" }));
  const long = spans
    .filter((s) => s.lines > MAX_LINES)
    .map((s) => `${s.file}:${s.line} ${s.name} (${s.lines} lines)`);
  expect(long).toEqual([]);
}, 30_000);

test("the length measure counts a function from its first line to its closing brace", async () => {
  const spans = await functionSpans(root, ["test/support/function-length.ts"]);
  const found = spans.find((s) => s.name === "spansOf")!;
  expect(found.lines).toBe(13);
});
