import { createHash } from "node:crypto";

// Crockford's base32: no I, L, O or U, so codes read aloud without confusion.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

const normalise = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

/** A six-character code from the plateau, role and feature name (and a salt on collision). */
export function featureCode(plateau: string, role: string, name: string, salt = 0): string {
  const digest = createHash("sha256").update(`${normalise(plateau)}|${normalise(role)}|${normalise(name)}${salt ? `|${salt}` : ""}`).digest();
  let code = "";
  for (let i = 0; i < 6; i++) code += alphabet[digest[i]! % 32];
  return code;
}

/**
 * Gives each feature a code not in `taken`. Colliding features are salted in a fixed order,
 * so the same features always get the same codes.
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
