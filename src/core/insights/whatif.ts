import {
  type Dimension,
  describeSlice,
  dimensionValue,
  divRound,
  divRoundBig,
  groupBy,
  inSlice,
  mulDivRound,
  ratioAtLeast,
  type Slice,
  shareOf,
} from './common.js';
import { costOf, type NanoUsd, type PriceBook, type UsageEvent } from './deps.js';
import { type Signature, type SignatureThresholds, signatureOf } from './signatures.js';

/**
 * What-if repricing: the same calls, with their real token buckets, priced at another model.
 *
 * Every counterfactual is an ESTIMATE (`estimated: true`, always): it assumes the other model would
 * have needed the same tokens (same prompt, same output length, same cache hits), which a different
 * model rarely does exactly, and it says nothing about quality. Measured savings come only from
 * before/after ledger data ({@link measuredSavings}).
 *
 * Pricing rules: each event is re-priced with the target's rate card on the event's own date (prices
 * are dated) at standard speed (a speed premium is the source model's, not the target's), long-context
 * tiers chosen by the event's real input size, tokens of unknown kind blended at the default input
 * share. An event whose actual cost is unpriced, or that the target cannot price, is left out of BOTH
 * sides and counted, so actual and counterfactual always cover the same calls.
 */

export interface WhatIfResult {
  slice: Slice;
  /** The slice in words, e.g. `agent=planner`. */
  label: string;
  targetModel: string;
  targetProvider?: string;
  /** Events in the slice. */
  events: number;
  /** Events priced on both sides: what the two figures cover. */
  comparedEvents: number;
  /** Actual spend of the compared events. */
  actualNano: NanoUsd;
  /** Those events at the target's prices. */
  counterfactualNano: NanoUsd;
  /** `actual − counterfactual`: negative when the target costs more. */
  savingsNano: NanoUsd;
  /** `savings / actual`; 0 when nothing was compared. */
  savingsShare: number;
  /** Events whose actual cost is unpriced (left out of both sides). */
  unpricedActual: number;
  /** Events the target model could not price (left out of both sides). */
  unpricedTarget: number;
  /** The models the slice actually used, sorted. */
  fromModels: string[];
  estimated: true;
}

/**
 * Re-prices a slice of the ledger at another model.
 *
 * @example
 * // The planner's calls, had they run on Haiku 4.5:
 * const w = whatIf(events, { agent: 'planner' }, 'claude-haiku-4-5', book, 'anthropic');
 * `${formatUsd(w.actualNano)} → ${formatUsd(w.counterfactualNano)} (estimate)`;
 */
export function whatIf(
  events: Iterable<UsageEvent>,
  slice: Slice,
  targetModel: string,
  book: PriceBook,
  targetProvider?: string,
): WhatIfResult {
  const r: WhatIfResult = {
    slice,
    label: describeSlice(slice),
    targetModel,
    ...(targetProvider !== undefined ? { targetProvider } : {}),
    events: 0,
    comparedEvents: 0,
    actualNano: 0,
    counterfactualNano: 0,
    savingsNano: 0,
    savingsShare: 0,
    unpricedActual: 0,
    unpricedTarget: 0,
    fromModels: [],
    estimated: true,
  };
  const models = new Set<string>();
  for (const e of events) {
    if (!inSlice(e, slice)) continue;
    r.events++;
    models.add(e.model);
    if (e.cost.nanoUsd === null) {
      r.unpricedActual++;
      continue;
    }
    const quote = book.quote({
      model: targetModel,
      time: e.ts,
      ...(targetProvider !== undefined ? { provider: targetProvider } : {}),
    });
    if (!quote) {
      r.unpricedTarget++;
      continue;
    }
    r.comparedEvents++;
    r.actualNano += e.cost.nanoUsd;
    r.counterfactualNano += costOf(e.usage, quote.card);
  }
  r.savingsNano = r.actualNano - r.counterfactualNano;
  r.savingsShare = shareOf(r.savingsNano, r.actualNano);
  r.fromModels = [...models].sort();
  return r;
}

export interface RoutingOptions {
  /** Cheaper models to try, in order of preference (a tie in savings goes to the earlier one). */
  targets: string[];
  /** Provider for the targets, when the model id alone is ambiguous. */
  targetProvider?: string;
  /** Dimensions whose values are the slices tried (default agent, stage, task). */
  dimensions?: Dimension[];
  /** A slice must hold at least this share of the priced spend (default 0.05). */
  minSpendShare?: number;
  /** …and fire at least this many signature signals (default 2 of 4). */
  minSignals?: number;
  thresholds?: Partial<SignatureThresholds>;
}

export interface RoutingCandidate {
  dimension: Dimension;
  key: string;
  slice: Slice;
  /** Priced spend of the slice and its share of the ledger's priced spend. */
  costNano: NanoUsd;
  spendShare: number;
  signature: Signature;
  /** Every target tried, by savings (highest first). */
  targets: WhatIfResult[];
  /** The target with the highest savings. */
  best: WhatIfResult;
  estimated: true;
}

export interface RoutingReport {
  candidates: RoutingCandidate[];
  /** Slices that passed the spend filter (and were therefore measured). */
  consideredSlices: number;
  /** Priced spend of the whole input. */
  totalNano: NanoUsd;
  /** Signals at least one considered slice could measure (see `signatures.ts`). */
  availableSignals: string[];
  estimated: true;
}

/**
 * Slices worth routing to a cheaper model: high spend (≥ `minSpendShare`), a mechanical signature
 * (≥ `minSignals` of many calls, low output/input ratio, short outputs, tool-heavy; see
 * `signatures.ts`) and positive counterfactual savings at some target. Ranked by the best target's
 * savings, then signature score, then name. Slices are the values of each dimension in
 * `dimensions`; events without that dimension cannot be named as a slice and are skipped, and the
 * same calls may appear under several dimensions (agent `classifier`, stage `classify`).
 *
 * @example
 * const r = routingCandidates(events, book, { targets: ['claude-haiku-4-5', 'claude-sonnet-4-5'] });
 * for (const c of r.candidates) console.log(c.key, c.best.targetModel, formatUsd(c.best.savingsNano));
 */
export function routingCandidates(
  events: Iterable<UsageEvent>,
  book: PriceBook,
  opts: RoutingOptions,
): RoutingReport {
  const list = [...events];
  const dims = opts.dimensions ?? ['agent', 'stage', 'task'];
  const minShare = opts.minSpendShare ?? 0.05;
  const minSignals = opts.minSignals ?? 2;
  let total = 0;
  for (const e of list) if (e.cost.nanoUsd !== null) total += e.cost.nanoUsd;

  const candidates: RoutingCandidate[] = [];
  const available = new Set<string>();
  let considered = 0;
  for (const dim of dims) {
    for (const [key, group] of groupBy(list, dim)) {
      // Events without the dimension share a placeholder key no slice can name.
      if (group[0] === undefined || dimensionValue(group[0], dim) === undefined) continue;
      let cost = 0;
      for (const e of group) if (e.cost.nanoUsd !== null) cost += e.cost.nanoUsd;
      if (total === 0 || !ratioAtLeast(cost, total, 1, 1, minShare)) continue;
      considered++;
      const signature = signatureOf(group, opts.thresholds);
      for (const s of signature.signals) if (s.available) available.add(s.name);
      if (signature.score < minSignals) continue;
      const slice: Slice = { [dim]: key };
      const tried = opts.targets.map((t) => whatIf(group, slice, t, book, opts.targetProvider));
      // Stable sort: equal savings keep the caller's order of preference.
      tried.sort((a, b) => b.savingsNano - a.savingsNano);
      const best = tried[0];
      if (!best || best.savingsNano <= 0) continue;
      candidates.push({
        dimension: dim,
        key,
        slice,
        costNano: cost,
        spendShare: shareOf(cost, total),
        signature,
        targets: tried,
        best,
        estimated: true,
      });
    }
  }
  candidates.sort(
    (a, b) =>
      b.best.savingsNano - a.best.savingsNano ||
      b.signature.score - a.signature.score ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return {
    candidates,
    consideredSlices: considered,
    totalNano: total,
    availableSignals: [...available].sort(),
    estimated: true,
  };
}

/** Splits events at a change: before is `ts < changeMs`, after is `ts >= changeMs`. */
export function splitAt(
  events: Iterable<UsageEvent>,
  changeMs: number,
): { before: UsageEvent[]; after: UsageEvent[] } {
  const before: UsageEvent[] = [];
  const after: UsageEvent[] = [];
  for (const e of events) (e.ts < changeMs ? before : after).push(e);
  return { before, after };
}

/** One side of a before/after comparison. */
export interface MeasuredSide {
  /** Calls (or runs) measured: priced calls, or runs whose every call is priced. */
  units: number;
  costNano: NanoUsd;
  /** `costNano / units`, rounded half up; `null` with no unit. */
  perUnitNano: NanoUsd | null;
  /** Unpriced calls (per call), or runs with an unpriced call (per run): left out. */
  excluded: number;
  /** Per run only: calls without a run id, left out. */
  noRun: number;
}

export interface MeasuredSavings {
  slice: Slice;
  label: string;
  per: 'call' | 'run';
  before: MeasuredSide;
  after: MeasuredSide;
  /** `before.perUnit − after.perUnit` (exact, before rounding the two). `null` if a side is empty. */
  savingsPerUnitNano: NanoUsd | null;
  /** The saving as a share of the before figure. */
  savingsShare: number | null;
  /**
   * What the after period would have cost at the before rate, minus what it cost:
   * `round(before.cost × after.units / before.units) − after.cost`.
   */
  savingsNano: NanoUsd | null;
  /** Measured from ledger data, not a model: but the mix of work may have changed too. */
  estimated: false;
}

function measureSide(events: Iterable<UsageEvent>, slice: Slice, per: 'call' | 'run'): MeasuredSide {
  const side: MeasuredSide = { units: 0, costNano: 0, perUnitNano: null, excluded: 0, noRun: 0 };
  if (per === 'call') {
    for (const e of events) {
      if (!inSlice(e, slice)) continue;
      if (e.cost.nanoUsd === null) side.excluded++;
      else {
        side.units++;
        side.costNano += e.cost.nanoUsd;
      }
    }
  } else {
    // A run with an unpriced call has a partial cost: it would look cheaper than it was.
    const runs = new Map<string, number | null>();
    for (const e of events) {
      if (!inSlice(e, slice)) continue;
      const run = e.attribution.run;
      if (run === undefined) {
        side.noRun++;
        continue;
      }
      const sofar = runs.has(run) ? runs.get(run)! : 0;
      runs.set(run, sofar === null || e.cost.nanoUsd === null ? null : sofar + e.cost.nanoUsd);
    }
    for (const cost of runs.values()) {
      if (cost === null) side.excluded++;
      else {
        side.units++;
        side.costNano += cost;
      }
    }
  }
  side.perUnitNano = divRound(side.costNano, side.units);
  return side;
}

/**
 * Measured savings of a change (a model switch, a prompt rewrite): the slice's cost per call (or per
 * run) before versus after, from real ledger data. Not an estimate, but not a controlled experiment
 * either: compare like with like (the same agent or task, similar periods).
 *
 * @example
 * const { before, after } = splitAt(events, Date.parse('2026-03-01T00:00:00Z'));
 * const m = measuredSavings(before, after, { agent: 'classifier' }, 'call');
 * m.savingsPerUnitNano; // nano-dollars saved per call since the switch
 */
export function measuredSavings(
  eventsBefore: Iterable<UsageEvent>,
  eventsAfter: Iterable<UsageEvent>,
  slice: Slice,
  per: 'call' | 'run' = 'call',
): MeasuredSavings {
  const before = measureSide(eventsBefore, slice, per);
  const after = measureSide(eventsAfter, slice, per);
  const both = before.units > 0 && after.units > 0;
  // bc/bu − ac/au over one denominator, (bc·au − ac·bu) / (bu·au), rounded once, in BigInt.
  const bcAu = BigInt(before.costNano) * BigInt(after.units);
  const diff = bcAu - BigInt(after.costNano) * BigInt(before.units);
  return {
    slice,
    label: describeSlice(slice),
    per,
    before,
    after,
    savingsPerUnitNano: both ? divRoundBig(diff, BigInt(before.units) * BigInt(after.units)) : null,
    // (bc/bu − ac/au) / (bc/bu) = diff / (bc·au)
    savingsShare: both && before.costNano > 0 ? Number(diff) / Number(bcAu) : null,
    savingsNano: both ? mulDivRound(before.costNano, after.units, before.units) - after.costNano : null,
    estimated: false,
  };
}
