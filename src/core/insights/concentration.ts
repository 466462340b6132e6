import {
  addToSum,
  byCostThenKey,
  type Dimension,
  emptySum,
  groupKey,
  ratioAbove,
  shareOf,
} from './common.js';
import type { NanoUsd, UsageEvent } from './deps.js';

/**
 * Spend concentration: is one agent (or stage) eating the budget?
 *
 * Shares are of the PRICED spend: unpriced events have no cost to share and are counted apart
 * (`unpricedEvents`), so with unpriced events every share is "of what is known". Events without an
 * agent (or stage) form one `(unknown)` row, which also takes part in the Herfindahl index as one
 * agent: spend nobody is named for is not spread over anybody.
 */

export interface ConcentrationOptions {
  /** The top agent is flagged above this share (default 0.4: "more than 40%"). */
  topAgentShare?: number;
  /** Every agent and stage above this share is listed (default 0.25). */
  sliceShare?: number;
}

export interface ShareRow {
  dimension: Extract<Dimension, 'agent' | 'stage'>;
  key: string;
  /** The exact numerator of `share`. */
  costNano: NanoUsd;
  events: number;
  unpricedEvents: number;
  /** `costNano / totalNano`, in [0, 1]. */
  share: number;
}

export interface ConcentrationReport {
  /** Priced spend: the exact denominator of every share. */
  totalNano: NanoUsd;
  events: number;
  unpricedEvents: number;
  /** Every agent, by cost (ties by name). */
  agents: ShareRow[];
  /** Every stage, by cost (ties by name). */
  stages: ShareRow[];
  /** The costliest agent; on a tie the first by name (the others are in `tiedWithTop`). */
  topAgent: (ShareRow & { flagged: boolean }) | null;
  /** Agents with exactly the top agent's cost. */
  tiedWithTop: string[];
  /** Agents, then stages, whose share is above `sliceShare`. */
  above: ShareRow[];
  /**
   * Herfindahl–Hirschman index over agents' shares, Σ sᵢ², in [1/n, 1]: 1 = one agent spends it all.
   * `null` when nothing is priced.
   */
  hhi: number | null;
  /** The same on the antitrust scale, Σ (100·sᵢ)², 0–10,000 (above 2,500 is "highly concentrated"). */
  hhiPoints: number | null;
}

function rows(events: readonly UsageEvent[], dim: ShareRow['dimension'], total: number): ShareRow[] {
  const sums = new Map<string, ReturnType<typeof emptySum>>();
  for (const e of events) {
    const key = groupKey(e, dim);
    let s = sums.get(key);
    if (!s) {
      s = emptySum();
      sums.set(key, s);
    }
    addToSum(s, e);
  }
  return [...sums]
    .map(([key, s]) => ({
      dimension: dim,
      key,
      costNano: s.costNano,
      events: s.events,
      unpricedEvents: s.unpricedEvents,
      share: shareOf(s.costNano, total),
    }))
    .sort(byCostThenKey);
}

/**
 * Who holds the spend: the top agent's share (flagged above 40%), every agent and stage above 25%,
 * and the Herfindahl index over agents.
 *
 * @example
 * // planner 6,000,000 nano, coder 3,000,000, tester 1,000,000 of 10,000,000:
 * const c = concentration(events);
 * c.topAgent; // { key: 'planner', share: 0.6, flagged: true, … }
 * c.hhi; // 0.36 + 0.09 + 0.01 = 0.46 → c.hhiPoints 4,600
 */
export function concentration(
  events: Iterable<UsageEvent>,
  opts: ConcentrationOptions = {},
): ConcentrationReport {
  const topLimit = opts.topAgentShare ?? 0.4;
  const sliceLimit = opts.sliceShare ?? 0.25;
  const list = [...events];
  const total = emptySum();
  for (const e of list) addToSum(total, e);
  const T = total.costNano;
  const agents = rows(list, 'agent', T);
  const stages = rows(list, 'stage', T);

  const first = agents[0];
  const top = first && T > 0 ? { ...first, flagged: ratioAbove(first.costNano, T, 1, 1, topLimit) } : null;
  const tiedWithTop = top
    ? agents
        .slice(1)
        .filter((a) => a.costNano === top.costNano)
        .map((a) => a.key)
    : [];
  const above =
    T > 0 ? [...agents, ...stages].filter((r) => ratioAbove(r.costNano, T, 1, 1, sliceLimit)) : [];

  // Σ cᵢ² / T² in BigInt: the squares of nano-dollar sums overflow 2^53 long before the sums do.
  let hhi: number | null = null;
  let hhiPoints: number | null = null;
  if (T > 0) {
    let sq = 0n;
    for (const a of agents) sq += BigInt(a.costNano) * BigInt(a.costNano);
    const t2 = BigInt(T) * BigInt(T);
    hhi = Number(sq) / Number(t2);
    hhiPoints = Number(sq * 10_000n) / Number(t2);
  }

  return {
    totalNano: T,
    events: total.events,
    unpricedEvents: total.unpricedEvents,
    agents,
    stages,
    topAgent: top,
    tiedWithTop,
    above,
    hhi,
    hhiPoints,
  };
}
