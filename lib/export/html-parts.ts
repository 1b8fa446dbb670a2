import { roleOf, type Feature, type PlateauResult, type ServiceEvolution } from "../schema/evolution.ts";
import { checkTitles, type Finding } from "../review/checks.ts";
import { escapeXml as h, levelNames } from "./charts.ts";
import { itemName, plateauOrder, type CatalogueInfo, type Labels } from "./labels.ts";
import { gapsOf } from "../pipeline/gaps.ts";
import { featuresByRole, jobsText, leftEmptyWhy, mappedItems, serviceFacts } from "./narrative.ts";
import { detailText, formatCount, runDetails } from "./run-details.ts";
import type { Summary } from "./summary.ts";
import { cellText, plateausInOrder, type Row, type TableSpec } from "./views.ts";

/** An anchor id for any service id; `_` is escaped too, so distinct ids never collide. */
export const anchor = (prefix: string, id: string) => `${prefix}-${id.replace(/[^A-Za-z0-9-]/g, (c) => `_${c.codePointAt(0)!.toString(16)}_`)}`;

const level = (n: number) => `<span class="level l${n}">${n}</span>`;
const data = (e: ServiceEvolution, p: PlateauResult, f: Feature, items: string) =>
  `data-service="${h(e.service.service_id)}" data-plateau="${h(p.plateau_name)}" data-role="${h(roleOf(f))}" data-level="${f.score.level}" data-items="${h(items)}"`;
const itemsOf = (f: Feature) => Object.entries(f.mappings).flatMap(([catalogue, list]) => list.map((m) => `${catalogue}:${m.item}`)).join(" ");

export function header(summary: Summary, title: string): string {
  const details = runDetails(summary).map(([k, v]) => `<dt>${h(k)}</dt><dd>${h(detailText(v))}</dd>`).join("");
  return `<header><h1>${h(title)}</h1><dl class="run">${details}</dl></header>`;
}

export function toc(summary: Summary, hasChecks: boolean): string {
  const services = summary.services.map((s) => `<li><a href="#${anchor("svc", s.id)}">${h(s.name)}</a> <span class="muted">${h(s.id)}</span></li>`).join("\n");
  const catalogues = [...summary.labels.catalogues.values()].map((c) => `<li><a href="#${anchor("map", c.field)}">${h(c.label)}</a></li>`).join("");
  return `<nav class="toc" aria-label="Contents"><h2 id="contents">Contents</h2>
<p><a href="#charts">Charts</a>${hasChecks ? ' · <a href="#checks">Checks</a>' : ""} · <a href="#services">Services</a> · <a href="#mappings">Mappings</a></p>
<h3>Services</h3><ol>\n${services}\n</ol><h3>Mappings by catalogue</h3><ul>${catalogues}</ul></nav>`;
}

const options = (pairs: Array<[string, string]>) => pairs.map(([v, label]) => `<option value="${h(v)}">${h(label)}</option>`).join("");
/** Beyond this many services the service list would weigh more than it helps; search covers it. */
const SERVICE_SELECT_LIMIT = 2000;

export function filters(summary: Summary): string {
  const { labels } = summary;
  const select = (id: string, label: string, body: string) => `<label>${label}<select id="f-${id}"><option value="">all</option>${body}</select></label>`;
  const services = summary.services.length <= SERVICE_SELECT_LIMIT ? select("service", "Service", options(summary.services.map((s) => [s.id, `${s.name} (${s.id})`]))) : "";
  const items = [...labels.catalogues.values()]
    .map((c) => `<optgroup label="${h(c.label)}">${options([...(summary.usage.get(c.field) ?? new Map()).keys()].sort().map((id) => [`${c.field}:${id}`, itemName(c, id)]))}</optgroup>`)
    .join("");
  return `<form id="filters" class="filters" hidden role="search" onsubmit="return false">
<label>Search<input id="f-q" type="search" placeholder="feature, text, item…" autocomplete="off"></label>
${services}${select("plateau", "Plateau", options(plateauOrder(labels).map((p) => [p, p])))}
${select("role", "Role", options([...labels.roles]))}${select("level", "Level", options(levelNames.map((n, i) => [String(i + 1), `${i + 1} ${n}`])))}
${select("item", "Catalogue item", items)}<button type="button" id="f-reset">Reset</button><span class="count" id="filter-count" aria-live="polite"></span></form>`;
}

function featureRows(labels: Labels, e: ServiceEvolution, p: PlateauResult): string {
  const catalogues = [...labels.catalogues.values()];
  return featuresByRole(labels, p)
    .flatMap((group) =>
      group.features.map((f) => {
        const mapped = catalogues.map((c) => `<td>${h((f.mappings[c.field] ?? []).map((m) => itemName(c, m.item)).join("; "))}</td>`).join("");
        return `<tr ${data(e, p, f, itemsOf(f))}><td>${h(group.name)}</td><td><strong>${h(f.name)}</strong> <span class="muted">${h(f.feature_id)}</span></td><td class="wrap">${h(f.description)}</td><td class="num">${level(f.score.level)}</td><td>${h(f.score.label)}</td><td class="wrap">${h(f.score.justification)}</td>${mapped}</tr>`;
      }),
    )
    .join("\n");
}

/** The narrative's last part: per catalogue, each item and the features mapped to it, with their facets. */
function mappedItemsHtml(labels: Labels, p: PlateauResult): string {
  const byCatalogue = new Map<string, string[]>();
  for (const item of mappedItems(labels, p)) {
    const uses = item.uses.map((u) => `${h(u.feature.name)}${u.facets ? ` <span class="muted">(${h(u.facets)})</span>` : ""}`).join("; ");
    byCatalogue.set(item.catalogue.label, [...(byCatalogue.get(item.catalogue.label) ?? []), `<li><strong>${h(item.name)}</strong>: ${uses}</li>`]);
  }
  if (!byCatalogue.size) return "";
  const lists = [...byCatalogue].map(([label, items]) => `<div><h5>${h(label)}</h5><ul>${items.join("")}</ul></div>`).join("");
  return `<div class="mapped">${lists}</div>`;
}

/** One service: its description, then per plateau the plateau's description and its features by role. */
export const featureHeaders = (labels: Labels) => ["Role", "Feature", "Description", "Level", "Label", "Justification", ...[...labels.catalogues.values()].map((c) => c.label)];

const jobsHtml = (e: ServiceEvolution) => {
  const jobs = jobsText(e);
  return jobs ? `<p class="jobs"><strong>Jobs to be done:</strong> ${h(jobs)}</p>` : "";
};

const factsHtml = (e: ServiceEvolution) => {
  const facts = serviceFacts(e);
  return facts.length ? `<p class="facts">${facts.map(([label, value]) => `<strong>${h(label)}:</strong> ${h(value)}`).join(" · ")}</p>` : "";
};

const leftEmptyHtml = (e: ServiceEvolution) => {
  const gaps = gapsOf(e.meta.models);
  return gaps ? `<p class="incomplete"><strong>Left empty</strong> ${h(leftEmptyWhy)}: ${h(gaps)}</p>` : "";
};

/** The services view's figures for one plateau: how many features, and their average level. */
function plateauFigures(p: PlateauResult): string {
  const n = p.features.length;
  if (!n) return `<span class="muted">no features</span>`;
  const average = p.features.reduce((sum, f) => sum + f.score.level, 0) / n;
  return `<span class="muted">${formatCount(n)} ${n === 1 ? "feature" : "features"}, average level ${average.toFixed(2)}</span>`;
}

export function serviceSection(labels: Labels, e: ServiceEvolution): string {
  const heads = featureHeaders(labels);
  const thead = `<thead><tr>${heads.map((x) => `<th${x === "Level" ? ' class="num"' : ""}>${h(x)}</th>`).join("")}</tr></thead>`;
  const plateaus = plateausInOrder(e).map((p) => `<div class="plateau" data-block>
<h4>${p.plateau}. ${h(p.plateau_name)} ${plateauFigures(p)}</h4><p>${h(p.service_description)}</p>
<div class="scroll"><table class="sortable cards features">${thead}<tbody>\n${featureRows(labels, e, p)}\n</tbody></table></div>${mappedItemsHtml(labels, p)}</div>`);
  return `<section class="service" id="${anchor("svc", e.service.service_id)}" data-block>
<h3>${h(e.service.name)} <span class="muted">${h(e.service.service_id)}</span></h3>${e.service.description ? `<p>${h(e.service.description)}</p>` : ""}${jobsHtml(e)}${factsHtml(e)}${leftEmptyHtml(e)}
${plateaus.join("\n")}
<p class="noprint"><a href="#contents">Back to contents</a></p></section>\n`;
}

export function tableOpen(table: TableSpec, c: CatalogueInfo): string {
  const heads = table.columns.map((col) => `<th${col.kind === "number" ? ' class="num"' : ""}>${h(col.header)}</th>`).join("");
  return `<section id="${anchor("map", c.field)}" data-block><h3>${h(c.label)}</h3>
<div class="scroll"><table class="sortable cards"><thead><tr>${heads}</tr></thead><tbody>\n`;
}

export const tableClose = () => `</tbody></table></div></section>\n`;

/** One mappings row; its data attributes let the filters reach it. */
export function mappingRow(table: TableSpec, row: Row, field: string): string {
  const attrs = `data-service="${h(row.service_id)}" data-plateau="${h(row.plateau_name)}" data-role="${h(row._role)}" data-level="${h(row._level)}" data-items="${h(`${field}:${row.item_id}`)}"`;
  return `<tr ${attrs}>${table.columns.map((c) => `<td${c.kind === "number" ? ' class="num"' : ""}>${h(cellText(row[c.key]))}</td>`).join("")}</tr>\n`;
}

/** Shown in full up to this many findings; the counts always cover every one. */
const FINDINGS_SHOWN = 500;

export function checksSection(findings: Finding[]): string {
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.check, (counts.get(f.check) ?? 0) + 1);
  const summary = [...counts].map(([id, n]) => `<li>${h(checkTitles[id as keyof typeof checkTitles])}: ${n}</li>`).join("");
  const rows = findings.slice(0, FINDINGS_SHOWN).map((f) => `<tr><td class="sev-${f.severity}">${f.severity}</td><td>${h(f.check)}</td><td>${f.serviceId ? `<a href="#${anchor("svc", f.serviceId)}">${h(f.serviceId)}</a>` : ""}</td><td>${h(f.plateau ?? "")}</td><td>${h(f.message)}</td></tr>`);
  const more = findings.length > FINDINGS_SHOWN ? `<p class="muted">The first ${FINDINGS_SHOWN} of ${findings.length} findings are listed; \`check --json\` gives them all.</p>` : "";
  const body = findings.length
    ? `<ul>${summary}</ul><div class="scroll"><table class="sortable"><thead><tr><th>Severity</th><th>Check</th><th>Service</th><th>Plateau</th><th>Finding</th></tr></thead><tbody>${rows.join("\n")}</tbody></table></div>${more}`
    : "<p>Every check passed.</p>";
  return `<section id="checks"><h2>Checks</h2>${body}</section>`;
}
