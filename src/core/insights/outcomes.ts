import { divRound, groupKey, intTag } from './common.js';
import { type NanoUsd, type UsageEvent, usdToNano } from './deps.js';

/**
 * Outcome economics: what a success costs once the failures and retries it took are paid for.
 *
 * Decisions (the issue left them open):
 * - **Runs without an outcome** are reported apart, under `noOutcome`, and are NOT in any numerator:
 *   nothing says whether they succeeded, so charging them to the successes would be a guess.
 *   Events with no run id at all are reported under `noRun` for the same reason.
 * - **Failed runs and retries are in the numerator**: the cost per success is the cost of every run
 *   that has an outcome (failed ones included; a retried attempt is an event of its run, or a run of
 *   its own with a failed outcome) divided by the successful runs. `failedCostNano` and
 *   `retryCostNano` (events tagged `attempt` > 1) show how much of it is waste.
 * - **Outcomes whose run has no events** in the ledger are listed in `outcomesWithoutEvents` and not
 *   counted: a success whose cost was never seen would make every success look cheaper.
 * - **Duplicate outcomes** for one run: the last one given wins (a later verdict replaces an earlier
 *   one); the run ids are listed in `duplicateOutcomes`.
 * - **Units**: cost per unit = cost of all outcome runs / Σ `units`; an outcome without `units` counts
 *   as 0 units (a failed run usually produced none) and is counted in `unitsMissing`.
 * - **Value**: a successful run is worth its own `valueUsd`, else `valuePerSuccessUsd`; a failed
 *   run's `valueUsd` is ignored. ROI is `null` unless some value was given at all and every success
 *   has one (`valueMissing` counts those without), and when the cost is 0.
 * - **Per agent**: an agent's cost is its own spend in the outcome runs it took part in; its
 *   successes, units and value are those of those runs, in full. Several agents share one success,
 *   so per-agent values and ROIs overlap and do not add up to the overall figure — they answer "is
 *   this agent worth its cost in the runs that need it".
 * - Unpriced events are counted (`unpricedEvents`), never priced at $0: with any, cost figures are
 *   lower bounds; when every call is unpriced the cost is unknown and the ratios and ROI are `null`.
 */

/** The result of one run, from the caller (a test suite, a reviewer, a business metric). */
export interface Outcome {
  run: string;
  success: boolean;
  /** A quality score, averaged over the runs that give one. */
  score?: number;
  /** Units of output (tickets closed, documents written, …), for the cost per unit. */
  units?: number;
  /** What this success is worth, in dollars (overrides `valuePerSuccessUsd`). */
  valueUsd?: number;
  /** When the verdict was recorded (epoch ms); the ledger sets it when absent. Not used in the figures. */
  ts?: number;
  /** Where the verdict came from (`meter`, an import file). Not used in the figures. */
  source?: string;
}

export interface OutcomeOptions {
  /** The value of one success when the outcome does not give its own `valueUsd`. */
  valuePerSuccessUsd?: number;
}

/** The economics of a set of runs with outcomes (all of them, or those an agent took part in). */
export interface OutcomeFigures {
  runs: number;
  successes: number;
  failures: number;
  events: number;
  unpricedEvents: number;
  /** Spend of all these runs, failed ones included. */
  costNano: NanoUsd;
  /** The part of `costNano` spent in failed runs. */
  failedCostNano: NanoUsd;
  /** The part of `costNano` spent by retried attempts (events tagged `attempt` > 1). */
  retryCostNano: NanoUsd;
  /** `costNano / successes`, rounded half up; `null` with no success or no priced call. */
  costPerSuccessNano: NanoUsd | null;
  units: number;
  /** Outcomes without `units` (counted as 0). */
  unitsMissing: number;
  /** `costNano / units`, rounded half up; `null` with no unit or no priced call. */
  costPerUnitNano: NanoUsd | null;
  /** Value of the successes; `null` when no value was given or a success lacks one. */
  valueNano: NanoUsd | null;
  /** Successes with no value (neither `valueUsd` nor `valuePerSuccessUsd`). */
  valueMissing: number;
  /** `(valueNano − costNano) / costNano`: 0.5 = the runs returned 150% of their cost. `null` at $0. */
  roi: number | null;
  /** Mean `score` of the runs that give one; `null` when none does. */
  meanScore: number | null;
  scoredRuns: number;
}

export interface AgentOutcome extends OutcomeFigures {
  agent: string;
}

/** Spend the outcome figures leave out. */
export interface UncountedSpend {
  runs: number;
  events: number;
  unpricedEvents: number;
  costNano: NanoUsd;
}

export interface OutcomeReport {
  overall: OutcomeFigures;
  /** By cost, highest first (ties by name). */
  agents: AgentOutcome[];
  /** Runs in the ledger without an outcome: not in any numerator. */
  noOutcome: UncountedSpend;
  /** Events without a run id: not in any numerator (`runs` is 0). */
  noRun: UncountedSpend;
  /** Outcomes for runs with no event in the ledger (not counted). */
  outcomesWithoutEvents: string[];
  /** Runs given more than one outcome (the last one counted). */
  duplicateOutcomes: string[];
}

interface RunSpend {
  events: number;
  unpricedEvents: number;
  costNano: number;
  retryCostNano: number;
}

const emptySpend = (): RunSpend => ({ events: 0, unpricedEvents: 0, costNano: 0, retryCostNano: 0 });

function addSpend(s: RunSpend, e: UsageEvent): void {
  s.events++;
  if (e.cost.nanoUsd === null) {
    s.unpricedEvents++;
    return;
  }
  s.costNano += e.cost.nanoUsd;
  if ((intTag(e, 'attempt') ?? 1) > 1) s.retryCostNano += e.cost.nanoUsd;
}

class FiguresAcc {
  runs = 0;
  successes = 0;
  events = 0;
  unpricedEvents = 0;
  costNano = 0;
  failedCostNano = 0;
  retryCostNano = 0;
  units = 0;
  unitsMissing = 0;
  valueNano = 0;
  valueMissing = 0;
  scoreSum = 0;
  scoredRuns = 0;

  add(o: Outcome, spend: RunSpend, valueNano: number | null): void {
    this.runs++;
    this.events += spend.events;
    this.unpricedEvents += spend.unpricedEvents;
    this.costNano += spend.costNano;
    this.retryCostNano += spend.retryCostNano;
    if (o.success) {
      this.successes++;
      if (valueNano === null) this.valueMissing++;
      else this.valueNano += valueNano;
    } else this.failedCostNano += spend.costNano;
    if (o.units === undefined) this.unitsMissing++;
    else this.units += o.units;
    if (o.score !== undefined) {
      this.scoreSum += o.score;
      this.scoredRuns++;
    }
  }

  figures(valueGiven: boolean): OutcomeFigures {
    const valueNano = valueGiven && this.valueMissing === 0 ? this.valueNano : null;
    // Runs whose every call is unpriced have no known cost: a ratio of it would be a $0 in disguise.
    const known = this.events > this.unpricedEvents;
    return {
      runs: this.runs,
      successes: this.successes,
      failures: this.runs - this.successes,
      events: this.events,
      unpricedEvents: this.unpricedEvents,
      costNano: this.costNano,
      failedCostNano: this.failedCostNano,
      retryCostNano: this.retryCostNano,
      costPerSuccessNano: known ? divRound(this.costNano, this.successes) : null,
      units: this.units,
      unitsMissing: this.unitsMissing,
      // Units may be fractional (hours, pages): a plain division, rounded half up.
      costPerUnitNano: known && this.units > 0 ? Math.round(this.costNano / this.units) : null,
      valueNano,
      valueMissing: this.valueMissing,
      roi:
        known && valueNano !== null && this.costNano > 0 ? (valueNano - this.costNano) / this.costNano : null,
      meanScore: this.scoredRuns > 0 ? this.scoreSum / this.scoredRuns : null,
      scoredRuns: this.scoredRuns,
    };
  }
}

/**
 * Cost per success, per unit and ROI, overall and per agent (see the module notes for what is
 * counted where).
 *
 * @example
 * // r1 failed ($2), r2 succeeded ($3): each success cost $5, and at $10 a success ROI is +100%.
 * const r = outcomeEconomics(events, [
 *   { run: 'r1', success: false },
 *   { run: 'r2', success: true },
 * ], { valuePerSuccessUsd: 10 });
 * r.overall.costPerSuccessNano; // 5_000_000_000
 * r.overall.roi; // 1
 */
export function outcomeEconomics(
  events: Iterable<UsageEvent>,
  outcomes: readonly Outcome[],
  opts: OutcomeOptions = {},
): OutcomeReport {
  const byRun = new Map<string, Outcome>();
  const duplicates = new Set<string>();
  for (const o of outcomes) {
    if (byRun.has(o.run)) duplicates.add(o.run);
    byRun.set(o.run, o);
  }
  const valueGiven = opts.valuePerSuccessUsd !== undefined || outcomes.some((o) => o.valueUsd !== undefined);

  // run → its spend, and its spend per agent
  const runs = new Map<string, { total: RunSpend; agents: Map<string, RunSpend> }>();
  const noRun = emptySpend();
  for (const e of events) {
    const run = e.attribution.run;
    if (run === undefined) {
      addSpend(noRun, e);
      continue;
    }
    let r = runs.get(run);
    if (!r) {
      r = { total: emptySpend(), agents: new Map() };
      runs.set(run, r);
    }
    addSpend(r.total, e);
    const agent = groupKey(e, 'agent');
    let a = r.agents.get(agent);
    if (!a) {
      a = emptySpend();
      r.agents.set(agent, a);
    }
    addSpend(a, e);
  }

  const overall = new FiguresAcc();
  const agents = new Map<string, FiguresAcc>();
  const noOutcome: UncountedSpend = { runs: 0, events: 0, unpricedEvents: 0, costNano: 0 };
  for (const [run, spend] of runs) {
    const o = byRun.get(run);
    if (!o) {
      noOutcome.runs++;
      noOutcome.events += spend.total.events;
      noOutcome.unpricedEvents += spend.total.unpricedEvents;
      noOutcome.costNano += spend.total.costNano;
      continue;
    }
    const usd = o.success ? (o.valueUsd ?? opts.valuePerSuccessUsd) : undefined;
    const value = usd === undefined ? null : usdToNano(usd);
    overall.add(o, spend.total, value);
    for (const [agent, s] of spend.agents) {
      let acc = agents.get(agent);
      if (!acc) {
        acc = new FiguresAcc();
        agents.set(agent, acc);
      }
      acc.add(o, s, value);
    }
  }

  const agentRows: AgentOutcome[] = [...agents].map(([agent, acc]) => ({
    agent,
    ...acc.figures(valueGiven),
  }));
  agentRows.sort((a, b) => b.costNano - a.costNano || (a.agent < b.agent ? -1 : 1));
  return {
    overall: overall.figures(valueGiven),
    agents: agentRows,
    noOutcome,
    noRun: { runs: 0, events: noRun.events, unpricedEvents: noRun.unpricedEvents, costNano: noRun.costNano },
    outcomesWithoutEvents: [...byRun.keys()].filter((run) => !runs.has(run)).sort(),
    duplicateOutcomes: [...duplicates].sort(),
  };
}
