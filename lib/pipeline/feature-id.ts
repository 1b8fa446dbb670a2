import { hasher } from "../hash.ts";

/** The RFC 4122 URL namespace (6ba7b811-9dad-11d1-80b4-00c04fd430c8), as bytes. */
const urlNamespace = Buffer.from("6ba7b8119dad11d180b400c04fd430c8", "hex");

/** RFC 4648 base32 (not Crockford's): the alphabet Python's `base64.b32encode` uses. */
const base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The namespace, then the name: one buffer for every feature code, so a code allocates nothing. */
const scratch = Buffer.alloc(4096);
urlNamespace.copy(scratch);
const digest = Buffer.alloc(20);

/**
 * The 16 bytes of the UUIDv5 of `name` in the URL namespace. A UUIDv5 is one SHA-1 with the
 * version and variant bits set, so this is written here rather than taken from a dependency.
 * The bytes are in a buffer the next call reuses (a run makes one per feature: tens of thousands).
 */
function uuid5Scratch(name: string): Buffer {
  if (16 + name.length * 3 <= scratch.length) {
    Bun.SHA1.hash(scratch.subarray(0, 16 + scratch.write(name, 16)), digest);
  } else {
    hasher("sha1").update(urlNamespace).update(name).digest().copy(digest);
  }
  digest[6] = (digest[6]! & 0x0f) | 0x50;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  return digest;
}

/** The first `length` characters of the RFC 4648 base32 encoding of `bytes`. */
function base32Prefix(bytes: Buffer, length: number): string {
  let out = "";
  for (let bit = 0; out.length < length; bit += 5) {
    const byte = bit >> 3;
    const window = ((bytes[byte] ?? 0) << 8) | (bytes[byte + 1] ?? 0);
    out += base32Alphabet[(window >> (11 - (bit & 7))) & 31];
  }
  return out;
}

/**
 * The Python tool's feature id: the first six characters of the base32 UUIDv5 (URL namespace) of
 * `"<name>|<role_id>|<plateau_name>"`, with all three exactly as written. A salt (only ever used
 * after a collision) is appended as `|<salt>`.
 */
export function featureCode(plateau: string, role: string, name: string, salt = 0): string {
  return base32Prefix(uuid5Scratch(`${name}|${role}|${plateau}${salt ? `|${salt}` : ""}`), 6);
}

/**
 * Gives each feature a code not in `taken`. Only a collision changes a code: colliding features
 * are salted in a fixed order, so the same features always get the same codes.
 */
export function assignCode(plateau: string, role: string, name: string, taken: Set<string>): string {
  for (let salt = 0; ; salt++) {
    const code = featureCode(plateau, role, name, salt);
    if (!taken.has(code)) {
      taken.add(code);
      return code;
    }
  }
}
