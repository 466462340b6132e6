import { emptyTally, mergeTally, type Tally } from '../core/aggregate.js';
import type { Breakdown } from '../core/breakdown.js';
import type { Problem } from '../core/event.js';
import { totalTokens } from '../core/usage.js';
import type { RunView } from '../core/waterfall.js';
import { DEFAULT_FLOW_LIMITS, type FlowColumn, type FlowLimits, flowGraph } from './flow.js';
import { runJson, summarizeRuns } from './runs.js';
import { MAX_LISTED_PROBLEMS, tallyJson } from './spend.js';

/** What the HTML dashboard is drawn from. */
export interface DashboardInput {
  /** `ledger <path>` or `<n> files, no ledger`. */
  source: string;
  totals: Tally;
  notes: string[];
  breakdown: Breakdown;
  /** Workflow runs with their waterfalls (ids and files as the user would type them). */
  runs: RunView[];
  inputSharePct: number;
  problems: Problem[];
}

/** The figures of one chart point: exact nano-dollars, and what they leave out. */
export interface PointFigures {
  costNanoUsd: number;
  events: number;
  totalTokens: number;
  /** Some of the dollars are estimates (shown with `~`). */
  estimated: boolean;
  /** Events with no known price: in the tokens, not in the dollars. */
  unpricedEvents: number;
}

export interface PieSlice extends PointFigures {
  agent: string;
  /** Agents in the slice (more than 1 for the folded `N other agents`). */
  agents: number;
  sharePct: number;
}

export interface HeatCell extends PointFigures {
  agent: string;
  day: string;
}

export interface FlowNodeData extends PointFigures {
  id: string;
  column: FlowColumn;
  label: string;
  members: number;
}

export interface FlowEdgeData extends PointFigures {
  from: string;
  to: string;
  costliest: boolean;
}

export interface WaterfallStep {
  name: string;
  tokens: number;
  /** Where the stage's bar starts and how long it is, in percent of the run's total. */
  startPct: number;
  sharePct: number;
  costNanoUsd: number;
  agents: number;
  unpricedAgents: number;
}

type Figures = ReturnType<typeof tallyJson>;

/**
 * Everything the dashboard draws, as plain JSON: embedded in the page as
 * `<script type="application/json" id="tokenledger-data">` so anyone can read exactly what was drawn.
 */
export interface DashboardData {
  format: 'tokenledger-dashboard';
  version: 1;
  source: string;
  /** First and last local day with events; null for an empty report. */
  period: { from: string; to: string } | null;
  totals: Figures;
  notes: string[];
  byDay: (Figures & { key: string })[];
  byAgent: (Figures & { key: string })[];
  byModel: (Figures & { key: string })[];
  charts: {
    /** One bar per day with events; `axis` is every day drawn on the x axis (gaps are empty slots). */
    spendOverTime: { axis: string[]; bars: (PointFigures & { day: string })[] };
    /** One slice per agent with priced spend (the smallest folded into one); `unpriced` agents have no slice. */
    agentPie: { slices: PieSlice[]; unpricedAgents: string[] };
    /** Rows: agents (the smallest folded into one row); columns: days with events; one cell per pair with events. */
    heatmap: { agents: string[]; days: string[]; cells: HeatCell[] };
    moneyFlow: {
      nodes: FlowNodeData[];
      edges: FlowEdgeData[];
      costliest: { run: string; agent: string; model: string; costNanoUsd: number } | null;
    };
  };
  runs: (ReturnType<typeof runJson> & {
    costNanoUsd: number;
    inputSharePct: number;
    waterfall: WaterfallStep[];
  })[];
  runsSummary: ReturnType<typeof summarizeRuns>;
  problems: Problem[];
  problemCount: number;
}

export interface DashboardLimits extends FlowLimits {
  /** Slices in the pie (the smallest agents folded into one). */
  pieSlices: number;
  /** Rows in the heatmap. */
  heatmapAgents: number;
  /** The time axis shows every day (empty ones too) up to this many days; beyond, days with events only. */
  continuousDays: number;
}

export const DEFAULT_DASHBOARD_LIMITS: DashboardLimits = {
  ...DEFAULT_FLOW_LIMITS,
  pieSlices: 10,
  heatmapAgents: 15,
  continuousDays: 120,
};

export function pointFigures(t: Tally): PointFigures {
  return {
    costNanoUsd: t.costNano,
    events: t.events,
    totalTokens: totalTokens(t.usage),
    estimated: t.estimatedEvents > 0,
    unpricedEvents: t.unpricedEvents,
  };
}

const keyed = (t: Tally) => ({ key: t.key, ...tallyJson(t) });

/** `YYYY-MM-DD` → the next calendar day (string arithmetic in UTC: no time zone can shift it). */
function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

function timeAxis(days: string[], maxContinuous: number): string[] {
  const first = days[0];
  const last = days[days.length - 1];
  if (first === undefined || last === undefined) return [];
  const axis: string[] = [];
  for (let d = first; d <= last && axis.length <= maxContinuous; d = nextDay(d)) axis.push(d);
  return axis.length > maxContinuous ? days : axis;
}

/** Keeps the first `limit - 1` of a ranked list and folds the rest into one (when there are 2+ to fold). */
function fold<T>(ranked: T[], limit: number): { kept: T[]; rest: T[] } {
  if (ranked.length <= limit) return { kept: ranked, rest: [] };
  const keep = Math.max(1, limit - 1);
  return { kept: ranked.slice(0, keep), rest: ranked.slice(keep) };
}

const others = (n: number) => `${n} other agent${n > 1 ? 's' : ''}`;

export function dashboardData(
  input: DashboardInput,
  limits: DashboardLimits = DEFAULT_DASHBOARD_LIMITS,
): DashboardData {
  const b = input.breakdown;
  const dayKeys = b.days.map((d) => d.key);

  // Pie: agents with priced spend, costliest first (b.agents is sorted so).
  const priced = b.agents.filter((a) => a.costNano > 0);
  const pie = fold(priced, limits.pieSlices);
  const pieTotal = priced.reduce((n, a) => n + a.costNano, 0);
  const slice = (agent: string, agents: number, t: Tally): PieSlice => ({
    agent,
    agents,
    sharePct: pieTotal > 0 ? (t.costNano / pieTotal) * 100 : 0,
    ...pointFigures(t),
  });
  const slices = pie.kept.map((a) => slice(a.key, 1, a));
  if (pie.rest.length) {
    const t = emptyTally('other');
    for (const a of pie.rest) mergeTally(t, a);
    slices.push(slice(others(pie.rest.length), pie.rest.length, t));
  }

  // Heatmap: the costliest agents, the rest folded into one row.
  const rows = fold(b.agents, limits.heatmapAgents);
  const rowOf = new Map<string, string>(rows.kept.map((a) => [a.key, a.key]));
  const otherRow = rows.rest.length ? others(rows.rest.length) : undefined;
  for (const a of rows.rest) rowOf.set(a.key, otherRow!);
  const cellTallies = new Map<string, Tally>();
  for (const c of b.cells) {
    const agent = rowOf.get(c.agent)!;
    const key = JSON.stringify([agent, c.day]);
    let t = cellTallies.get(key);
    if (!t) {
      t = emptyTally(key);
      cellTallies.set(key, t);
    }
    mergeTally(t, c.tally);
  }
  const heatAgents = [...rows.kept.map((a) => a.key), ...(otherRow ? [otherRow] : [])];
  const rowRank = new Map(heatAgents.map((a, i) => [a, i]));
  const cells: HeatCell[] = [...cellTallies.values()]
    .map((t) => {
      const [agent, day] = JSON.parse(t.key) as [string, string];
      return { agent, day, ...pointFigures(t) };
    })
    .sort((x, y) => rowRank.get(x.agent)! - rowRank.get(y.agent)! || (x.day < y.day ? -1 : 1));

  const g = flowGraph(b, limits);

  const runs = input.runs.map((v) => {
    let start = 0;
    const waterfall = v.stages.map((s) => {
      const step: WaterfallStep = {
        name: s.name,
        tokens: s.tokens,
        startPct: start,
        sharePct: s.sharePct,
        costNanoUsd: s.costNano,
        agents: s.agents,
        unpricedAgents: s.unpricedAgents,
      };
      start += s.sharePct;
      return step;
    });
    return { ...runJson(v), costNanoUsd: v.costNano, inputSharePct: input.inputSharePct, waterfall };
  });

  const first = dayKeys[0];
  const last = dayKeys[dayKeys.length - 1];
  return {
    format: 'tokenledger-dashboard',
    version: 1,
    source: input.source,
    period: first !== undefined && last !== undefined ? { from: first, to: last } : null,
    totals: tallyJson(input.totals),
    notes: input.notes,
    byDay: b.days.map(keyed),
    byAgent: b.agents.map(keyed),
    byModel: b.models.map(keyed),
    charts: {
      spendOverTime: {
        axis: timeAxis(dayKeys, limits.continuousDays),
        bars: b.days.map((d) => ({ day: d.key, ...pointFigures(d) })),
      },
      agentPie: { slices, unpricedAgents: b.agents.filter((a) => a.costNano === 0).map((a) => a.key) },
      heatmap: { agents: heatAgents, days: dayKeys, cells },
      moneyFlow: {
        nodes: g.nodes.map((n) => ({
          id: n.id,
          column: n.column,
          label: n.label,
          members: n.members,
          ...pointFigures(n.tally),
        })),
        edges: g.edges.map((e) => ({
          from: e.from,
          to: e.to,
          costliest: e.costliest,
          ...pointFigures(e.tally),
        })),
        costliest: g.costliest
          ? {
              run: b.runLabels.get(g.costliest.run) ?? g.costliest.run,
              agent: g.costliest.agent,
              model: g.costliest.model,
              costNanoUsd: g.costliest.tally.costNano,
            }
          : null,
      },
    },
    runs,
    runsSummary: summarizeRuns(input.runs),
    problems: input.problems.slice(0, MAX_LISTED_PROBLEMS),
    problemCount: input.problems.length,
  };
}
