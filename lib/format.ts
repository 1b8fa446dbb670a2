/** Numbers as people read them in terminals and reports: thousands separators, sizes in KiB/MiB. */
const thousands = new Intl.NumberFormat("en-AU");

export const formatCount = (n: number) => thousands.format(n);

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${formatCount(n)} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** At most `n` characters, the last an ellipsis when cut: cut between code points, so an emoji is never split into a lone surrogate. */
export function clipText(text: string, n: number): string {
  const chars = Array.from(text);
  return chars.length > n ? `${chars.slice(0, n - 1).join("")}…` : text;
}
