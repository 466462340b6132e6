import { formatUsd, groupThousands } from '../core/money.js';
import type { DashboardData, FlowEdgeData, FlowNodeData, PointFigures } from './dashboard.js';
import type { FlowColumn } from './flow.js';

/**
 * The HTML dashboard: one self-contained page (no script runs, nothing is fetched — a
 * Content-Security-Policy of `default-src 'none'` says so to the browser), every chart inline SVG
 * drawn here, every string from the data escaped. The figures drawn are embedded as JSON in
 * `<script type="application/json" id="tokenledger-data">`.
 */

/** Escapes text for HTML content and attribute values (double- or single-quoted). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
const esc = escapeHtml;

/** JSON that can sit inside `<script>`: no `<`, `>` or `&` (so no `</script>`), no line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Coordinates with at most one decimal (smaller pages, stable output). */
const n1 = (x: number) => String(Math.round(x * 10) / 10);

type Costed = Pick<PointFigures, 'costNanoUsd' | 'events' | 'unpricedEvents'> & { estimated: boolean };

/** `~$1.23`, `$0.05 + 2 unpriced`, `unpriced` (as in the terminal report). */
function cost(p: Costed, digits = 2): string {
  if (p.events > 0 && p.unpricedEvents === p.events) return 'unpriced';
  const usd = `${p.estimated ? '~' : ''}${formatUsd(p.costNanoUsd, digits)}`;
  return p.unpricedEvents > 0 ? `${usd} + ${p.unpricedEvents} unpriced` : usd;
}

const figuresCost = (f: DashboardData['totals']) =>
  cost({
    costNanoUsd: f.costNanoUsd,
    events: f.events,
    unpricedEvents: f.unpricedEvents,
    estimated: f.estimatedEvents > 0,
  });

/** Up to `max` characters, with `…` when cut (the full text goes in a tooltip). */
const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** Ten colours that read on white and on near-black; agents keep theirs across charts. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#8cd17d',
];
const OTHER_COLOUR = '#8c8c8c';

function agentColours(d: DashboardData): (agent: string) => string {
  const rank = new Map(d.byAgent.map((a, i) => [a.key, i]));
  return (agent) => {
    const i = rank.get(agent);
    return i === undefined || i >= PALETTE.length ? OTHER_COLOUR : PALETTE[i]!;
  };
}

/** An `<svg>` with an accessible name and description. */
function svg(id: string, w: number, h: number, title: string, desc: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" id="${id}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-labelledby="${id}-title ${id}-desc">` +
    `<title id="${id}-title">${esc(title)}</title><desc id="${id}-desc">${esc(desc)}</desc>${body}</svg>`
  );
}

/** Round axis steps: 1, 2, 2.5, 5 × 10^k nano-dollars, about `count` of them up to `max`. */
function niceTicks(max: number, count = 4): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 0.999; t += step) ticks.push(Math.round(t));
  return ticks;
}

const tickDigits = (step: number) => (step >= 10_000_000 ? 2 : step >= 1_000_000 ? 3 : 4);

// ── sections ────────────────────────────────────────────────────────────────────────────────────

function totalsSection(d: DashboardData): string {
  const t = d.totals;
  const s = d.runsSummary;
  const card = (label: string, value: string, note = '', cls = '') =>
    `<div class="card${cls ? ` ${cls}` : ''}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${note ? `<div class="note">${esc(note)}</div>` : ''}</div>`;
  const cards = [
    card(
      'Cost',
      `${t.estimatedEvents > 0 ? '~' : ''}${formatUsd(t.costNanoUsd)}`,
      [
        t.estimatedEvents > 0 ? '~ = includes estimates' : 'list prices',
        t.unpricedEvents > 0 ? `+ ${t.unpricedEvents} unpriced event(s), not in $` : '',
      ]
        .filter(Boolean)
        .join(' · '),
      t.estimatedEvents > 0 ? 'est' : '',
    ),
    card('Total tokens', groupThousands(t.totalTokens)),
    card('Events', groupThousands(t.events), 'API calls (or workflow agents)'),
    card(
      'Estimated',
      groupThousands(t.estimatedEvents),
      'events priced without an exact rate (~)',
      t.estimatedEvents ? 'est' : '',
    ),
    card(
      'Unpriced',
      groupThousands(t.unpricedEvents),
      t.unpricedModels.length ? `not in $: ${t.unpricedModels.join(', ')}` : 'every event has a price',
      t.unpricedEvents ? 'warn' : '',
    ),
    card(
      'Workflow runs',
      groupThousands(s.runs),
      s.runs
        ? `${s.healthy} healthy · ${s.degraded} degraded · ${s.invariantFailures} invariant failures`
        : '',
      s.degraded || s.invariantFailures ? 'warn' : '',
    ),
  ];
  return `<section id="totals" aria-labelledby="totals-h"><h2 id="totals-h">Totals</h2><div class="cards">${cards.join('')}</div></section>`;
}

function spendOverTime(d: DashboardData): string {
  const { axis, bars } = d.charts.spendOverTime;
  const W = 960;
  const H = 260;
  const left = 70;
  const right = 10;
  const top = 20;
  const bottom = 34;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const slots = Math.max(1, axis.length);
  const slotW = plotW / slots;
  const barW = Math.max(1, Math.min(60, slotW * 0.8));
  const max = Math.max(0, ...bars.map((b) => b.costNanoUsd));
  const ticks = niceTicks(max);
  const top1 = ticks[ticks.length - 1] || 1;
  const step = ticks[1] ?? top1;
  const y = (v: number) => top + plotH - (v / top1) * plotH;
  const slotOf = new Map(axis.map((day, i) => [day, i]));
  const parts: string[] = [];
  for (const t of ticks) {
    parts.push(
      `<line class="grid" x1="${left}" x2="${W - right}" y1="${n1(y(t))}" y2="${n1(y(t))}"/>`,
      `<text class="axis" x="${left - 6}" y="${n1(y(t) + 4)}" text-anchor="end">${esc(formatUsd(t, tickDigits(step)))}</text>`,
    );
  }
  const every = Math.max(1, Math.ceil(70 / slotW));
  axis.forEach((day, i) => {
    if (i % every !== 0) return;
    parts.push(
      `<text class="axis" x="${n1(left + (i + 0.5) * slotW)}" y="${H - bottom + 16}" text-anchor="middle">${esc(day)}</text>`,
    );
  });
  for (const b of bars) {
    const i = slotOf.get(b.day) ?? 0;
    const h = Math.max(b.events > 0 ? 1 : 0, (b.costNanoUsd / top1) * plotH);
    const x = left + (i + 0.5) * slotW - barW / 2;
    const label = `${b.day}: ${cost(b)} · ${groupThousands(b.totalTokens)} tokens · ${groupThousands(b.events)} events`;
    parts.push(
      `<rect class="bar${b.estimated ? ' est' : ''}" data-day="${esc(b.day)}" data-nano="${b.costNanoUsd}" x="${n1(x)}" y="${n1(top + plotH - h)}" width="${n1(barW)}" height="${n1(h)}"><title>${esc(label)}</title></rect>`,
    );
    if (slotW >= 44)
      parts.push(
        `<text class="value" x="${n1(x + barW / 2)}" y="${n1(top + plotH - h - 4)}" text-anchor="middle">${esc(cost(b))}</text>`,
      );
  }
  parts.push(
    `<line class="baseline" x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}"/>`,
  );
  const chart = bars.length
    ? svg(
        'chart-days',
        W,
        H,
        'Spend per day',
        `Bar chart: dollars per local day, ${bars.length} day(s) with events from ${axis[0]} to ${axis[axis.length - 1]}. Dashed bars include estimates.`,
        parts.join(''),
      )
    : '<p class="empty">No usage found.</p>';
  return `<section id="spend-over-time" aria-labelledby="days-h"><h2 id="days-h">Spend over time</h2><p class="hint">Dollars per local day; hover a bar for its figures. Dashed = includes estimates (~).</p><div class="scroll">${chart}</div></section>`;
}

/** An annular sector from angle a0 to a1 (radians, clockwise from 12 o'clock). */
function arc(cx: number, cy: number, r0: number, r1: number, a0: number, a1: number): string {
  const span = Math.min(a1 - a0, Math.PI * 2 - 1e-4);
  const b = a0 + span;
  const pt = (r: number, a: number) => `${n1(cx + r * Math.sin(a))} ${n1(cy - r * Math.cos(a))}`;
  const large = span > Math.PI ? 1 : 0;
  return `M${pt(r1, a0)}A${r1} ${r1} 0 ${large} 1 ${pt(r1, b)}L${pt(r0, b)}A${r0} ${r0} 0 ${large} 0 ${pt(r0, a0)}Z`;
}

function agentPie(d: DashboardData, colour: (a: string) => string): string {
  const { slices, unpricedAgents } = d.charts.agentPie;
  const S = 280;
  const c = S / 2;
  let a = 0;
  const paths: string[] = [];
  for (const s of slices) {
    const a1 = a + (s.sharePct / 100) * Math.PI * 2;
    const label = `${s.agent}: ${cost(s)} (${s.sharePct.toFixed(1)}%)`;
    paths.push(
      `<path class="slice" data-agent="${esc(s.agent)}" data-nano="${s.costNanoUsd}" fill="${colour(s.agents > 1 ? '' : s.agent)}" d="${arc(c, c, 70, 128, a, a1)}"><title>${esc(label)}</title></path>`,
    );
    a = a1;
  }
  const priced = slices.reduce((n, s) => n + s.costNanoUsd, 0);
  const estimated = slices.some((s) => s.estimated);
  paths.push(
    `<text class="centre" x="${c}" y="${c - 2}" text-anchor="middle">${esc(`${estimated ? '~' : ''}${formatUsd(priced)}`)}</text>`,
    `<text class="axis" x="${c}" y="${c + 16}" text-anchor="middle">priced spend</text>`,
  );
  const legend = slices
    .map(
      (s) =>
        `<li><span class="swatch" style="background:${colour(s.agents > 1 ? '' : s.agent)}"></span><span class="name">${esc(s.agent)}</span> <span class="num">${esc(cost(s))} · ${s.sharePct.toFixed(1)}%</span></li>`,
    )
    .concat(
      unpricedAgents.map(
        (u) =>
          `<li class="unpriced"><span class="swatch"></span><span class="name">${esc(u)}</span> <span class="num">no priced spend (no slice)</span></li>`,
      ),
    )
    .join('');
  const chart = slices.length
    ? svg(
        'chart-agents',
        S,
        S,
        'Spend by agent',
        `Donut chart: share of the priced dollars per agent, ${slices.length} slice(s).`,
        paths.join(''),
      )
    : '<p class="empty">No priced spend.</p>';
  return `<section id="spend-by-agent" aria-labelledby="agents-h"><h2 id="agents-h">Spend by agent</h2><div class="pie">${chart}<ul class="legend">${legend}</ul></div></section>`;
}

function waterfalls(d: DashboardData): string {
  if (d.runs.length === 0)
    return '<section id="runs" aria-labelledby="runs-h"><h2 id="runs-h">Workflow runs</h2><p class="empty">No workflow runs found.</p></section>';
  const blocks = d.runs.map((r, ri) => {
    const W = 960;
    const nameW = 170;
    const plotW = 470;
    const rowH = 24;
    const over = r.unattributedTokens !== 0 && !r.invariantOk;
    const rows = r.waterfall.length + 1 + (over ? 1 : 0);
    const H = rows * rowH + 12;
    const domain = Math.max(100, ...r.waterfall.map((s) => s.startPct + s.sharePct));
    const x = (pct: number) => nameW + (pct / domain) * plotW;
    const parts: string[] = [];
    r.waterfall.forEach((s, i) => {
      const yy = 6 + i * rowH;
      const costS =
        s.unpricedAgents === s.agents
          ? 'unpriced'
          : `~${formatUsd(s.costNanoUsd)}${s.unpricedAgents ? ` + ${s.unpricedAgents} unpriced` : ''}`;
      const text = `${groupThousands(s.tokens)} tok · ${s.sharePct.toFixed(1)}% · ${costS} · n=${s.agents}`;
      parts.push(
        `<text class="label" x="${nameW - 8}" y="${yy + 16}" text-anchor="end">${esc(clip(s.name, 24))}<title>${esc(s.name)}</title></text>`,
        `<rect class="stage" data-stage="${esc(s.name)}" data-tokens="${s.tokens}" x="${n1(x(s.startPct))}" y="${yy + 3}" width="${n1(Math.max(1, x(s.startPct + s.sharePct) - x(s.startPct)))}" height="${rowH - 6}"><title>${esc(`${s.name}: ${text}`)}</title></rect>`,
        `<text class="value" x="${nameW + plotW + 10}" y="${yy + 16}">${esc(text)}</text>`,
      );
    });
    let yy = 6 + r.waterfall.length * rowH;
    if (over) {
      const label = r.unattributedTokens > 0 ? 'unattributed' : 'over-attributed';
      parts.push(
        `<text class="label bad" x="${nameW - 8}" y="${yy + 16}" text-anchor="end">${label}</text>`,
        `<text class="value bad" x="${nameW + plotW + 10}" y="${yy + 16}">${esc(groupThousands(r.unattributedTokens))} tok</text>`,
      );
      yy += rowH;
    }
    parts.push(
      `<text class="label strong" x="${nameW - 8}" y="${yy + 16}" text-anchor="end">total</text>`,
      `<rect class="total" x="${nameW}" y="${yy + 3}" width="${n1(x(100) - nameW)}" height="${rowH - 6}"/>`,
      `<text class="value strong" x="${nameW + plotW + 10}" y="${yy + 16}">${esc(`${groupThousands(r.totalTokens)} tok · ~${formatUsd(r.costNanoUsd)}${r.unpricedAgents ? ` + ${r.unpricedAgents} unpriced` : ''}`)}</text>`,
    );
    const badges = [
      r.degraded ? '<span class="badge bad">DEGRADED</span>' : '<span class="badge ok">healthy</span>',
      r.invariantOk
        ? '<span class="badge ok">invariant ok</span>'
        : `<span class="badge bad">INVARIANT FAILED${r.invariantDetail ? ` (${esc(r.invariantDetail)})` : ''}</span>`,
    ];
    if (r.statusAgreement === 'says-completed-is-degraded')
      badges.push(`<span class="badge warn">says “${esc(r.status ?? '')}” but is DEGRADED</span>`);
    if (r.statusAgreement === 'says-failed-looks-healthy')
      badges.push(`<span class="badge warn">says “${esc(r.status ?? '')}” but looks healthy</span>`);
    const findings = r.findings.length
      ? `<ul class="findings">${r.findings.map((f) => `<li class="${f.severity}">[${esc(f.severity)}] ${esc(f.stage ?? 'run')}: ${esc(f.kind)} — ${esc(f.detail)}</li>`).join('')}</ul>`
      : '';
    const title = `${r.workflow ?? '?'} · ${r.id}`;
    return (
      `<article class="run" data-run="${esc(r.id)}"><h3>${esc(title)} <span class="muted">status=${esc(r.status ?? '—')} · ${esc(groupThousands(r.totalTokens))} tok · ~${esc(formatUsd(r.costNanoUsd))}</span></h3>` +
      `<p>${badges.join(' ')}</p><div class="scroll">${svg(`chart-run-${ri}`, W, H, `Stage waterfall of ${title}`, `Each stage's bar starts where the previous one ended; the total row is the run's reported total. Dollars are estimates (list prices, ${r.inputSharePct}%-input blend: the telemetry has no input/output split).`, parts.join(''))}</div>${findings}</article>`
    );
  });
  return `<section id="runs" aria-labelledby="runs-h"><h2 id="runs-h">Workflow runs: stage waterfalls</h2><p class="hint">~ = estimate: workflow telemetry logs one token count per agent, priced at an input-share blend.</p>${blocks.join('')}</section>`;
}

function heatmap(d: DashboardData): string {
  const { agents, days, cells } = d.charts.heatmap;
  if (cells.length === 0)
    return '<section id="agent-day" aria-labelledby="heat-h"><h2 id="heat-h">Agent × day</h2><p class="empty">No usage found.</p></section>';
  const nameW = 170;
  const topH = 28;
  const cellW = Math.max(8, Math.min(48, 800 / days.length));
  const cellH = 22;
  const W = Math.ceil(nameW + days.length * cellW + 70); // room for the last day's label
  const H = topH + agents.length * cellH + 6;
  const col = new Map(days.map((d, i) => [d, i]));
  const row = new Map(agents.map((a, i) => [a, i]));
  const max = Math.max(0, ...cells.map((c) => c.costNanoUsd));
  const parts: string[] = [];
  agents.forEach((a, i) => {
    parts.push(
      `<text class="label" x="${nameW - 8}" y="${topH + i * cellH + 15}" text-anchor="end">${esc(clip(a, 24))}<title>${esc(a)}</title></text>`,
    );
  });
  const every = Math.max(1, Math.ceil(76 / cellW));
  days.forEach((day, i) => {
    if (i % every === 0)
      parts.push(`<text class="axis" x="${n1(nameW + i * cellW)}" y="${topH - 10}">${esc(day)}</text>`);
  });
  for (const c of cells) {
    const x = nameW + col.get(c.day)! * cellW;
    const y = topH + row.get(c.agent)! * cellH;
    // A square-root scale: a day 100× cheaper is still visible.
    const level = max > 0 ? 0.12 + 0.88 * Math.sqrt(c.costNanoUsd / max) : 0.12;
    const label = `${c.agent} · ${c.day}: ${cost(c)} · ${groupThousands(c.totalTokens)} tokens · ${groupThousands(c.events)} events`;
    parts.push(
      `<rect class="cell${c.unpricedEvents === c.events ? ' unpriced' : ''}" data-agent="${esc(c.agent)}" data-day="${esc(c.day)}" data-nano="${c.costNanoUsd}" x="${n1(x + 1)}" y="${y + 1}" width="${n1(cellW - 2)}" height="${cellH - 2}" fill-opacity="${level.toFixed(3)}"><title>${esc(label)}</title></rect>`,
    );
  }
  const chart = svg(
    'chart-heatmap',
    W,
    H,
    'Spend per agent and day',
    `Heatmap: ${agents.length} agent row(s) × ${days.length} day column(s); darker = more dollars (square-root scale). Outlined cells are unpriced.`,
    parts.join(''),
  );
  return `<section id="agent-day" aria-labelledby="heat-h"><h2 id="heat-h">Agent × day</h2><p class="hint">Darker = more dollars; outlined = unpriced tokens only. Hover a cell for its figures.</p><div class="scroll">${chart}</div></section>`;
}

function moneyFlow(d: DashboardData, colour: (a: string) => string): string {
  const { nodes, edges, costliest } = d.charts.moneyFlow;
  if (nodes.length === 0)
    return '<section id="money-flow" aria-labelledby="flow-h"><h2 id="flow-h">Money flow</h2><p class="empty">No usage found.</p></section>';
  const columns: FlowColumn[] = ['run', 'agent', 'model'];
  const colX: Record<FlowColumn, number> = { run: 250, agent: 500, model: 770 };
  const nodeW = 12;
  const gap = 16;
  const W = 1020;
  const byCol = (c: FlowColumn) => nodes.filter((n) => n.column === c);
  const most = Math.max(...columns.map((c) => byCol(c).length));
  const plotH = Math.max(220, most * 40);
  const total = Math.max(...columns.map((c) => byCol(c).reduce((s, n) => s + n.costNanoUsd, 0)));
  const k =
    total > 0
      ? Math.min(...columns.map((c) => (plotH - gap * (byCol(c).length - 1)) / Math.max(1, total)))
      : 0;
  const minH = 4;
  const pos = new Map<
    string,
    { x: number; y: number; h: number; outY: number; inY: number; node: FlowNodeData }
  >();
  let H = 0;
  for (const c of columns) {
    let y = 24;
    for (const n of byCol(c)) {
      const h = Math.max(minH, n.costNanoUsd * k);
      pos.set(n.id, { x: colX[c], y, h, outY: y, inY: y, node: n });
      y += h + gap;
    }
    H = Math.max(H, y);
  }
  H += 10;
  const width = (e: FlowEdgeData) => Math.max(1.5, e.costNanoUsd * k);
  // Bands leave a node in the order of their targets and enter in the order of their sources.
  const outOrder = [...edges].sort((a, b) => pos.get(a.to)!.y - pos.get(b.to)!.y);
  const start = new Map<FlowEdgeData, number>();
  for (const e of outOrder) {
    const p = pos.get(e.from)!;
    start.set(e, p.outY + width(e) / 2);
    p.outY += width(e);
  }
  const inOrder = [...edges].sort((a, b) => pos.get(a.from)!.y - pos.get(b.from)!.y);
  const end = new Map<FlowEdgeData, number>();
  for (const e of inOrder) {
    const p = pos.get(e.to)!;
    end.set(e, p.inY + width(e) / 2);
    p.inY += width(e);
  }
  const agentOf = (e: FlowEdgeData) => {
    const from = pos.get(e.from)!.node;
    const to = pos.get(e.to)!.node;
    const a = from.column === 'agent' ? from : to;
    return a.members > 1 ? '' : a.label;
  };
  const parts: string[] = [];
  const labels: string[] = [];
  /** Edge labels sit where a band enters its target node, one under the other. */
  const pending: { column: FlowColumn; y: number; text: string; costliest: boolean; x: number }[] = [];
  // Costliest last, so it is drawn on top.
  for (const e of [...edges].sort((a, b) => Number(a.costliest) - Number(b.costliest))) {
    const from = pos.get(e.from)!;
    const to = pos.get(e.to)!;
    const x0 = from.x + nodeW;
    const x1 = to.x;
    const y0 = start.get(e)!;
    const y1 = end.get(e)!;
    const xm = (x0 + x1) / 2;
    const w = width(e);
    const text = `${from.node.label} → ${to.node.label}: ${cost(e)} · ${groupThousands(e.totalTokens)} tokens · ${groupThousands(e.events)} events`;
    parts.push(
      `<path class="edge${e.costliest ? ' costliest' : ''}" data-from="${esc(e.from)}" data-to="${esc(e.to)}" data-nano="${e.costNanoUsd}" d="M${n1(x0)} ${n1(y0)}C${n1(xm)} ${n1(y0)} ${n1(xm)} ${n1(y1)} ${n1(x1)} ${n1(y1)}" stroke="${colour(agentOf(e))}" stroke-width="${n1(w)}"><title>${esc(text)}</title></path>`,
    );
    pending.push({ column: to.node.column, y: y1, text: cost(e), costliest: e.costliest, x: x1 - 6 });
  }
  // A label pushed far from its band would mislead: it is left to the tooltip and the edge table.
  for (const c of columns) {
    let prev = Number.NEGATIVE_INFINITY;
    for (const l of pending.filter((p) => p.column === c).sort((a, b) => a.y - b.y)) {
      const y = Math.max(l.y, prev + 12);
      if (y - l.y > 10) continue;
      prev = y;
      labels.push(
        `<text class="edge-label${l.costliest ? ' costliest' : ''}" x="${n1(l.x)}" y="${n1(y + 4)}" text-anchor="end">${esc(l.text)}</text>`,
      );
    }
  }
  const hot = new Set(edges.filter((e) => e.costliest).flatMap((e) => [e.from, e.to]));
  for (const [id, p] of pos) {
    const n = p.node;
    // Agents keep their pie colour; runs and models are neutral (CSS, so the theme applies).
    const fill = n.column === 'agent' ? ` fill="${colour(n.members > 1 ? '' : n.label)}"` : '';
    const text = `${clip(n.label, n.column === 'agent' ? 22 : n.column === 'run' ? 28 : 34)} · ${cost(n)}`;
    const anchor = n.column === 'run' ? 'end' : 'start';
    const tx = n.column === 'run' ? p.x - 6 : p.x + nodeW + 6;
    parts.push(
      `<rect class="node${fill ? '' : ' plain'}${hot.has(id) ? ' costliest' : ''}" data-id="${esc(id)}" data-column="${n.column}" data-nano="${n.costNanoUsd}" x="${p.x}" y="${n1(p.y)}" width="${nodeW}" height="${n1(p.h)}"${fill}><title>${esc(`${n.label}: ${cost(n)} · ${groupThousands(n.totalTokens)} tokens · ${groupThousands(n.events)} events`)}</title></rect>`,
    );
    labels.push(
      `<text class="node-label" x="${tx}" y="${n1(p.y + p.h / 2 + 4)}" text-anchor="${anchor}">${esc(text)}</text>`,
    );
  }
  const heads = columns
    .map(
      (c) =>
        `<text class="axis strong" x="${c === 'run' ? colX[c] + nodeW : colX[c]}" y="14" text-anchor="${c === 'run' ? 'end' : 'start'}">${c === 'run' ? 'runs / sessions' : `${c}s`}</text>`,
    )
    .join('');
  const hotText = costliest
    ? `Costliest path (red): ${costliest.run} → ${costliest.agent} → ${costliest.model}, ${formatUsd(costliest.costNanoUsd)}.`
    : 'Nothing is priced: no costliest path.';
  const chart = svg(
    'chart-flow',
    W,
    Math.ceil(H),
    'Money flow: run → agent → model',
    `Flow graph: ${nodes.length} nodes, ${edges.length} edges; band width is dollars. ${hotText}`,
    heads + parts.join('') + labels.join(''),
  );
  const rows = edges
    .map((e) => {
      const from = pos.get(e.from)!.node;
      const to = pos.get(e.to)!.node;
      return `<tr${e.costliest ? ' class="costliest"' : ''}><td>${esc(from.label)}</td><td>${esc(to.label)}</td><td class="n">${esc(cost(e))}</td><td class="n">${groupThousands(e.totalTokens)}</td><td class="n">${groupThousands(e.events)}</td></tr>`;
    })
    .join('');
  return (
    `<section id="money-flow" aria-labelledby="flow-h"><h2 id="flow-h">Money flow</h2><p class="hint">${esc(hotText)} Band width ∝ dollars; unpriced flows are hairlines.</p><div class="scroll">${chart}</div>` +
    `<details><summary>Every edge (${edges.length})</summary><table><thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col" class="n">Cost</th><th scope="col" class="n">Tokens</th><th scope="col" class="n">Events</th></tr></thead><tbody>${rows}</tbody></table></details></section>`
  );
}

function table(
  id: string,
  caption: string,
  head: string,
  rows: DashboardData['byDay'],
  totals: DashboardData['totals'],
) {
  const unsplit = totals.unsplitTokens > 0;
  const cols = [
    'Events',
    'Input',
    'Output',
    'Cache read',
    'Cache write',
    ...(unsplit ? ['Unsplit*'] : []),
    'Total tokens',
    'Cost',
  ];
  const cells = (f: DashboardData['totals']) => {
    const counts = [
      f.events,
      f.inputTokens,
      f.outputTokens,
      f.cacheReadTokens,
      f.cacheWriteTokens,
      ...(unsplit ? [f.unsplitTokens] : []),
      f.totalTokens,
    ];
    return `${counts.map((v) => `<td class="n">${groupThousands(v)}</td>`).join('')}<td class="n">${esc(figuresCost(f))}</td>`;
  };
  const body = rows.map((r) => `<tr><th scope="row">${esc(r.key)}</th>${cells(r)}</tr>`).join('');
  return (
    `<table id="${id}"><caption>${esc(caption)}</caption><thead><tr><th scope="col">${esc(head)}</th>${cols.map((c) => `<th scope="col" class="n">${c}</th>`).join('')}</tr></thead>` +
    `<tbody>${body}</tbody><tfoot><tr><th scope="row">Total</th>${cells(totals)}</tr></tfoot></table>`
  );
}

function tables(d: DashboardData): string {
  return (
    '<section id="tables" aria-labelledby="tables-h"><h2 id="tables-h">Tables</h2>' +
    `<div class="scroll">${table('table-agent', 'Spend by agent', 'Agent', d.byAgent, d.totals)}</div>` +
    `<div class="scroll">${table('table-model', 'Spend by model', 'Model', d.byModel, d.totals)}</div>` +
    `<div class="scroll">${table('table-day', 'Spend by day', 'Day', d.byDay, d.totals)}</div></section>`
  );
}

function notesSection(d: DashboardData): string {
  const notes = d.notes.map((n) => `<li>${esc(n)}</li>`).join('');
  const listed = d.problems.slice(0, 50);
  const problems = d.problemCount
    ? `<h3>${d.problemCount} problem(s) in the input (skipped, counted, nothing else lost)</h3><ul class="problems">${listed
        .map((p) => `<li><code>${esc(p.file)}${p.line ? `:${p.line}` : ''}</code>: ${esc(p.reason)}</li>`)
        .join(
          '',
        )}${d.problemCount > listed.length ? `<li>… and ${d.problemCount - listed.length} more (report --json lists them)</li>` : ''}</ul>`
    : '';
  return `<section id="notes" aria-labelledby="notes-h"><h2 id="notes-h">Notes</h2><ul>${notes}</ul>${problems}</section>`;
}

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--grid:#d1d9e0;--card:#f6f8fa;--accent:#0969da;--hot:#cf222e;--warn:#9a6700;--ok:#1a7f37;--node:#6e7781;--heat:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--grid:#30363d;--card:#161b22;--accent:#4493f8;--hot:#f85149;--warn:#d29922;--ok:#3fb950;--node:#8b949e;--heat:#4493f8}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1060px;padding:24px 20px 48px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid var(--grid);padding-bottom:4px}h3{font-size:14px;margin:18px 0 6px}
.muted,.hint,.note,.axis{color:var(--muted);fill:var(--muted)}.hint{margin:0 0 8px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--grid);border-radius:8px;padding:10px 12px}.card .label{font-size:12px;color:var(--muted)}
.card .value{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}.card .note{font-size:12px}
.card.warn .value{color:var(--warn)}
.scroll{overflow-x:auto}
svg{display:block;font:12px system-ui,sans-serif}svg text{fill:var(--fg)}svg .axis{fill:var(--muted);font-size:11px}svg .strong{font-weight:600}
.grid{stroke:var(--grid);stroke-width:1}.baseline{stroke:var(--muted)}
.bar{fill:var(--accent)}.bar.est{fill-opacity:.75;stroke:var(--fg);stroke-dasharray:3 2;stroke-width:1}.value{font-size:11px}
.pie{display:flex;flex-wrap:wrap;align-items:center;gap:24px}.centre{font-size:18px;font-weight:600}.slice{stroke:var(--bg);stroke-width:1.5}
.legend{list-style:none;margin:0;padding:0}.legend li{margin:3px 0}.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.legend .unpriced .swatch{border:1px dashed var(--muted)}.num{color:var(--muted);font-variant-numeric:tabular-nums}
.stage{fill:var(--accent)}.total{fill:var(--node);fill-opacity:.5}.bad{fill:var(--hot);color:var(--hot)}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;border:1px solid currentColor}.badge.ok{color:var(--ok)}.badge.bad{color:var(--hot);font-weight:600}.badge.warn{color:var(--warn)}
.findings{margin:4px 0 0;font-size:13px}.findings .high{color:var(--hot)}
.cell{fill:var(--heat)}.cell.unpriced{fill:var(--muted);stroke:var(--warn);stroke-dasharray:2 2}
.edge{fill:none;stroke-opacity:.45}.edge.costliest{stroke:var(--hot);stroke-opacity:.85}
.node.plain{fill:var(--node)}.node.costliest{stroke:var(--hot);stroke-width:2}
.edge-label,.node-label{paint-order:stroke;stroke:var(--bg);stroke-width:3px;stroke-linejoin:round;font-size:11px}.edge-label.costliest{fill:var(--hot);font-weight:600}
table{border-collapse:collapse;margin:8px 0 16px;font-variant-numeric:tabular-nums;width:100%}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{padding:3px 8px;border-bottom:1px solid var(--grid);text-align:left;white-space:nowrap}.n{text-align:right}thead th{color:var(--muted);font-weight:500}
tfoot th,tfoot td{font-weight:600;border-top:2px solid var(--grid)}tr.costliest td{color:var(--hot)}
details{margin-top:8px}summary{cursor:pointer;color:var(--muted)}code{font-size:12px}
.empty{color:var(--muted);font-style:italic}
@media print{.scroll{overflow:visible}}
`;

/** The dashboard page for `report --format html`. */
export function renderDashboardHtml(d: DashboardData): string {
  const colour = agentColours(d);
  const period = d.period
    ? d.period.from === d.period.to
      ? d.period.from
      : `${d.period.from} … ${d.period.to}`
    : 'no usage';
  const title = `tokenledger · spend dashboard · ${period}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="tokenledger">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>tokenledger · spend dashboard</h1><p class="muted">${esc(period)} · ${esc(d.source)} · ${esc(figuresCost(d.totals))} · ${groupThousands(d.totals.totalTokens)} tokens${d.totals.estimatedEvents ? ' · ~ marks estimates' : ''}</p></header>
<main>
${totalsSection(d)}
${spendOverTime(d)}
${agentPie(d, colour)}
${waterfalls(d)}
${heatmap(d)}
${moneyFlow(d, colour)}
${tables(d)}
${notesSection(d)}
</main>
<script type="application/json" id="tokenledger-data">${jsonForScript(d)}</script>
</body>
</html>`;
}
