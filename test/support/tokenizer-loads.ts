// Run as its own process, so no other test has loaded the tokenizer yet: 20 concurrent counts,
// then a run with --max-tokens, then prints how many times the table was built.
import { countPromptTokens, countTokens, tokenizerLoads } from "../../lib/tokens.ts";

const counts = await Promise.all(
  Array.from({ length: 20 }, (_, i) => (i % 2 ? countTokens(`text number ${i}`) : countPromptTokens([{ role: "user", content: `prompt ${i}` }]))),
);
process.stdout.write(`${JSON.stringify({ loads: tokenizerLoads(), counts })}\n`);
