import { describe, expect, test } from "bun:test";
import { createReadStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileLines } from "../lib/jsonl.ts";
import { tempDir } from "./helpers.ts";

const CHUNK = 64 * 1024;

async function both(text: string | Uint8Array): Promise<{ ours: string[]; readline: string[] }> {
  const { dir, cleanup } = tempDir("sa-lines-");
  try {
    const path = join(dir, "in.txt");
    writeFileSync(path, text);
    const ours: string[] = [];
    for await (const line of fileLines(path)) ours.push(line);
    const readline: string[] = [];
    for await (const line of createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Number.POSITIVE_INFINITY })) readline.push(line);
    return { ours, readline };
  } finally {
    cleanup();
  }
}

/** Text whose `at`-th UTF-16 unit from the start lands on the first chunk's last byte (ASCII padding). */
const padTo = (bytes: number) => "x".repeat(bytes);

describe("fileLines reads a file's lines as node:readline does", () => {
  test.each([
    ["plain lines", "a\nb\nc\n"],
    ["no newline at the end", "a\nb"],
    ["blank lines", "\n\na\n\n\nb\n\n"],
    ["CRLF", "a\r\nb\r\n\r\nc"],
    ["a lone CR ends a line", "a\rb\r\rc\r"],
    ["CR then CRLF", "a\r\r\nb"],
    ["a byte-order mark is kept (readRecords drops it)", "\uFEFF{\"a\":1}\n"],
    ["an empty file", ""],
    ["only a newline", "\n"],
    ["multi-byte text", "héllo wörld ✓ 😀\nñ\n"],
    ["a CRLF across the chunk boundary", `${padTo(CHUNK - 1)}\r\nnext\n`],
    ["a CR at the chunk boundary, then text", `${padTo(CHUNK - 1)}\rnext\n`],
    ["a CR as the last byte of a chunk-sized file", `${padTo(CHUNK - 1)}\r`],
    ["a character of four bytes across the chunk boundary", `${padTo(CHUNK - 2)}😀\nnext`],
    ["a line longer than several chunks", `${"y".repeat(CHUNK * 3 + 17)}\nz\n`],
    ["many lines over many chunks", Array.from({ length: 20_000 }, (_, i) => `{"i":${i},"s":"${"é".repeat(i % 7)}"}`).join("\n")],
  ])("%s", async (_name, text) => {
    const { ours, readline } = await both(text);
    expect(ours).toEqual(readline);
  });

  test("bytes that are not UTF-8 become replacement characters, as with a stream", async () => {
    const { ours, readline } = await both(new Uint8Array([0x61, 0xff, 0x0a, 0xc3, 0x0a]));
    expect(ours).toEqual(readline);
    expect(ours[0]).toBe("a\uFFFD");
  });
});
