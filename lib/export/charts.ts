/**
 * Inline SVG charts: no script, no remote asset; they scale to the page and print. Each returns
 * its legend apart, so the page shows it as text that stays legible on a phone.
 */
import { clipText } from "../format.ts";

export const escapeXml = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const levelNames = ["Initial", "Managed", "Defined", "Quantitatively Managed", "Optimizing"];
/** Level 1 (pale) to 5 (deep), one blue scale, as in the workbook. */
const levelColours = ["#dbe9f6", "#9ecae1", "#5a9fd0", "#2b6fb0", "#0b3d78"];
const palette = ["#e15759", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#4e79a7", "#bab0ac", "#8cd17d", "#d37295"];

export interface LegendEntry {
  label: string;
  colour: string;
}
export interface Chart {
  svg: string;
  legend: LegendEntry[];
}

const svg = (title: string, width: number, height: number, body: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${body.join("")}</svg>`;
/** A label, cut to `max` characters with the full text on hover. */
const text = (x: number, y: number, content: string, attrs = "", max = 200) => {
  const shown = clipText(content, max);
  return `<text x="${x}" y="${y}" ${attrs}>${escapeXml(shown)}${shown !== content ? `<title>${escapeXml(content)}</title>` : ""}</text>`;
};
const axisTitles = (left: number, top: number, plotW: number, plotH: number, x: string, y: string) => [
  text(left + plotW / 2, top + plotH + 38, x, 'text-anchor="middle" class="axis-title"'),
  text(14, top + plotH / 2, y, `transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle" class="axis-title"`),
];

const frame = { left: 56, top: 12, plotH: 220, step: 90 };

/** Share of features at each level, one stacked bar per plateau: does maturity rise? */
export function levelDistribution(plateaus: string[], counts: (plateau: string) => number[]): Chart {
  const { left, top, plotH, step } = frame;
  const plotW = Math.max(270, plateaus.length * step);
  const body: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const y = top + plotH - (plotH * k) / 4;
    body.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" class="grid"/>${text(left - 6, y + 4, `${k * 25}%`, 'text-anchor="end" class="axis"')}`);
  }
  const slot = plotW / Math.max(1, plateaus.length);
  plateaus.forEach((p, i) => {
    const c = counts(p);
    const total = c.reduce((a, b) => a + b, 0) || 1;
    let y = top + plotH;
    c.forEach((n, level) => {
      const h = (plotH * n) / total;
      y -= h;
      const tip = `${p} · level ${level + 1} (${levelNames[level]}): ${n} features, ${Math.round((100 * n) / total)}%`;
      if (n) body.push(`<rect x="${left + i * slot + slot * 0.18}" y="${y}" width="${slot * 0.64}" height="${h}" fill="${levelColours[level]}"><title>${escapeXml(tip)}</title></rect>`);
    });
    body.push(text(left + i * slot + slot / 2, top + plotH + 16, p, 'text-anchor="middle" class="axis"', 13));
  });
  body.push(...axisTitles(left, top, plotW, plotH, "Plateau", "Share of features"));
  const legend = levelNames.map((n, i) => ({ label: `${i + 1} ${n}`, colour: levelColours[i]! }));
  return { svg: svg("Share of features at each maturity level, by plateau", left + plotW + 12, top + plotH + 48, body), legend };
}

export interface Line {
  label: string;
  values: Array<number | undefined>;
  mean?: boolean;
}

/** Average level per plateau, one line per service, and the mean of every service in bold. */
export function trajectories(plateaus: string[], lines: Line[]): Chart {
  const { left, top, plotH, step } = frame;
  const plotW = Math.max(270, plateaus.length * step);
  const x = (i: number) => left + (plotW * (i + 0.5)) / Math.max(1, plateaus.length);
  const y = (v: number) => top + plotH - (plotH * (v - 1)) / 4;
  const colour = (line: Line, n: number) => (line.mean ? "#111" : palette[n % palette.length]!);
  const body: string[] = [];
  for (let level = 1; level <= 5; level++) body.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(level)}" y2="${y(level)}" class="grid"/>${text(left - 6, y(level) + 4, String(level), 'text-anchor="end" class="axis"')}`);
  plateaus.forEach((p, i) => body.push(text(x(i), top + plotH + 16, p, 'text-anchor="middle" class="axis"', 13)));
  lines.forEach((line, n) => {
    const points = line.values.flatMap((v, i) => (v === undefined ? [] : [[x(i), y(v), v, i] as const]));
    const path = points.map(([px, py], k) => `${k ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
    body.push(`<g><title>${escapeXml(line.label)}</title><path d="${path}" fill="none" stroke="${colour(line, n)}" stroke-width="${line.mean ? 3.5 : 1.5}"${line.mean ? "" : ' opacity="0.8"'}/>`);
    for (const [px, py, v, i] of points) body.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="${line.mean ? 4 : 2.5}" fill="${colour(line, n)}"><title>${escapeXml(`${line.label} · ${plateaus[i]}: ${v.toFixed(2)}`)}</title></circle>`);
    body.push("</g>");
  });
  body.push(...axisTitles(left, top, plotW, plotH, "Plateau", "Average level"));
  const legend = lines.map((l, n) => ({ label: l.label, colour: colour(l, n) }));
  return { svg: svg("Average maturity level per plateau, by service", left + plotW + 12, top + plotH + 48, body), legend };
}

export interface Coverage {
  label: string;
  used: number;
  unused: number;
  /** Names of the items never used, shown on hover. */
  unusedNames: string[];
}

/** Items of each catalogue that some feature uses, and those no feature uses. */
export function coverage(catalogues: Coverage[]): Chart {
  const left = 120, top = 8, plotW = 300;
  const height = top + catalogues.length * 34 + 40;
  const max = Math.max(1, ...catalogues.map((c) => c.used + c.unused));
  const body: string[] = [];
  catalogues.forEach((c, i) => {
    const yy = top + i * 34;
    const wUsed = (plotW * c.used) / max, wUnused = (plotW * c.unused) / max;
    body.push(text(left - 8, yy + 17, c.label, 'text-anchor="end" class="axis"', 16));
    body.push(`<rect x="${left}" y="${yy}" width="${wUsed}" height="24" fill="#2b6fb0"><title>${escapeXml(`${c.label}: ${c.used} items used`)}</title></rect>`);
    const names = c.unusedNames.length ? `: ${c.unusedNames.join(", ")}` : "";
    body.push(`<rect x="${left + wUsed}" y="${yy}" width="${wUnused}" height="24" fill="#d9d9d9"><title>${escapeXml(`${c.label}: ${c.unused} items never used${names}`)}</title></rect>`);
    body.push(text(left + wUsed + wUnused + 6, yy + 17, `${c.used} / ${c.used + c.unused}`, 'class="value"'));
  });
  body.push(text(left + plotW / 2, height - 8, "Catalogue items", 'text-anchor="middle" class="axis-title"'));
  const legend = [{ label: "used", colour: "#2b6fb0" }, { label: "never used", colour: "#d9d9d9" }];
  return { svg: svg("Catalogue coverage: items used and never used", left + plotW + 70, height, body), legend };
}

/** The legend as a list; each swatch is a tiny SVG so it prints without background colours. */
export const legendHtml = (entries: LegendEntry[]) =>
  `<ul class="legend">${entries.map((e) => `<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="${e.colour}"/></svg>${escapeXml(e.label)}</li>`).join("")}</ul>`;
