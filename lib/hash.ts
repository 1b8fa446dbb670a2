/**
 * Hashes through Bun's native hasher. `node:crypto` gives the same digests but takes about 5 ms
 * to load, once per process and before the first hash: on the way to a run's first request.
 */
export type Hasher = InstanceType<typeof Bun.CryptoHasher>;

/** An incremental hasher (`update` as often as needed, then `digest`). */
export const hasher = (algorithm: "sha256" | "sha1"): Hasher => new Bun.CryptoHasher(algorithm);

/**
 * One sha256 hasher for every text hashed here: `digest` leaves a Bun hasher empty and ready again,
 * and the hash is taken in one go, so nothing else can use it in between.
 */
const shared = hasher("sha256");

/** The hex sha256 of a text (UTF-8). */
export const sha256Hex = (text: string): string => shared.update(text).digest("hex");

/** A short random hex tag (temp file names, run ids). */
export function randomHex(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");
}
