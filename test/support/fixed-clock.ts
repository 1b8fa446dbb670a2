// Preloaded into a CLI run (`bun --preload`) whose output must repeat byte for byte: the wall
// clock and random bytes (run ids, temp names) are pinned; nothing else changes.
const fixed = Date.parse("2026-01-02T03:04:05.000Z");
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args: unknown[]) {
    super(...((args.length ? args : [fixed]) as [number]));
  }
  static override now() {
    return fixed;
  }
} as DateConstructor;
let next = 0;
crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
  const bytes = new Uint8Array(array!.buffer, array!.byteOffset, array!.byteLength);
  for (let i = 0; i < bytes.length; i++) bytes[i] = next++ & 0xff;
  return array;
}) as typeof crypto.getRandomValues;
let uuids = 0;
crypto.randomUUID = (() => `${(uuids++).toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`) as typeof crypto.randomUUID;
