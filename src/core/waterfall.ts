import type { UsageEvent } from './event.js';
import { checkRunHealth, type HealthOptions, type RunHealth, type StageHistory, stagesOf } from './health.js';
import type { NanoUsd } from './money.js';
import type { RunSummary } from './run.js';

/** One row of a run's waterfall. */
export interface StageView {
  name: string;
  tokens: number;
  /** Share of the run's total (its reported total when it has one), in percent. */
  sharePct: number;
  /** Estimated cost of the priced agents. */
  costNano: NanoUsd;
  agents: number;
  unpricedAgents: number;
}

/** A run with its health and per-stage figures: what `runs` and `report` show. */
export interface RunView {
  run: RunSummary;
  health: RunHealth;
  stages: StageView[];
  costNano: NanoUsd;
  unpricedAgents: number;
  unpricedModels: string[];
}

export type StageOrder = 'tokens' | 'phase';

/**
 * Stage totals of earlier healthy runs of the same workflow (a run's own baseline). `earlier` may
 * hold any runs: only those of the same workflow that started before `run` and were healthy count.
 */
export function historyFor(run: RunSummary, earlier: RunSummary[], opts?: HealthOptions): StageHistory {
  const history: StageHistory = new Map();
  if (!run.workflow) return history;
  const past = earlier
    .filter((r) => r.workflow === run.workflow && r.id !== run.id && r.ts < run.ts)
    .filter((r) => {
      const h = checkRunHealth(r, opts);
      return !h.degraded && h.invariantOk;
    });
  for (const r of past) {
    for (const s of stagesOf(r)) {
      if (s.agents.length === 0) continue;
      const list = history.get(s.name) ?? [];
      list.push(s.tokens);
      history.set(s.name, list);
    }
  }
  return history;
}

/** Builds a run's waterfall from its summary and its agents' (priced) events. */
export function runView(
  run: RunSummary,
  events: UsageEvent[],
  order: StageOrder = 'tokens',
  opts?: HealthOptions,
  history?: StageHistory,
): RunView {
  const health = checkRunHealth(run, opts, history);
  const cost = new Map<string, { nano: number; unpriced: number }>();
  const unpricedModels = new Set<string>();
  for (const e of events) {
    const stage = e.attribution.stage ?? '';
    const c = cost.get(stage) ?? { nano: 0, unpriced: 0 };
    if (e.cost.nanoUsd === null) {
      c.unpriced++;
      unpricedModels.add(e.model);
    } else c.nano += e.cost.nanoUsd;
    cost.set(stage, c);
  }
  const total = health.totalTokens;
  const stages: StageView[] = stagesOf(run)
    .filter((s) => s.agents.length > 0)
    .map((s) => ({
      name: s.name,
      tokens: s.tokens,
      sharePct: total > 0 ? (s.tokens / total) * 100 : 0,
      costNano: cost.get(s.name)?.nano ?? 0,
      agents: s.agents.length,
      unpricedAgents: cost.get(s.name)?.unpriced ?? 0,
    }));
  if (order === 'tokens') stages.sort((a, b) => b.tokens - a.tokens);
  return {
    run,
    health,
    stages,
    costNano: stages.reduce((n, s) => n + s.costNano, 0),
    unpricedAgents: stages.reduce((n, s) => n + s.unpricedAgents, 0),
    unpricedModels: [...unpricedModels].sort(),
  };
}
