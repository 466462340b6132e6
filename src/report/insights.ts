import { aggregate, type Tally } from '../core/aggregate.js';
import type { UsageEvent } from '../core/event.js';
import {
  type AgentOutcome,
  type ConcentrationReport,
  type CreepFlag,
  concentration,
  type Dimension,
  type DistillReport,
  distillationCandidates,
  groupKey,
  type MonthProjection,
  type Outcome,
  type OutcomeFigures,
  type OutcomeReport,
  outcomeEconomics,
  type Period,
  type PeriodRow,
  periodOverPeriod,
  projectMonthEnd,
  type RoutingCandidate,
  type RoutingReport,
  routingCandidates,
  type SunsetReport,
  sunsettingCandidates,
  type TemplateAudit,
  type TimeZoneOffset,
  templateAudit,
} from '../core/insights/index.js';
import { formatUsd, groupThousands, nanoToUsd } from '../core/money.js';
import type { PriceBook } from '../core/pricing.js';
import { renderMarkdownTable, renderTerminalTable, type Style, type Table } from './table.js';

/**
 * `tokenledger insights`: "what should I change?", with numbers. The figures are the pure
 * computations of `src/core/insights` on the ledger's events and outcomes; this module puts them
 * together ({@link buildInsights}) and renders them for a terminal, as Markdown (a weekly report to
 * paste in a chat or a mail) and as JSON. Money is integer nano-dollars until it is printed.
 *
 * Estimates are labelled everywhere: counterfactuals (routing savings) and the month-end projection
 * always (`~` and "(estimate)"; `estimated: true` in JSON), and any figure that includes calls
 * priced as estimates (workflow telemetry's blended tokens, fast mode) carries a `~`, as in
 * `report` (`estimated: true` on that JSON object).
 */

export interface InsightsOptions {
  /** "Now": the current period is partial, the projection and the 30-day window end here. */
  nowMs: number;
  /** Period-over-period comparison (default `week`). */
  period?: Period;
  timeZone?: TimeZoneOffset;
  /** Cheaper models to try for routing candidates, in order of preference. */
  targets: string[];
  /** Provider of the targets when a model id alone is ambiguous. */
  targetProvider?: string;
  valuePerSuccessUsd?: number;
  /** Rows per list (default 5). */
  top?: number;
}

/** One agent (or the total) in the period comparison: the last two complete periods and the current. */
export interface Comparison {
  key: string;
  previous: PeriodRow | null;
  last: PeriodRow | null;
  /** The period holding "now" (partial), when there is one. */
  current: PeriodRow | null;
  /** `last` against `previous`, in percent; `null` without both, or after a $0 period. */
  changePct: number | null;
  flags: CreepFlag[];
  /** Some of these calls were priced as estimates. */
  estimated: boolean;
}

export interface CostLeader {
  agent: string;
  costNano: number;
  share: number;
  /** Above the 40% concentration flag. */
  flagged: boolean;
  /** Its figures in the runs with an outcome it took part in; `null` when none. */
  outcome: AgentOutcome | null;
  estimated: boolean;
}

/** Which keys hold calls priced as estimates (their money is shown with `~`). */
export interface EstimatedKeys {
  events: number;
  byDim: Record<'agent' | 'stage' | 'task' | 'template' | 'run', Set<string>>;
  /** `run\0agent` pairs. */
  runAgents: Set<string>;
}

export interface Insights {
  nowMs: number;
  period: Period;
  top: number;
  totals: Tally;
  estimated: EstimatedKeys;
  concentration: ConcentrationReport;
  costLeader: CostLeader | null;
  /** `null` when no outcome is recorded. */
  outcomes: OutcomeReport | null;
  /** Outcome figures that include calls priced as estimates: overall, and per agent. */
  outcomesEstimated: { overall: boolean; agents: Set<string> };
  outcomesStored: number;
  valuePerSuccessUsd: number | null;
  targets: string[];
  routing: RoutingReport;
  trend: {
    previous: string | null;
    last: string | null;
    current: string | null;
    total: Comparison;
    agents: Comparison[];
  };
  projection: MonthProjection;
  sunsetting: SunsetReport;
  distillation: DistillReport;
  templates: TemplateAudit;
}

const EST_DIMS = ['agent', 'stage', 'task', 'template', 'run'] as const;

function estimatedKeys(events: readonly UsageEvent[]): EstimatedKeys {
  const byDim = Object.fromEntries(EST_DIMS.map((d) => [d, new Set<string>()])) as EstimatedKeys['byDim'];
  const runAgents = new Set<string>();
  let n = 0;
  for (const e of events) {
    if (!e.cost.estimated) continue;
    n++;
    for (const d of EST_DIMS) byDim[d].add(groupKey(e, d));
    runAgents.add(`${groupKey(e, 'run')}\0${groupKey(e, 'agent')}`);
  }
  return { events: n, byDim, runAgents };
}

function isEstimated(est: EstimatedKeys, dim: Dimension, key: string): boolean {
  const set = (est.byDim as Record<string, Set<string> | undefined>)[dim];
  return set ? set.has(key) : est.events > 0;
}

function compareRows(
  key: string,
  rows: PeriodRow[],
  flags: CreepFlag[],
  idx: { previous: number; last: number; current: number },
  estimated: boolean,
): Comparison {
  const at = (i: number) => (i >= 0 ? (rows[i] ?? null) : null);
  const previous = at(idx.previous);
  const last = at(idx.last);
  return {
    key,
    previous,
    last,
    current: at(idx.current),
    changePct: previous && last ? last.changePct : null,
    flags,
    estimated,
  };
}

/**
 * Every insight over `events` (already limited to the range asked for) and the recorded outcomes.
 *
 * @example
 * const ins = buildInsights(ledger.events(), ledger.outcomes(), createPriceBook(), {
 *   nowMs: Date.now(), targets: ['claude-haiku-4-5'],
 * });
 * ins.concentration.topAgent?.key;
 */
export function buildInsights(
  events: readonly UsageEvent[],
  outcomes: readonly Outcome[],
  book: PriceBook,
  opts: InsightsOptions,
): Insights {
  const top = opts.top ?? 5;
  const period = opts.period ?? 'week';
  const tz = opts.timeZone ? { timeZone: opts.timeZone } : {};
  const est = estimatedKeys(events);
  const conc = concentration(events);

  const outcomeReport =
    outcomes.length > 0
      ? outcomeEconomics(
          events,
          outcomes,
          opts.valuePerSuccessUsd !== undefined ? { valuePerSuccessUsd: opts.valuePerSuccessUsd } : {},
        )
      : null;

  const outcomesEstimated = { overall: false, agents: new Set<string>() };
  if (outcomeReport) {
    const runs = new Set(outcomes.map((o) => o.run));
    for (const pair of est.runAgents) {
      const [run, agent] = pair.split('\0') as [string, string];
      if (!runs.has(run)) continue;
      outcomesEstimated.overall = true;
      outcomesEstimated.agents.add(agent);
    }
  }

  const leader = conc.topAgent;
  const costLeader: CostLeader | null = leader
    ? {
        agent: leader.key,
        costNano: leader.costNano,
        share: leader.share,
        flagged: leader.flagged,
        outcome: outcomeReport?.agents.find((a) => a.agent === leader.key) ?? null,
        estimated: isEstimated(est, 'agent', leader.key),
      }
    : null;

  const pop = periodOverPeriod(events, { period, nowMs: opts.nowMs, ...tz });
  const rows = pop.total.rows;
  const currentIdx = rows.length > 0 && rows[rows.length - 1]!.partial ? rows.length - 1 : -1;
  const lastIdx = (currentIdx >= 0 ? currentIdx : rows.length) - 1;
  const idx = { previous: lastIdx - 1, last: lastIdx, current: currentIdx };
  const agents = pop.slices
    .map((t) => compareRows(t.key, t.rows, t.flags, idx, isEstimated(est, 'agent', t.key)))
    .filter((c) => [c.previous, c.last, c.current].some((r) => r !== null && r.events > 0))
    .sort(
      (a, b) =>
        (b.last?.costNano ?? 0) - (a.last?.costNano ?? 0) ||
        (b.current?.costNano ?? 0) - (a.current?.costNano ?? 0) ||
        (a.key < b.key ? -1 : 1),
    );

  return {
    nowMs: opts.nowMs,
    period,
    top,
    totals: aggregate(events, 'day').totals,
    estimated: est,
    concentration: conc,
    costLeader,
    outcomes: outcomeReport,
    outcomesEstimated,
    outcomesStored: outcomes.length,
    valuePerSuccessUsd: opts.valuePerSuccessUsd ?? null,
    targets: opts.targets,
    routing: routingCandidates(events, book, {
      targets: opts.targets,
      ...(opts.targetProvider !== undefined ? { targetProvider: opts.targetProvider } : {}),
    }),
    trend: {
      previous: rows[idx.previous]?.period ?? null,
      last: rows[idx.last]?.period ?? null,
      current: currentIdx >= 0 ? rows[currentIdx]!.period : null,
      total: compareRows('total', rows, pop.total.flags, idx, est.events > 0),
      agents,
    },
    projection: projectMonthEnd(events, { nowMs: opts.nowMs, ...tz }),
    sunsetting: sunsettingCandidates(events, { nowMs: opts.nowMs, ...tz }),
    distillation: distillationCandidates(events),
    templates: templateAudit(events, { top }),
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** Dollars, `~` when the figure is (or includes) an estimate. */
export function usd(nano: number, estimated: boolean, digits = 2): string {
  return `${estimated ? '~' : ''}${formatUsd(nano, digits)}`;
}

/** Small amounts keep their cents' fractions: $0.0042 rather than $0.00. */
function usdFine(nano: number, estimated: boolean): string {
  return usd(nano, estimated, Math.abs(nano) < 10_000_000 && nano !== 0 ? 4 : 2);
}

export const pct = (share: number, digits = 1) => `${(share * 100).toFixed(digits)}%`;

const signedPct = (p: number | null) => (p === null ? 'n/a' : `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`);

const unpriced = (n: number) => (n > 0 ? ` +${groupThousands(n)} unpriced` : '');

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function periodName(p: Period): string {
  return typeof p === 'string' ? p : 'sprint';
}

/** A period's column label: `wk 2026-11-16`, `2026-11`, `sprint 2026-11-02`. */
export function periodLabel(p: Period, key: string): string {
  if (p === 'week') return `wk ${key}`;
  if (typeof p === 'object') return `sprint ${key}`;
  return key;
}

/** ROI as a signed percentage: 0.5 → `+50%`, 152.61 → `+15,261%`. */
const ratio = (r: number | null) =>
  r === null ? 'n/a' : `${r >= 0 ? '+' : '-'}${groupThousands(Math.round(Math.abs(r) * 100))}%`;

const SIGNAL_LABEL: Record<string, string> = {
  'many-calls': 'many calls',
  'low-output-ratio': 'low output/input',
  'short-outputs': 'short outputs',
  'tool-heavy': 'tool-heavy',
};

const firedSignals = (c: { signature: RoutingCandidate['signature'] }) =>
  c.signature.signals
    .filter((s) => s.fired)
    .map((s) => SIGNAL_LABEL[s.name] ?? s.name)
    .join(', ');

// ---------------------------------------------------------------------------------------------
// Headlines: the answers, one line each
// ---------------------------------------------------------------------------------------------

function comparisonTitle(p: Period): string {
  if (p === 'week') return 'This week vs last';
  if (p === 'month') return 'This month vs last';
  if (p === 'day') return 'Today vs yesterday';
  return 'This sprint vs last';
}

function leaderWorth(ins: Insights, o: AgentOutcome | null, agent: string): string {
  if (!ins.outcomes) return 'no outcomes recorded, so whether it is worth it is unknown';
  if (!o) return 'it took part in no run with an outcome';
  const est = ins.outcomesEstimated.agents.has(agent);
  const per =
    o.costPerSuccessNano === null
      ? `no success in the ${o.runs} run(s) with an outcome it took part in`
      : `${usd(o.costPerSuccessNano, est)} of its spend per success (${o.successes} of ${o.runs} run(s) with an outcome succeeded)`;
  return per + (o.roi !== null ? `, ROI ${ratio(o.roi)}` : '');
}

/** One line per answer: what to change, with the numbers. */
export function headlines(ins: Insights): string[] {
  const out: string[] = [];
  const leader = ins.costLeader;
  if (leader) {
    out.push(
      `Cost leader: ${leader.agent}, ${usd(leader.costNano, leader.estimated)} = ${pct(leader.share)} of the spend` +
        `${leader.flagged ? ' (above 40%)' : ''}; ${leaderWorth(ins, leader.outcome, leader.agent)}.`,
    );
  }
  const o = ins.outcomes?.overall;
  if (o && o.runs > 0) {
    const e = ins.outcomesEstimated.overall;
    out.push(
      `Cost per success: ${o.costPerSuccessNano === null ? 'n/a (no success)' : usd(o.costPerSuccessNano, e)} ` +
        `(${o.successes} of ${o.runs} run(s) succeeded; failed runs ${usd(o.failedCostNano, e)} of ${usd(o.costNano, e)})` +
        (o.roi !== null ? `, ROI ${ratio(o.roi)}` : '') +
        '.',
    );
  }
  const cands = ins.routing.candidates;
  const best = cands[0];
  if (best) {
    out.push(
      `Route ${best.dimension} ${best.key} to ${best.best.targetModel}: ~${formatUsd(best.best.savingsNano)} ` +
        `(${pct(best.best.savingsShare, 0)}) less on its ${groupThousands(best.best.comparedEvents)} calls (estimate)` +
        `${cands.length > 1 ? `; ${cands.length - 1} more candidate(s)` : ''}.`,
    );
  }
  const t = ins.trend.total;
  const tr = ins.trend;
  const parts: string[] = [];
  if (t.current && tr.current && t.current.events > 0)
    parts.push(`${periodLabel(ins.period, tr.current)} so far ${usd(t.current.costNano, t.estimated)}`);
  if (t.last && tr.last) {
    const prev = t.previous && tr.previous ? periodLabel(ins.period, tr.previous) : null;
    if (t.last.events === 0 && (!t.previous || t.previous.events === 0))
      parts.push(
        `no spend in the ${prev ? `two ${periodName(ins.period)}s` : periodName(ins.period)} before`,
      );
    else
      parts.push(
        `${periodLabel(ins.period, tr.last)} ${usd(t.last.costNano, t.estimated)}` +
          (prev && t.previous
            ? t.previous.events === 0
              ? ` (no spend in ${prev})`
              : t.changePct === null
                ? ` (${prev}: ${usd(t.previous.costNano, t.estimated)})`
                : `, ${signedPct(t.changePct)} on ${prev} (${usd(t.previous.costNano, t.estimated)})`
            : ''),
      );
  }
  if (parts.length) out.push(`${comparisonTitle(ins.period)}: ${parts.join('; ')}.`);
  const creeping = ins.trend.agents.filter((a) => a.flags.length > 0);
  for (const a of creeping.slice(0, 3)) out.push(`Creeping cost: ${a.key}: ${a.flags[0]!.detail}.`);
  const p = ins.projection;
  if (p.projectedNano !== null && p.lowNano !== null && p.highNano !== null)
    out.push(
      `Month ${p.month} on track for ~${formatUsd(p.projectedNano)} (range ~${formatUsd(p.lowNano)}–~${formatUsd(p.highNano)}; estimate).`,
    );
  for (const s of ins.sunsetting.candidates.slice(0, 2))
    out.push(
      `Rarely used but costly: ${s.key}, ${usd(s.costNano, isEstimated(ins.estimated, 'agent', s.key))} ` +
        `(${pct(s.spendShare)}) in the last ${ins.sunsetting.windowDays} days, on ${s.activeDays} day(s).`,
    );
  const d = ins.distillation.candidates[0];
  if (d)
    out.push(
      `Distillation candidate: ${d.key}, ${groupThousands(d.calls)} cheap mechanical calls (${pct(d.callShare)} of all calls).`,
    );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sections: rendered for a terminal and as Markdown from the same content
// ---------------------------------------------------------------------------------------------

interface Section {
  title: string;
  lines: string[];
  table?: Table;
  after?: string[];
}

function concentrationSection(ins: Insights): Section {
  const c = ins.concentration;
  const lines: string[] = [];
  const top = c.topAgent;
  if (!top) return { title: 'Who spends it', lines: ['Nothing priced yet.'] };
  lines.push(
    `Top agent: ${top.key}, ${usd(top.costNano, isEstimated(ins.estimated, 'agent', top.key))} = ${pct(top.share)} of the priced spend` +
      (top.flagged ? ' — above the 40% flag' : ' (below the 40% flag)') +
      (c.tiedWithTop.length ? `; tied with ${c.tiedWithTop.join(', ')}` : ''),
  );
  if (c.hhi !== null && c.hhiPoints !== null)
    lines.push(
      `Concentration over agents (HHI): ${c.hhi.toFixed(3)}, ${groupThousands(Math.round(c.hhiPoints))} points` +
        ` (${c.hhiPoints > 2500 ? 'highly concentrated' : c.hhiPoints >= 1500 ? 'moderately concentrated' : 'spread'}: 10,000 = one agent spends it all)`,
    );
  const rows = c.above.map((r) => [
    r.dimension,
    r.key,
    usd(r.costNano, isEstimated(ins.estimated, r.dimension, r.key)) + unpriced(r.unpricedEvents),
    pct(r.share),
  ]);
  const after = c.unpricedEvents
    ? [`Shares are of the priced spend: ${c.unpricedEvents} unpriced call(s) are not in them.`]
    : [];
  if (rows.length === 0) {
    lines.push('No agent or stage holds more than 25% of the spend.');
    return { title: 'Who spends it', lines, after };
  }
  lines.push('Agents and stages above 25% of the spend:');
  return {
    title: 'Who spends it',
    lines,
    table: { head: ['', 'Name', 'Cost', 'Share'], right: [false, false, true, true], rows },
    after,
  };
}

function outcomeLine(f: OutcomeFigures, est: boolean): string {
  const parts = [
    `per success ${f.costPerSuccessNano === null ? 'n/a' : usd(f.costPerSuccessNano, est)}`,
    `per unit ${f.costPerUnitNano === null ? 'n/a' : usdFine(f.costPerUnitNano, est)}${f.units ? ` (${f.units} units)` : ''}`,
    `ROI ${ratio(f.roi)}`,
  ];
  if (f.valueNano !== null) parts.push(`value ${formatUsd(f.valueNano)}`);
  if (f.meanScore !== null)
    parts.push(`mean score ${Number(f.meanScore.toFixed(3))} over ${f.scoredRuns} run(s)`);
  return parts.join(' · ');
}

function outcomesSection(ins: Insights): Section {
  const title = 'Outcomes';
  const r = ins.outcomes;
  if (!r)
    return {
      title,
      lines: [
        'No outcomes recorded. `tokenledger outcomes import FILE` (CSV or JSONL keyed by run or trace id) or',
        '`meter.outcome(run, { success, units, valueUsd })` gives the cost per success, per unit and ROI.',
      ],
    };
  const o = r.overall;
  const e = ins.outcomesEstimated.overall;
  const lines = [
    `${o.runs} run(s) with an outcome: ${o.successes} succeeded, ${o.failures} failed; they cost ${usd(o.costNano, e)}${unpriced(o.unpricedEvents)}` +
      ` (failed runs ${usd(o.failedCostNano, e)}${o.retryCostNano ? `, retried attempts ${usd(o.retryCostNano, e)}` : ''}: in the cost per success).`,
    outcomeLine(o, e),
  ];
  if (o.roi === null && o.successes > 0 && o.valueMissing > 0)
    lines.push('ROI needs a value: --value-per-success USD, or value_usd per outcome.');
  const after: string[] = [];
  if (r.noOutcome.runs)
    after.push(
      `${r.noOutcome.runs} run(s) without an outcome (${usd(r.noOutcome.costNano, ins.estimated.events > 0)}) are not in these figures.`,
    );
  if (r.noRun.events)
    after.push(
      `${groupThousands(r.noRun.events)} call(s) without a run id (${usd(r.noRun.costNano, ins.estimated.events > 0)}; e.g. Claude Code sessions) are not in these figures.`,
    );
  if (r.outcomesWithoutEvents.length)
    after.push(
      `${r.outcomesWithoutEvents.length} outcome(s) name a run with no calls in range (not counted): ${r.outcomesWithoutEvents.slice(0, 5).join(', ')}${r.outcomesWithoutEvents.length > 5 ? ', …' : ''}.`,
    );
  if (r.agents.length === 0) return { title, lines, after };
  lines.push(
    'Per agent: its own spend in the runs it took part in, against those runs’ successes (overlapping: agents share successes).',
  );
  const shown = r.agents.slice(0, ins.top);
  if (r.agents.length > shown.length) after.unshift(`… and ${r.agents.length - shown.length} more agent(s).`);
  return {
    title,
    lines,
    table: {
      head: ['Agent', 'Runs', 'Succeeded', 'Cost', 'Per success', 'Per unit', 'ROI'],
      right: [false, true, true, true, true, true, true],
      rows: shown.map((a) => {
        const est = ins.outcomesEstimated.agents.has(a.agent);
        return [
          a.agent,
          String(a.runs),
          String(a.successes),
          usd(a.costNano, est) + unpriced(a.unpricedEvents),
          a.costPerSuccessNano === null ? 'n/a' : usd(a.costPerSuccessNano, est),
          a.costPerUnitNano === null ? 'n/a' : usdFine(a.costPerUnitNano, est),
          ratio(a.roi),
        ];
      }),
    },
    after,
  };
}

function routingSection(ins: Insights): Section {
  const title = 'Cheaper-model candidates (estimate)';
  const r = ins.routing;
  const lines = [
    `Slices with ≥ 5% of the spend and ≥ 2 mechanical signals, re-priced at ${ins.targets.join(', ')}: their real token buckets at the cheaper model's list prices.`,
    'An estimate: another model would not use exactly the same tokens, and quality is not priced (try it on a sample first).',
  ];
  if (r.candidates.length === 0) {
    lines.push(
      `No candidate: ${r.consideredSlices} slice(s) hold ≥ 5% of the spend; none has ≥ 2 signals and a cheaper target.`,
    );
    return { title, lines };
  }
  const shown = r.candidates.slice(0, ins.top);
  const after =
    r.candidates.length > shown.length
      ? [`… and ${r.candidates.length - shown.length} more candidate(s).`]
      : [];
  return {
    title,
    lines,
    table: {
      head: ['Slice', 'Calls', 'Signals', 'Actual', 'Cheaper model', 'Re-priced', 'Saving'],
      right: [false, true, false, true, false, true, true],
      rows: shown.map((c) => [
        `${c.dimension} ${c.key}`,
        groupThousands(c.best.comparedEvents),
        firedSignals(c),
        usd(c.best.actualNano, isEstimated(ins.estimated, c.dimension, c.key)),
        c.best.targetModel,
        `~${formatUsd(c.best.counterfactualNano)}`,
        `~${formatUsd(c.best.savingsNano)} (${pct(c.best.savingsShare, 0)})`,
      ]),
    },
    after,
  };
}

function trendSection(ins: Insights): Section {
  const title = comparisonTitle(ins.period);
  const t = ins.trend;
  if (!t.last && !t.current) return { title, lines: ['No usage yet.'] };
  const label = (k: string | null, partial = false) =>
    k === null ? '' : `${periodLabel(ins.period, k)}${partial ? ' (to date)' : ''}`;
  const cell = (r: PeriodRow | null, est: boolean) =>
    !r ? '' : r.events === 0 ? '–' : usd(r.costNano, est) + unpriced(r.unpricedEvents);
  const flagCell = (c: Comparison) =>
    c.flags
      .map((f) => (f.kind === 'cost' ? `cost creeping ×${f.periods}` : `per call creeping ×${f.periods}`))
      .join(', ');
  const head = ['Agent', label(t.previous), label(t.last), 'Change', label(t.current, true), 'Flags'];
  const row = (c: Comparison) => [
    c.key,
    cell(c.previous, c.estimated),
    cell(c.last, c.estimated),
    c.previous && c.last ? signedPct(c.changePct) : '',
    cell(c.current, c.estimated),
    flagCell(c),
  ];
  const keep = head.map((h, i) => i === 0 || i === 3 || i === 5 || h !== '');
  const pick = <T>(r: T[]) => r.filter((_, i) => keep[i]);
  const lines = [
    `The last two complete ${periodName(ins.period)}s${t.current ? `, and this ${periodName(ins.period)} so far` : ''}. Flagged: cost up > 20% (or cost per call up > 10%) in each of the last 2 complete ${periodName(ins.period)}s.`,
  ];
  const after = [
    ...t.total.flags,
    ...t.agents.flatMap((a) => a.flags.map((f) => ({ ...f, detail: `${a.key}: ${f.detail}` }))),
  ].map((f) => f.detail);
  return {
    title,
    lines,
    table: {
      head: pick(head),
      right: pick(head.map((_, i) => i > 0 && i < 5)),
      rows: t.agents.map((c) => pick(row(c))),
      foot: pick(row({ ...t.total, key: 'Total' })),
    },
    after,
  };
}

function projectionSection(ins: Insights): Section {
  const p = ins.projection;
  const title = `Month-end projection, ${p.month} (estimate)`;
  const est = ins.estimated.events > 0;
  const lines = [`${p.month} so far: ${usd(p.monthToDateNano, est)}${unpriced(p.unpricedEvents)}.`];
  if (p.projectedNano === null || p.dailyMeanNano === null || p.lowNano === null || p.highNano === null) {
    lines.push('No full day of history before today: no projection yet.');
    return { title, lines };
  }
  const first = p.window[0]!.day;
  const last = p.window[p.window.length - 1]!.day;
  lines.push(
    `At the mean of the last ${p.window.length} full day(s) (${first} to ${last}): ~${formatUsd(p.dailyMeanNano)} a day` +
      ` for the ${p.remainingDays.toFixed(1)} day(s) left → ~${formatUsd(p.projectedNano)} by month end` +
      ` (range ~${formatUsd(p.lowNano)}–~${formatUsd(p.highNano)}: the cheapest and the dearest of those days repeated).`,
  );
  lines.push(
    `Days: ${p.window.map((d) => `${d.day.slice(5)} ${usd(d.costNano, est && d.costNano > 0)}`).join(' · ')}`,
  );
  if (p.unpricedEvents) lines.push('Some calls are unpriced: every figure is a lower bound.');
  return { title, lines };
}

function sunsetSection(ins: Insights): Section {
  const s = ins.sunsetting;
  const title = `Rarely used but costly (last ${s.windowDays} days)`;
  const lines = [
    'Agents with ≥ 10% of the spend that were active on ≤ 3 days: retire, merge or schedule them?',
  ];
  if (s.candidates.length === 0) {
    lines.push('None.');
    return { title, lines };
  }
  const shown = s.candidates.slice(0, ins.top);
  return {
    title,
    lines,
    table: {
      head: ['Agent', 'Cost', 'Share', 'Active days', 'Runs', 'Calls', 'Last used'],
      right: [false, true, true, true, true, true, false],
      rows: shown.map((c) => [
        c.key,
        usd(c.costNano, isEstimated(ins.estimated, 'agent', c.key)) + unpriced(c.unpricedEvents),
        pct(c.spendShare),
        String(c.activeDays),
        String(c.runs),
        groupThousands(c.calls),
        day(c.lastUsedMs),
      ]),
    },
    after: s.candidates.length > shown.length ? [`… and ${s.candidates.length - shown.length} more.`] : [],
  };
}

function distillSection(ins: Insights): Section {
  const d = ins.distillation;
  const title = 'Distillation candidates';
  const lines = [
    'Frequent (≥ 100 calls and ≥ 10% of all calls), cheap (≤ half the mean cost per call) and mechanical: work a small tuned model could take over.',
  ];
  if (d.candidates.length === 0) {
    lines.push('None.');
    return { title, lines };
  }
  const shown = d.candidates.slice(0, ins.top);
  return {
    title,
    lines,
    table: {
      head: ['Agent', 'Calls', 'Share of calls', 'Per call', 'Cost', 'Signals'],
      right: [false, true, true, true, true, false],
      rows: shown.map((c) => {
        const est = isEstimated(ins.estimated, 'agent', c.key);
        return [
          c.key,
          groupThousands(c.calls),
          pct(c.callShare),
          usdFine(c.perCallNano, est),
          usd(c.costNano, est) + unpriced(c.unpricedEvents),
          c.mechanical.map((m) => SIGNAL_LABEL[m] ?? m).join(', '),
        ];
      }),
    },
    after: d.candidates.length > shown.length ? [`… and ${d.candidates.length - shown.length} more.`] : [],
  };
}

function templatesSection(ins: Insights): Section {
  const a = ins.templates;
  const title = `Prompt templates by cost (top ${ins.top})`;
  const tagged = a.top.filter((t) => t.template !== '(none)');
  if (a.events === 0 || (tagged.length === 0 && a.rest.templates === 0))
    return {
      title,
      lines: [
        'No call carries a prompt template id: give one in the meter (`meter.run({ template: "triage-v2" }, …)`, recorded as tags.template) to see which prompts cost the most.',
      ],
    };
  return {
    title,
    lines: ['`(none)`: calls without a template id.'],
    table: {
      head: ['Template', 'Calls', 'Cost', 'Share', 'Per call', 'Cache reads', 'Agents'],
      right: [false, true, true, true, true, true, false],
      rows: a.top.map((t) => {
        const est = isEstimated(ins.estimated, 'template', t.template);
        return [
          t.template,
          groupThousands(t.events),
          usd(t.costNano, est) + unpriced(t.unpricedEvents),
          pct(t.share),
          t.perCallNano === null ? 'n/a' : usdFine(t.perCallNano, est),
          t.cacheReadShare === null ? 'n/a' : pct(t.cacheReadShare, 0),
          t.agents.join(', '),
        ];
      }),
    },
    after: a.rest.templates
      ? [
          `… and ${a.rest.templates} more template(s): ${formatUsd(a.rest.costNano)} over ${groupThousands(a.rest.events)} calls.`,
        ]
      : [],
  };
}

function sections(ins: Insights): Section[] {
  return [
    concentrationSection(ins),
    outcomesSection(ins),
    routingSection(ins),
    trendSection(ins),
    projectionSection(ins),
    sunsetSection(ins),
    distillSection(ins),
    templatesSection(ins),
  ];
}

/** What the figures are, what `~` means and what is missing: printed under every rendering. */
export function insightsNotes(ins: Insights, priceData: string): string[] {
  const t = ins.totals;
  const notes = [`$ = list prices (${priceData}) applied to the logged token counts`];
  notes.push(
    '~ marks estimates: counterfactual re-pricing and projections always; other figures when they include calls priced without an exact rate' +
      (t.estimatedEvents ? ` (${groupThousands(t.estimatedEvents)} call(s) here)` : ''),
  );
  if (t.unpricedEvents)
    notes.push(
      `UNPRICED: ${t.unpricedEvents} call(s) of ${[...t.unpricedModels].sort().join(', ')} have no known price and are not in $ (add them to prices.json)`,
    );
  return notes;
}

export interface InsightsMeta {
  /** `ledger <path>`. */
  source: string;
  priceData: string;
  since?: string;
  until?: string;
  /** The period as given (`week`, `sprint:2026-11-02:14`). */
  periodSpec: string;
}

function headerLine(ins: Insights): string {
  const t = ins.totals;
  if (t.events === 0) return 'No usage in range.';
  return (
    `${groupThousands(t.events)} calls · ${usd(t.costNano, t.estimatedEvents > 0)}${unpriced(t.unpricedEvents)}` +
    ` · ${day(t.firstTs)} → ${day(t.lastTs)}`
  );
}

function rangeText(meta: InsightsMeta): string {
  if (!meta.since && !meta.until) return '';
  return ` · ${meta.since ?? '…'} to ${meta.until ?? '…'}`;
}

export function renderInsightsTerminal(ins: Insights, meta: InsightsMeta, style: Style): string {
  const out = [
    style.bold(
      `tokenledger · insights · ${meta.source}${rangeText(meta)} · now ${new Date(ins.nowMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    ),
    headerLine(ins),
  ];
  if (ins.totals.events === 0) {
    out.push('', ...insightsNotes(ins, meta.priceData).map((n) => style.dim(n)));
    return out.join('\n');
  }
  const heads = headlines(ins);
  if (heads.length) out.push('', style.bold('What to look at'), ...heads.map((h) => `  • ${h}`));
  for (const s of sections(ins)) {
    out.push('', style.bold(s.title));
    for (const l of s.lines) out.push(`  ${l}`);
    if (s.table)
      out.push(
        renderTerminalTable(s.table, style)
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n'),
      );
    for (const l of s.after ?? []) out.push(style.dim(`  ${l}`));
  }
  out.push('');
  for (const n of insightsNotes(ins, meta.priceData))
    out.push(n.startsWith('UNPRICED') ? style.yellow(n) : style.dim(n));
  return out.join('\n');
}

export function renderInsightsMarkdown(ins: Insights, meta: InsightsMeta): string {
  const out = [
    `## tokenledger insights · ${day(ins.nowMs)}`,
    '',
    `${headerLine(ins)} · ${meta.source}${rangeText(meta)}`,
  ];
  if (ins.totals.events > 0) {
    const heads = headlines(ins);
    if (heads.length) out.push('', '### Summary', '', ...heads.map((h) => `- ${h}`));
    for (const s of sections(ins)) {
      out.push('', `### ${s.title}`, '');
      out.push(s.lines.join('\n\n'));
      if (s.table) out.push('', renderMarkdownTable(s.table));
      if (s.after?.length) out.push('', ...s.after.map((l) => `- ${l}`));
    }
  }
  out.push('', '---', '', ...insightsNotes(ins, meta.priceData).map((n) => `- ${n}`));
  return escapeTildes(out.join('\n'));
}

/**
 * Markdown for chats and mails: `~` (our estimate mark) is escaped outside code spans, since GitHub,
 * Slack-style and other renderers read `~a … ~b` as strikethrough.
 */
export function escapeTildes(md: string): string {
  return md
    .split(/(`[^`\n]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/~/g, '\\~')))
    .join('');
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/**
 * Money in JSON: every `xNano` field becomes `xUsd` (dollars, a float for reading) and `xNanoUsd`
 * (the exact integer), as in the other commands' JSON.
 */
export function withUsd(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withUsd);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.endsWith('Nano') && (typeof v === 'number' || v === null)) {
      const base = k.slice(0, -4);
      out[`${base}Usd`] = v === null ? null : nanoToUsd(v);
      out[`${base}NanoUsd`] = v;
    } else out[k] = withUsd(v);
  }
  return out;
}

function comparisonJson(c: Comparison) {
  const row = (r: PeriodRow | null) =>
    r && {
      period: r.period,
      costNano: r.costNano,
      events: r.events,
      unpricedEvents: r.unpricedEvents,
      perCallNano: r.perCallNano,
      partial: r.partial,
    };
  return {
    key: c.key,
    previous: row(c.previous),
    last: row(c.last),
    current: row(c.current),
    changePct: c.changePct === null ? null : Math.round(c.changePct * 10) / 10,
    flags: c.flags,
    estimated: c.estimated,
  };
}

function figuresJson(f: OutcomeFigures, estimated: boolean) {
  return { ...f, estimated };
}

export function insightsJson(ins: Insights, meta: InsightsMeta) {
  const est = ins.estimated;
  const t = ins.totals;
  const c = ins.concentration;
  const shareRow = (r: ConcentrationReport['agents'][number]) => ({
    ...r,
    estimated: isEstimated(est, r.dimension, r.key),
  });
  const o = ins.outcomes;
  const top = ins.top;
  return withUsd({
    now: new Date(ins.nowMs).toISOString(),
    source: meta.source,
    since: meta.since ?? null,
    until: meta.until ?? null,
    period: meta.periodSpec,
    priceData: meta.priceData,
    totals: {
      events: t.events,
      costNano: t.costNano,
      estimatedEvents: t.estimatedEvents,
      unpricedEvents: t.unpricedEvents,
      unpricedModels: [...t.unpricedModels].sort(),
      firstSeen: t.events ? new Date(t.firstTs).toISOString() : null,
      lastSeen: t.events ? new Date(t.lastTs).toISOString() : null,
      estimated: t.estimatedEvents > 0,
    },
    headlines: headlines(ins),
    costLeader: ins.costLeader && {
      ...ins.costLeader,
      outcome: ins.costLeader.outcome
        ? figuresJson(ins.costLeader.outcome, ins.outcomesEstimated.agents.has(ins.costLeader.agent))
        : null,
    },
    concentration: {
      totalNano: c.totalNano,
      events: c.events,
      unpricedEvents: c.unpricedEvents,
      topAgent: c.topAgent && { ...shareRow(c.topAgent), flagged: c.topAgent.flagged },
      tiedWithTop: c.tiedWithTop,
      topAgentThreshold: 0.4,
      sliceThreshold: 0.25,
      above: c.above.map(shareRow),
      hhi: c.hhi,
      hhiPoints: c.hhiPoints,
      agents: c.agents.slice(0, top).map(shareRow),
      stages: c.stages.slice(0, top).map(shareRow),
      omittedAgents: Math.max(0, c.agents.length - top),
      omittedStages: Math.max(0, c.stages.length - top),
    },
    outcomes: o && {
      recorded: ins.outcomesStored,
      valuePerSuccessUsd: ins.valuePerSuccessUsd,
      overall: figuresJson(o.overall, ins.outcomesEstimated.overall),
      agents: o.agents.slice(0, top).map((a) => figuresJson(a, ins.outcomesEstimated.agents.has(a.agent))),
      omittedAgents: Math.max(0, o.agents.length - top),
      noOutcome: o.noOutcome,
      noRun: o.noRun,
      outcomesWithoutEvents: o.outcomesWithoutEvents,
      duplicateOutcomes: o.duplicateOutcomes,
    },
    routing: {
      targets: ins.targets,
      consideredSlices: ins.routing.consideredSlices,
      totalNano: ins.routing.totalNano,
      availableSignals: ins.routing.availableSignals,
      candidates: ins.routing.candidates.slice(0, top),
      omitted: Math.max(0, ins.routing.candidates.length - top),
      estimated: true,
    },
    trend: {
      period: meta.periodSpec,
      previous: ins.trend.previous,
      last: ins.trend.last,
      current: ins.trend.current,
      total: comparisonJson(ins.trend.total),
      agents: ins.trend.agents.map(comparisonJson),
    },
    projection: ins.projection,
    sunsetting: {
      ...ins.sunsetting,
      candidates: ins.sunsetting.candidates.slice(0, top).map((s) => ({
        ...s,
        lastUsed: new Date(s.lastUsedMs).toISOString(),
        estimated: isEstimated(est, 'agent', s.key),
      })),
      omitted: Math.max(0, ins.sunsetting.candidates.length - top),
    },
    distillation: {
      ...ins.distillation,
      candidates: ins.distillation.candidates.slice(0, top).map((d) => ({
        ...d,
        estimated: isEstimated(est, 'agent', d.key),
      })),
      omitted: Math.max(0, ins.distillation.candidates.length - top),
    },
    templates: {
      ...ins.templates,
      top: ins.templates.top.map((tr) => ({ ...tr, estimated: isEstimated(est, 'template', tr.template) })),
    },
    notes: insightsNotes(ins, meta.priceData),
  });
}
