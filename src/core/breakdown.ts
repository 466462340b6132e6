import {
  addEvent,
  dayOf,
  type EventFilter,
  emptyTally,
  matchesFilter,
  sortGroups,
  type Tally,
  UNKNOWN_KEY,
} from './aggregate.js';
import type { UsageEvent } from './event.js';

/** One agent on one local day. */
export interface AgentDayCell {
  agent: string;
  day: string;
  tally: Tally;
}

/** Money flowing from a run through an agent to a model: the spend of one (run, agent, model). */
export interface Flow {
  /** The run key (see `runKeyOf`). */
  run: string;
  agent: string;
  /** The model as `--by model` groups it (speed mode included). */
  model: string;
  tally: Tally;
}

/** Everything the dashboard and the money-flow graph draw, from one pass over the events. */
export interface Breakdown {
  totals: Tally;
  /** Chronological. */
  days: Tally[];
  /** Costliest first (as `--by agent`). */
  agents: Tally[];
  /** Costliest first (as `--by model`). */
  models: Tally[];
  /** Only the (agent, day) pairs that have events; agents costliest first, then days in order. */
  cells: AgentDayCell[];
  /** Costliest first. */
  flows: Flow[];
  /** A short label per run key: `sample-research · wf_sample-001`, `session 6f1c2d3e…`. */
  runLabels: Map<string, string>;
}

/** Events outside any run, session or trace flow from this run key. */
export const NO_RUN_KEY = '(no run)';

/**
 * What an event belongs to, as the first column of the money flow: its run (a workflow run, an
 * OTLP trace, a metered run), else its Claude Code session, else `(no run)`.
 */
export function runKeyOf(e: UsageEvent): string {
  return e.attribution.run ?? (e.attribution.session ? `session:${e.attribution.session}` : NO_RUN_KEY);
}

function runLabelOf(e: UsageEvent, key: string, full: boolean): string {
  const a = e.attribution;
  const short = (id: string) => (!full && id.length > 12 ? `${id.slice(0, 8)}…` : id);
  if (key === NO_RUN_KEY) return key;
  if (a.run === undefined) return `session ${short(a.session ?? '')}`;
  if (e.source === 'workflow') {
    // A run without its own id is known by its file: show the file name.
    const id = a.run.split(/[\\/]/).pop() || a.run;
    return a.workflow ? `${a.workflow} · ${id}` : id;
  }
  if (e.source === 'otlp') return `trace ${short(a.run)}`;
  return `run ${short(a.run)}`;
}

function tallyIn(map: Map<string, Tally>, key: string, e: UsageEvent): void {
  let t = map.get(key);
  if (!t) {
    t = emptyTally(key);
    map.set(key, t);
  }
  addEvent(t, e);
}

const byCost = (a: Tally, b: Tally) =>
  b.costNano - a.costNano || b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Tallies the events by day, agent, model, agent × day and run → agent → model in one pass (a
 * ledger of 100k events is read once). Keys are those of `aggregate`, so each list equals the
 * matching `--by` report.
 */
export function breakdown(events: Iterable<UsageEvent>, filter: EventFilter = {}): Breakdown {
  const totals = emptyTally('total');
  const days = new Map<string, Tally>();
  const agents = new Map<string, Tally>();
  const models = new Map<string, Tally>();
  const cells = new Map<string, Tally>();
  const flows = new Map<string, Tally>();
  /** Run key → [short label, full label]. */
  const labels = new Map<string, [string, string]>();
  for (const e of events) {
    if (!matchesFilter(e, filter)) continue;
    const day = dayOf(e.ts);
    const agent = e.attribution.agentName ?? UNKNOWN_KEY;
    const model = e.speed ? `${e.model} (${e.speed})` : e.model;
    const run = runKeyOf(e);
    if (!labels.has(run)) labels.set(run, [runLabelOf(e, run, false), runLabelOf(e, run, true)]);
    addEvent(totals, e);
    tallyIn(days, day, e);
    tallyIn(agents, agent, e);
    tallyIn(models, model, e);
    tallyIn(cells, JSON.stringify([agent, day]), e);
    tallyIn(flows, JSON.stringify([run, agent, model]), e);
  }
  // Short ids (`session 6f1c2d3e…`) unless two runs would look alike.
  const seen = new Map<string, number>();
  for (const [short] of labels.values()) seen.set(short, (seen.get(short) ?? 0) + 1);
  const runLabels = new Map(
    [...labels].map(([k, [short, full]]) => [k, seen.get(short)! > 1 ? full : short]),
  );
  const agentList = sortGroups([...agents.values()], 'agent');
  const agentRank = new Map(agentList.map((t, i) => [t.key, i]));
  const cellList = [...cells.values()].map((tally) => {
    const [agent, day] = JSON.parse(tally.key) as [string, string];
    return { agent, day, tally: { ...tally, key: `${agent} · ${day}` } };
  });
  cellList.sort(
    (a, b) =>
      agentRank.get(a.agent)! - agentRank.get(b.agent)! || (a.day < b.day ? -1 : a.day > b.day ? 1 : 0),
  );
  const flowList = [...flows.values()].sort(byCost).map((tally) => {
    const [run, agent, model] = JSON.parse(tally.key) as [string, string, string];
    return { run, agent, model, tally: { ...tally, key: `${run} → ${agent} → ${model}` } };
  });
  return {
    totals,
    days: sortGroups([...days.values()], 'day'),
    agents: agentList,
    models: sortGroups([...models.values()], 'model'),
    cells: cellList,
    flows: flowList,
    runLabels,
  };
}
