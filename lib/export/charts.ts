/** Inline SVG charts: no script, no remote asset; they scale to the page and print. */

export const escapeXml = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const levelNames = ["Initial", "Managed", "Defined", "Quantitatively Managed", "Optimizing"];
/** Level 1 (pale) to 5 (deep), one blue scale, as in the workbook. */
export const levelColours = ["#dbe9f6", "#9ecae1", "#5a9fd0", "#2b6fb0", "#0b3d78"];
const palette = ["#e15759", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#4e79a7", "#bab0ac", "#8cd17d", "#d37295"];

const short = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const svg = (title: string, width: number, height: number, body: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${body.join("")}</svg>`;
/** A label, cut to `max` characters with the full text on hover. */
const text = (x: number, y: number, content: string, attrs = "", max = 200) =>
  `<text x="${x}" y="${y}" ${attrs}>${escapeXml(short(content, max))}${content.length > max ? `<title>${escapeXml(content)}</title>` : ""}</text>`;
const legend = (x: number, y: number, entries: Array<[string, string]>) =>
  entries.map(([label, colour], i) => `<rect x="${x}" y="${y + i * 18}" width="12" height="12" fill="${colour}"/>${text(x + 18, y + i * 18 + 11, label, 'class="axis"', 30)}`).join("");

/** Share of features at each level, one stacked bar per plateau: does maturity rise? */
export function levelDistribution(plateaus: string[], counts: (plateau: string) => number[]): string {
  const left = 56, top = 16, plotW = Math.max(300, plateaus.length * 120), plotH = 220;
  const width = left + plotW + 210, height = top + plotH + 64;
  const body: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const y = top + plotH - (plotH * k) / 4;
    body.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" class="grid"/>${text(left - 6, y + 4, `${k * 25}%`, 'text-anchor="end" class="axis"')}`);
  }
  const step = plotW / Math.max(1, plateaus.length);
  plateaus.forEach((p, i) => {
    const c = counts(p);
    const total = c.reduce((a, b) => a + b, 0) || 1;
    let y = top + plotH;
    c.forEach((n, level) => {
      const h = (plotH * n) / total;
      y -= h;
      const tip = `${p} · level ${level + 1} (${levelNames[level]}): ${n} features, ${Math.round((100 * n) / total)}%`;
      if (n) body.push(`<rect x="${left + i * step + step * 0.2}" y="${y}" width="${step * 0.6}" height="${h}" fill="${levelColours[level]}"><title>${escapeXml(tip)}</title></rect>`);
    });
    body.push(text(left + i * step + step / 2, top + plotH + 16, p, 'text-anchor="middle" class="axis"', 16));
  });
  body.push(text(left + plotW / 2, height - 14, "Plateau", 'text-anchor="middle" class="axis-title"'));
  body.push(text(14, top + plotH / 2, "Share of features", `transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" class="axis-title"`));
  body.push(legend(left + plotW + 20, top, levelNames.map((n, i) => [`${i + 1} ${n}`, levelColours[i]!] as [string, string]).reverse()));
  return svg("Share of features at each maturity level, by plateau", width, height, body);
}

export interface Line {
  label: string;
  values: Array<number | undefined>;
  mean?: boolean;
}

/** Average level per plateau, one line per service, and the mean of every service in bold. */
export function trajectories(plateaus: string[], lines: Line[]): string {
  const left = 56, top = 16, plotW = Math.max(300, plateaus.length * 120), plotH = 220;
  const width = left + plotW + 230, height = top + plotH + 64;
  const x = (i: number) => left + (plotW * (i + 0.5)) / Math.max(1, plateaus.length);
  const y = (v: number) => top + plotH - (plotH * (v - 1)) / 4;
  const body: string[] = [];
  for (let level = 1; level <= 5; level++) body.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(level)}" y2="${y(level)}" class="grid"/>${text(left - 6, y(level) + 4, String(level), 'text-anchor="end" class="axis"')}`);
  plateaus.forEach((p, i) => body.push(text(x(i), top + plotH + 16, p, 'text-anchor="middle" class="axis"', 16)));
  lines.forEach((line, n) => {
    const colour = line.mean ? "#111" : palette[n % palette.length]!;
    const points = line.values.flatMap((v, i) => (v === undefined ? [] : [[x(i), y(v), v, i] as const]));
    const path = points.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
    body.push(`<g><title>${escapeXml(line.label)}</title><path d="${path}" fill="none" stroke="${colour}" stroke-width="${line.mean ? 3.5 : 1.5}"${line.mean ? "" : ' opacity="0.8"'}/>`);
    for (const [px, py, v, i] of points) body.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="${line.mean ? 4 : 2.5}" fill="${colour}"><title>${escapeXml(`${line.label} · ${plateaus[i]}: ${v.toFixed(2)}`)}</title></circle>`);
    body.push("</g>");
  });
  body.push(text(left + plotW / 2, height - 14, "Plateau", 'text-anchor="middle" class="axis-title"'));
  body.push(text(14, top + plotH / 2, "Average level", `transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" class="axis-title"`));
  body.push(legend(left + plotW + 20, top, lines.map((l, n) => [l.label, l.mean ? "#111" : palette[n % palette.length]!] as [string, string])));
  return svg("Average maturity level per plateau, by service", width, height + Math.max(0, lines.length * 18 - plotH), body);
}

export interface Coverage {
  label: string;
  used: number;
  unused: number;
  /** Names of the items never used, shown on hover. */
  unusedNames: string[];
}

/** Items of each catalogue that some feature uses, and those no feature uses. */
export function coverage(catalogues: Coverage[]): string {
  const left = 150, top = 16, plotW = 360;
  const width = left + plotW + 170, height = top + catalogues.length * 34 + 50;
  const max = Math.max(1, ...catalogues.map((c) => c.used + c.unused));
  const body: string[] = [];
  catalogues.forEach((c, i) => {
    const yy = top + i * 34;
    const wUsed = (plotW * c.used) / max, wUnused = (plotW * c.unused) / max;
    body.push(text(left - 8, yy + 17, c.label, 'text-anchor="end" class="axis"', 22));
    body.push(`<rect x="${left}" y="${yy}" width="${wUsed}" height="24" fill="#2b6fb0"><title>${escapeXml(`${c.label}: ${c.used} items used`)}</title></rect>`);
    const names = c.unusedNames.length ? `: ${c.unusedNames.join(", ")}` : "";
    body.push(`<rect x="${left + wUsed}" y="${yy}" width="${wUnused}" height="24" fill="#d9d9d9"><title>${escapeXml(`${c.label}: ${c.unused} items never used${names}`)}</title></rect>`);
    body.push(text(left + wUsed + wUnused + 6, yy + 17, `${c.used} / ${c.used + c.unused}`, 'class="value"'));
  });
  body.push(text(left + plotW / 2, height - 10, "Catalogue items", 'text-anchor="middle" class="axis-title"'));
  body.push(legend(left + plotW + 60, top, [["used", "#2b6fb0"], ["never used", "#d9d9d9"]]));
  return svg("Catalogue coverage: items used and never used", width, height, body);
}
