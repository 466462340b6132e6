import {
  type Dimension,
  dimensionValue,
  divRound,
  groupBy,
  ratioAbove,
  ratioAtLeast,
  shareOf,
} from './common.js';
import type { NanoUsd, UsageEvent } from './deps.js';
import { type Signature, type SignatureThresholds, signatureOf } from './signatures.js';
import { DAY_MS, localDay, type TimeZoneOffset } from './time.js';

/**
 * Lifecycle candidates: agents to retire (sunsetting) and agents to replace by a small tuned model
 * (distillation). Both look at values of a dimension (default `agent`); events without it cannot be
 * retired or distilled by name and are left out of the candidates (they still count in the totals).
 * Unpriced events are counted, never priced at $0.
 */

export interface SunsetOptions {
  nowMs: number;
  /** The window looked at: `(nowMs − windowDays, nowMs]` (default 30 days). */
  windowDays?: number;
  dimension?: Dimension;
  /** "High cost": at least this share of the window's priced spend (default 0.1). */
  minSpendShare?: number;
  /** "Rarely used": active on at most this many local days of the window (default 3). */
  maxActiveDays?: number;
  timeZone?: TimeZoneOffset;
}

export interface SunsetCandidate {
  key: string;
  costNano: NanoUsd;
  /** Share of the window's priced spend. */
  spendShare: number;
  calls: number;
  unpricedEvents: number;
  /** Distinct local days with a call. */
  activeDays: number;
  /** Distinct run ids (0 when the calls carry none). */
  runs: number;
  perCallNano: NanoUsd | null;
  lastUsedMs: number;
}

export interface SunsetReport {
  windowDays: number;
  totalNano: NanoUsd;
  candidates: SunsetCandidate[];
}

/**
 * Sunsetting candidates: high cost, rarely used — at least `minSpendShare` of the window's spend
 * while active on at most `maxActiveDays` days. By cost, highest first. Give the window time to
 * fill: in a ledger 3 days old every agent is "rarely used".
 *
 * @example
 * // deep-research: 2 runs on 2 days this month, 30% of the spend → a candidate.
 * sunsettingCandidates(events, { nowMs: Date.now() }).candidates.map((c) => c.key);
 */
export function sunsettingCandidates(events: Iterable<UsageEvent>, opts: SunsetOptions): SunsetReport {
  const windowDays = opts.windowDays ?? 30;
  const dim = opts.dimension ?? 'agent';
  const minShare = opts.minSpendShare ?? 0.1;
  const maxDays = opts.maxActiveDays ?? 3;
  const from = opts.nowMs - windowDays * DAY_MS;
  const inWindow = [...events].filter((e) => e.ts > from && e.ts <= opts.nowMs);
  let total = 0;
  for (const e of inWindow) if (e.cost.nanoUsd !== null) total += e.cost.nanoUsd;

  const candidates: SunsetCandidate[] = [];
  for (const [key, group] of groupBy(inWindow, dim)) {
    if (total === 0 || dimensionValue(group[0]!, dim) === undefined) continue;
    let cost = 0;
    let priced = 0;
    let lastUsed = Number.NEGATIVE_INFINITY;
    const days = new Set<string>();
    const runs = new Set<string>();
    for (const e of group) {
      if (e.cost.nanoUsd !== null) {
        cost += e.cost.nanoUsd;
        priced++;
      }
      days.add(localDay(e.ts, opts.timeZone));
      if (e.attribution.run !== undefined) runs.add(e.attribution.run);
      lastUsed = Math.max(lastUsed, e.ts);
    }
    if (!ratioAtLeast(cost, total, 1, 1, minShare) || days.size > maxDays) continue;
    candidates.push({
      key,
      costNano: cost,
      spendShare: shareOf(cost, total),
      calls: group.length,
      unpricedEvents: group.length - priced,
      activeDays: days.size,
      runs: runs.size,
      perCallNano: divRound(cost, priced),
      lastUsedMs: lastUsed,
    });
  }
  candidates.sort((a, b) => b.costNano - a.costNano || (a.key < b.key ? -1 : 1));
  return { windowDays, totalNano: total, candidates };
}

export interface DistillOptions {
  dimension?: Dimension;
  /** "Very frequent": at least this many calls (default 100)… */
  minCalls?: number;
  /** …and at least this share of all calls (default 0.1). */
  minCallShare?: number;
  /** "Cheap": cost per call at most this multiple of the ledger's mean cost per call (default 0.5). */
  cheapRatio?: number;
  /**
   * "Mechanical": at least this many of the content signals fire (default 1 of low output ratio,
   * short outputs, tool-heavy; the call count is already the frequency test).
   */
  minSignals?: number;
  thresholds?: Partial<SignatureThresholds>;
}

export interface DistillCandidate {
  key: string;
  calls: number;
  callShare: number;
  costNano: NanoUsd;
  unpricedEvents: number;
  perCallNano: NanoUsd;
  signature: Signature;
  /** The content signals that fired. */
  mechanical: string[];
}

export interface DistillReport {
  calls: number;
  totalNano: NanoUsd;
  /** The ledger's mean cost per priced call: what "cheap" is measured against. */
  meanPerCallNano: NanoUsd | null;
  candidates: DistillCandidate[];
}

/**
 * Distillation candidates: very frequent (≥ `minCalls` and ≥ `minCallShare` of the calls), cheap
 * (cost per call ≤ `cheapRatio` × the ledger's mean, compared exactly) and mechanical (signature
 * signals, see `signatures.ts`). A slice whose signals are all unavailable (e.g. workflow telemetry
 * without tool counts) is never a candidate: nothing shows it is mechanical. By cost, highest first:
 * the spend a distilled model would take over.
 *
 * @example
 * distillationCandidates(events, { minCalls: 500 }).candidates.map((c) => c.key); // ['classifier']
 */
export function distillationCandidates(
  events: Iterable<UsageEvent>,
  opts: DistillOptions = {},
): DistillReport {
  const dim = opts.dimension ?? 'agent';
  const minCalls = opts.minCalls ?? 100;
  const minCallShare = opts.minCallShare ?? 0.1;
  const cheapRatio = opts.cheapRatio ?? 0.5;
  const minSignals = opts.minSignals ?? 1;
  const list = [...events];
  let total = 0;
  let priced = 0;
  for (const e of list)
    if (e.cost.nanoUsd !== null) {
      total += e.cost.nanoUsd;
      priced++;
    }

  const candidates: DistillCandidate[] = [];
  for (const [key, group] of groupBy(list, dim)) {
    if (dimensionValue(group[0]!, dim) === undefined || priced === 0) continue;
    if (group.length < minCalls || !ratioAtLeast(group.length, list.length, 1, 1, minCallShare)) continue;
    let cost = 0;
    let groupPriced = 0;
    for (const e of group)
      if (e.cost.nanoUsd !== null) {
        cost += e.cost.nanoUsd;
        groupPriced++;
      }
    // No priced call: nothing shows it is cheap.
    if (groupPriced === 0 || ratioAbove(cost, groupPriced, total, priced, cheapRatio)) continue;
    const signature = signatureOf(group, opts.thresholds);
    const mechanical = signature.signals.filter((s) => s.fired && s.name !== 'many-calls').map((s) => s.name);
    if (mechanical.length < minSignals) continue;
    candidates.push({
      key,
      calls: group.length,
      callShare: shareOf(group.length, list.length),
      costNano: cost,
      unpricedEvents: group.length - groupPriced,
      perCallNano: divRound(cost, groupPriced)!,
      signature,
      mechanical,
    });
  }
  candidates.sort((a, b) => b.costNano - a.costNano || b.calls - a.calls || (a.key < b.key ? -1 : 1));
  return { calls: list.length, totalNano: total, meanPerCallNano: divRound(total, priced), candidates };
}
