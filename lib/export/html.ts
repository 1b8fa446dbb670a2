import { roleOf, type ServiceEvolution } from "../schema/evolution.ts";
import { escapeXml, groupedBars, heatmap, horizontalBars } from "./charts.ts";
import { rolesIn, type Table } from "./views.ts";

const style = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#666}.charts{display:flex;flex-wrap:wrap;gap:2rem}.chart{overflow-x:auto}
svg .title{font-weight:600;font-size:14px}svg .axis{font-size:11px;fill:#444}svg .value{font-size:11px}svg .grid{stroke:#e5e5e5}
table{border-collapse:collapse;width:100%;font-size:12px;margin:.5rem 0 1.5rem}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f5f7fa;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}.wrap{max-height:480px;overflow:auto}
`;

function tableHtml(t: Table): string {
  const head = t.columns.map((c) => `<th>${escapeXml(c.header)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${t.columns.map((c) => `<td>${escapeXml(r[c.key])}</td>`).join("")}</tr>`).join("\n");
  return `<div class="wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}


/** One self-contained page: inline CSS and SVG, no scripts, no remote assets. */
export function toHtml(evolutions: ServiceEvolution[], tables: Table[], title = "Service evolutions"): string {
  const plateaus: string[] = [];
  for (const e of evolutions) for (const p of [...e.plateaus].sort((a, b) => a.plateau - b.plateau)) if (!plateaus.includes(p.plateau_name)) plateaus.push(p.plateau_name);
  const services = evolutions.map((e) => `${e.service.name} (${e.service.service_id})`);
  const avg = (i: number, j: number) => {
    const p = evolutions[i]!.plateaus.find((x) => x.plateau_name === plateaus[j]);
    if (!p || p.features.length === 0) return undefined;
    return p.features.reduce((s, f) => s + f.score.level, 0) / p.features.length;
  };

  const roles = rolesIn(evolutions);
  const count = (j: number, r: number) => evolutions.reduce((n, e) => n + (e.plateaus.find((p) => p.plateau_name === plateaus[j])?.features.filter((f) => roleOf(f) === roles[r]).length ?? 0), 0);

  const usage = new Map<string, { label: string; value: number; group: string }>();
  const sets: string[] = [];
  for (const e of evolutions) {
    for (const p of e.plateaus) {
      for (const [set, items] of Object.entries(p.mappings)) {
        if (!sets.includes(set)) sets.push(set);
        for (const item of items) {
          const key = `${set}:${item.id}`;
          const u = usage.get(key) ?? { label: item.name || item.id, value: 0, group: set };
          u.value += item.mappings.length;
          usage.set(key, u);
        }
      }
    }
  }
  const top = [...usage.values()].sort((a, b) => b.value - a.value || (a.label < b.label ? -1 : 1)).slice(0, 15);

  const charts = [
    `<div class="chart" id="heatmap">${heatmap(services, plateaus, avg, "Maturity heatmap: average CMMI level by service and plateau")}</div>`,
    `<div class="chart" id="roles">${groupedBars(plateaus, roles, count, "Features per role per plateau")}</div>`,
    top.length ? `<div class="chart" id="items">${horizontalBars(top, sets, "Most-used catalogue items (features mapped)")}</div>` : `<p>No catalogue mappings.</p>`,
  ];
  const featureCount = evolutions.reduce((n, e) => n + e.plateaus.reduce((m, p) => m + p.features.length, 0), 0);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${style}</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p class="meta">${evolutions.length} services · ${plateaus.length} plateaus · ${featureCount} features · ${sets.length} catalogues</p>
<h2>Charts</h2>
<div class="charts">
${charts.join("\n")}
</div>
${tables.map((t) => `<h2>${escapeXml(t.name[0]!.toUpperCase() + t.name.slice(1))}</h2>\n${tableHtml(t)}`).join("\n")}
</body>
</html>
`;
}
