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
