import { emptyTally, mergeTally, type Tally } from '../core/aggregate.js';
import type { Breakdown, Flow } from '../core/breakdown.js';
import { formatUsd } from '../core/money.js';

/** The three columns of the money flow. */
export type FlowColumn = 'run' | 'agent' | 'model';
export const FLOW_COLUMNS: readonly FlowColumn[] = ['run', 'agent', 'model'];

export interface FlowNode {
  /** Unique, made of `[A-Za-z0-9_]` only (a Mermaid node id as it is). */
  id: string;
  column: FlowColumn;
  /** The run key, agent name or model; `(other …)` for the folded rest. */
  key: string;
  label: string;
  tally: Tally;
  /** How many runs/agents/models a folded `(other …)` node holds (1 for the others). */
  members: number;
}

export interface FlowEdge {
  from: string;
  to: string;
  tally: Tally;
  /** On the costliest (run, agent, model) path. */
  costliest: boolean;
}

/** Run → agent → model, the smaller ones folded into one `other` node per column. */
export interface FlowGraph {
  nodes: FlowNode[];
  /** Run → agent edges first, then agent → model; each group in node order. */
  edges: FlowEdge[];
  /** The single (run, agent, model) that cost the most, before folding; none when nothing is priced. */
  costliest?: { run: string; agent: string; model: string; tally: Tally };
}

export interface FlowLimits {
  runs: number;
  agents: number;
  models: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = { runs: 8, agents: 10, models: 8 };

/** `~$1.23`, `$0.05 + 2 unpriced`, `unpriced`: dollars with what they leave out. */
export function costText(t: Tally, digits = 2): string {
  if (t.events > 0 && t.unpricedEvents === t.events) return 'unpriced';
  const usd = `${t.estimatedEvents > 0 ? '~' : ''}${formatUsd(t.costNano, digits)}`;
  return t.unpricedEvents > 0 ? `${usd} + ${t.unpricedEvents} unpriced` : usd;
}

const byCost = (a: Tally, b: Tally) =>
  b.costNano - a.costNano || b.events - a.events || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** A node id: the column and the name with every other character turned into `_`, made unique. */
function idMaker(): (column: FlowColumn, name: string) => string {
  const used = new Set<string>();
  return (column, name) => {
    const base = `${column}_${name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`
      .slice(0, 48)
      .replace(/_+$/, '');
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    return id;
  };
}

const OTHER: Record<FlowColumn, (n: number) => string> = {
  run: (n) => `${n} other run${n > 1 ? 's' : ''}`,
  agent: (n) => `${n} other agent${n > 1 ? 's' : ''}`,
  model: (n) => `${n} other model${n > 1 ? 's' : ''}`,
};

/**
 * The money-flow graph of a breakdown: every run, agent and model a node, every (run, agent) and
 * (agent, model) pair carrying spend an edge. Beyond `limits` per column the cheapest are folded
 * into one `N other …` node, so a year of sessions still draws as a readable graph. Money is kept:
 * each column's nodes add up to the total.
 */
export function flowGraph(b: Breakdown, limits: FlowLimits = DEFAULT_FLOW_LIMITS): FlowGraph {
  const perColumn: Record<FlowColumn, Map<string, Tally>> = {
    run: new Map(),
    agent: new Map(),
    model: new Map(),
  };
  const keyOf = (f: Flow, c: FlowColumn) => (c === 'run' ? f.run : c === 'agent' ? f.agent : f.model);
  for (const f of b.flows) {
    for (const c of FLOW_COLUMNS) {
      const k = keyOf(f, c);
      let t = perColumn[c].get(k);
      if (!t) {
        t = emptyTally(k);
        perColumn[c].set(k, t);
      }
      mergeTally(t, f.tally);
    }
  }
  const makeId = idMaker();
  const nodes: FlowNode[] = [];
  /** Column → original key → node. */
  const nodeOf: Record<FlowColumn, Map<string, FlowNode>> = {
    run: new Map(),
    agent: new Map(),
    model: new Map(),
  };
  const limitOf: Record<FlowColumn, number> = {
    run: limits.runs,
    agent: limits.agents,
    model: limits.models,
  };
  for (const c of FLOW_COLUMNS) {
    const ranked = [...perColumn[c].values()].sort(byCost);
    // Folding one node into "1 other" would hide it for nothing: fold two or more.
    const keep = ranked.length > limitOf[c] ? Math.max(1, limitOf[c] - 1) : ranked.length;
    for (const t of ranked.slice(0, keep)) {
      const label = c === 'run' ? (b.runLabels.get(t.key) ?? t.key) : t.key;
      const node: FlowNode = { id: makeId(c, label), column: c, key: t.key, label, tally: t, members: 1 };
      nodes.push(node);
      nodeOf[c].set(t.key, node);
    }
    const rest = ranked.slice(keep);
    if (rest.length) {
      const label = OTHER[c](rest.length);
      const tally = emptyTally(`(other ${c}s)`);
      for (const t of rest) mergeTally(tally, t);
      const node: FlowNode = {
        id: makeId(c, `other_${c}s`),
        column: c,
        key: tally.key,
        label,
        tally,
        members: rest.length,
      };
      nodes.push(node);
      for (const t of rest) nodeOf[c].set(t.key, node);
    }
  }
  const edgeMap = new Map<string, FlowEdge>();
  const edge = (from: FlowNode, to: FlowNode, t: Tally) => {
    const key = `${from.id} ${to.id}`;
    let e = edgeMap.get(key);
    if (!e) {
      e = { from: from.id, to: to.id, tally: emptyTally(`${from.key} → ${to.key}`), costliest: false };
      edgeMap.set(key, e);
    }
    mergeTally(e.tally, t);
    return e;
  };
  const top = b.flows.reduce<Flow | undefined>(
    (best, f) => (f.tally.costNano > (best?.tally.costNano ?? 0) ? f : best),
    undefined,
  );
  for (const f of b.flows) {
    const run = nodeOf.run.get(f.run)!;
    const agent = nodeOf.agent.get(f.agent)!;
    const model = nodeOf.model.get(f.model)!;
    const e1 = edge(run, agent, f.tally);
    const e2 = edge(agent, model, f.tally);
    if (f === top) e1.costliest = e2.costliest = true;
  }
  // Nodes are listed column by column, so this puts run → agent edges before agent → model ones.
  const order = new Map(nodes.map((n, i) => [n.id, i]));
  const edges = [...edgeMap.values()].sort(
    (a, b) => order.get(a.from)! - order.get(b.from)! || order.get(a.to)! - order.get(b.to)!,
  );
  return {
    nodes,
    edges,
    ...(top ? { costliest: { run: top.run, agent: top.agent, model: top.model, tally: top.tally } } : {}),
  };
}
