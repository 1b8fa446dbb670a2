import { readFile } from "node:fs/promises";

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const lenient = new TextDecoder("utf-8");

/** The text without the byte-order mark a Windows editor puts first (`decodeUtf8` drops it too). */
export const withoutBom = (text: string): string => text.replace(/^\uFEFF/, "");

/** Why a text file cannot be read as UTF-8, at which line (1-based). */
export interface Utf8Problem {
  line: number;
  reason: string;
}

/**
 * A file's bytes as UTF-8 text, a byte-order mark (a Windows editor's) dropped. Bytes that are not
 * UTF-8 (a Latin-1 or UTF-16 export) come back as a problem: read leniently they would reach the
 * model as replacement marks.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string } | Utf8Problem {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) return { line: 1, reason: "UTF-16 text; save the file as UTF-8" };
  try {
    return { text: strict.decode(bytes) };
  } catch {
    const text = lenient.decode(bytes);
    const at = text.indexOf("\uFFFD");
    const before = text.slice(0, at).split("\n");
    return { line: before.length, reason: `not UTF-8 text (column ${before.at(-1)!.length + 1}); save the file as UTF-8` };
  }
}

/** Reads a text file as UTF-8 (see `decodeUtf8`); `refuse` turns a problem into the caller's error. */
export async function readUtf8File(file: string, refuse: (problem: Utf8Problem) => Error): Promise<string> {
  const decoded = decodeUtf8(await readFile(file));
  if ("text" in decoded) return decoded.text;
  throw refuse(decoded);
}
