/** Small inline-SVG charts: no scripts, no remote assets, readable when printed. */

export const escapeXml = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** Level 1 (pale) to 5 (deep) on one blue scale. */
function levelColour(level: number): string {
  const t = Math.max(0, Math.min(1, (level - 1) / 4));
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${mix(235, 8)},${mix(244, 69)},${mix(252, 148)})`;
}

export function heatmap(rows: string[], columns: string[], value: (row: number, col: number) => number | undefined, title: string): string {
  const cell = 96;
  const left = Math.min(260, 12 + Math.max(40, ...rows.map((r) => r.length * 7)));
  const top = 56;
  const width = Math.max(left + columns.length * cell + 20, 12 + title.length * 8);
  const height = top + rows.length * 28 + 50;
  const parts: string[] = [`<text x="12" y="18" class="title">${escapeXml(title)}</text>`];
  columns.forEach((c, j) => parts.push(`<text x="${left + j * cell + cell / 2}" y="${top - 8}" text-anchor="middle" class="axis">${escapeXml(c.length > 14 ? `${c.slice(0, 13)}…` : c)}</text>`));
  // Legend: the colour of each level.
  const legendY = top + rows.length * 28 + 14;
  parts.push(`<text x="${left}" y="${legendY + 11}" text-anchor="end" class="axis">level </text>`);
  for (let level = 1; level <= 5; level++) {
    parts.push(`<rect x="${left + (level - 1) * 34 + 4}" y="${legendY}" width="30" height="14" fill="${levelColour(level)}"/><text x="${left + (level - 1) * 34 + 19}" y="${legendY + 11}" text-anchor="middle" class="value" fill="${level >= 3 ? "#fff" : "#222"}">${level}</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * 28;
    parts.push(`<text x="${left - 8}" y="${y + 18}" text-anchor="end" class="axis">${escapeXml(r.length > 36 ? `${r.slice(0, 35)}…` : r)}</text>`);
    columns.forEach((_c, j) => {
      const v = value(i, j);
      const fill = v === undefined ? "#f3f3f3" : levelColour(v);
      const ink = v !== undefined && v >= 3 ? "#fff" : "#222";
      parts.push(`<rect x="${left + j * cell}" y="${y}" width="${cell - 2}" height="26" fill="${fill}"><title>${escapeXml(`${r} · ${columns[j]}: ${v === undefined ? "no features" : v.toFixed(2)}`)}</title></rect>`);
      if (v !== undefined) parts.push(`<text x="${left + j * cell + cell / 2 - 1}" y="${y + 17}" text-anchor="middle" class="value" fill="${ink}">${v.toFixed(1)}</text>`);
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

export function groupedBars(groups: string[], series: string[], value: (group: number, serie: number) => number, title: string): string {
  const max = Math.max(1, ...groups.flatMap((_g, i) => series.map((_s, j) => value(i, j))));
  const barW = 18;
  const groupW = Math.max(series.length * barW + 24, 100);
  const left = 40;
  const top = 30;
  const plotH = 200;
  const width = left + groups.length * groupW + 160;
  const height = top + plotH + 50;
  const parts: string[] = [`<text x="${left}" y="18" class="title">${escapeXml(title)}</text>`];
  for (let k = 0; k <= 4; k++) {
    const v = Math.round((max * k) / 4);
    const y = top + plotH - (plotH * v) / max;
    parts.push(`<line x1="${left}" x2="${left + groups.length * groupW}" y1="${y}" y2="${y}" class="grid"/><text x="${left - 6}" y="${y + 4}" text-anchor="end" class="axis">${v}</text>`);
  }
  groups.forEach((g, i) => {
    const x0 = left + i * groupW + (groupW - series.length * barW) / 2;
    series.forEach((s, j) => {
      const v = value(i, j);
      const h = (plotH * v) / max;
      parts.push(`<rect x="${x0 + j * barW}" y="${top + plotH - h}" width="${barW - 3}" height="${h}" fill="${palette[j % palette.length]}"><title>${escapeXml(`${g} · ${s}: ${v}`)}</title></rect>`);
    });
    parts.push(`<text x="${x0 + (series.length * barW) / 2}" y="${top + plotH + 16}" text-anchor="middle" class="axis">${escapeXml(g.length > 14 ? `${g.slice(0, 13)}…` : g)}</text>`);
  });
  series.forEach((s, j) => {
    const x = left + groups.length * groupW + 16;
    parts.push(`<rect x="${x}" y="${top + j * 18}" width="12" height="12" fill="${palette[j % palette.length]}"/><text x="${x + 18}" y="${top + j * 18 + 11}" class="axis">${escapeXml(s)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

export function horizontalBars(items: Array<{ label: string; value: number; group: string }>, groups: string[], title: string): string {
  const max = Math.max(1, ...items.map((i) => i.value));
  const left = 240;
  const plotW = 360;
  const width = left + plotW + 60;
  const height = 40 + items.length * 22 + 10;
  const parts: string[] = [`<text x="12" y="18" class="title">${escapeXml(title)}</text>`];
  items.forEach((item, i) => {
    const y = 32 + i * 22;
    const w = (plotW * item.value) / max;
    const colour = palette[Math.max(0, groups.indexOf(item.group)) % palette.length];
    parts.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" class="axis">${escapeXml(item.label.length > 34 ? `${item.label.slice(0, 33)}…` : item.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${w}" height="18" fill="${colour}"><title>${escapeXml(`${item.label} (${item.group}): ${item.value} features`)}</title></rect>`);
    parts.push(`<text x="${left + w + 6}" y="${y + 14}" class="value">${item.value}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}
