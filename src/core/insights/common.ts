import { type NanoUsd, UNKNOWN_KEY, type UsageEvent } from './deps.js';

/**
 * Shared pieces of the insights: the attribution dimensions a slice can name, slice matching, cost
 * sums that keep unpriced events apart, and exact integer arithmetic for money and thresholds.
 */

/** The dimensions an insight can group by or a slice can pin. */
export const DIMENSIONS = [
  'agent',
  'stage',
  'task',
  'model',
  'provider',
  'run',
  'project',
  'session',
  'workflow',
  'user',
  'feature',
  'template',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** Events without a template id (`attribution.tags.template`) are grouped under this key. */
export const NO_TEMPLATE_KEY = '(none)';

/**
 * An event's value for a dimension, or `undefined` when the event does not say. `agent` is the
 * agent's name (what `report --by agent` and budgets group by), `model` the model id without the
 * speed mode, `template` the meter's `tags.template`.
 *
 * @example
 * dimensionValue(e, 'agent'); // e.attribution.agentName
 */
export function dimensionValue(e: UsageEvent, dim: Dimension): string | undefined {
  const a = e.attribution;
  switch (dim) {
    case 'agent':
      return a.agentName;
    case 'model':
      return e.model;
    case 'provider':
      return e.provider;
    case 'template':
      return a.tags?.template;
    default:
      return a[dim];
  }
}

/**
 * A dimension's grouping key: the value, or `(unknown)` (`(none)` for templates) when the event does
 * not say — such events are grouped, never silently dropped.
 */
export function groupKey(e: UsageEvent, dim: Dimension): string {
  return dimensionValue(e, dim) ?? (dim === 'template' ? NO_TEMPLATE_KEY : UNKNOWN_KEY);
}

/**
 * A part of the ledger: every named dimension must equal the event's value (an event without that
 * dimension is outside), and the time bounds are half-open, `fromMs <= ts < toMs`. `{}` is the whole
 * ledger.
 *
 * @example
 * const slice: Slice = { agent: 'planner', stage: 'plan' };
 * const march: Slice = { fromMs: Date.UTC(2026, 2, 1), toMs: Date.UTC(2026, 3, 1) };
 */
export interface Slice extends Partial<Record<Dimension, string>> {
  fromMs?: number;
  toMs?: number;
}

export function inSlice(e: UsageEvent, slice: Slice): boolean {
  if (slice.fromMs !== undefined && e.ts < slice.fromMs) return false;
  if (slice.toMs !== undefined && e.ts >= slice.toMs) return false;
  for (const dim of DIMENSIONS) {
    const want = slice[dim];
    if (want !== undefined && dimensionValue(e, dim) !== want) return false;
  }
  return true;
}

/**
 * A slice in words, for labels: `agent=planner stage=plan`, or `(all)` for the whole ledger.
 *
 * @example
 * describeSlice({ agent: 'planner' }); // 'agent=planner'
 */
export function describeSlice(slice: Slice): string {
  const parts = DIMENSIONS.filter((d) => slice[d] !== undefined).map((d) => `${d}=${slice[d]}`);
  if (slice.fromMs !== undefined) parts.push(`from=${new Date(slice.fromMs).toISOString()}`);
  if (slice.toMs !== undefined) parts.push(`to=${new Date(slice.toMs).toISOString()}`);
  return parts.length ? parts.join(' ') : '(all)';
}

/** Spend of a set of events. Unpriced events are counted, never added as $0. */
export interface CostSum {
  /** Sum over priced events only (integer nano-dollars). */
  costNano: NanoUsd;
  events: number;
  pricedEvents: number;
  unpricedEvents: number;
}

export function emptySum(): CostSum {
  return { costNano: 0, events: 0, pricedEvents: 0, unpricedEvents: 0 };
}

export function addToSum(s: CostSum, e: UsageEvent): void {
  s.events++;
  if (e.cost.nanoUsd === null) s.unpricedEvents++;
  else {
    s.pricedEvents++;
    s.costNano += e.cost.nanoUsd;
  }
}

export function sumOf(events: Iterable<UsageEvent>): CostSum {
  const s = emptySum();
  for (const e of events) addToSum(s, e);
  return s;
}

/** Groups events by a dimension's key (insertion order). */
export function groupBy(events: Iterable<UsageEvent>, dim: Dimension): Map<string, UsageEvent[]> {
  const groups = new Map<string, UsageEvent[]>();
  for (const e of events) {
    const key = groupKey(e, dim);
    const list = groups.get(key);
    if (list) list.push(e);
    else groups.set(key, [e]);
  }
  return groups;
}

/** Orders rows by cost (descending), then key: deterministic when costs tie. */
export function byCostThenKey<T extends { costNano: number; key: string }>(a: T, b: T): number {
  return b.costNano - a.costNano || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * `a / b` for integers, rounded half up to an integer, or `null` when `b` is 0 (no "cost per
 * nothing"). Exact: BigInt, so a nano-dollar sum times a count never loses a digit.
 *
 * @example
 * divRound(10, 4); // 3  (2.5 rounds up)
 * divRound(10, 0); // null
 */
export function divRound(a: number, b: number): number | null {
  if (b === 0) return null;
  return mulDivRound(a, 1, b);
}

/**
 * `a × b / c` for integers, rounded half up (towards +∞ on a tie, like `picoToNano`), computed
 * exactly in BigInt. `c` must not be 0.
 *
 * @example
 * mulDivRound(7, 3, 2); // 11  (10.5 rounds up)
 */
export function mulDivRound(a: number, b: number, c: number): number {
  return divRoundBig(BigInt(a) * BigInt(b), BigInt(c));
}

/** `num / den` rounded half up (towards +∞ on a tie), as a number. `den` must not be 0. */
export function divRoundBig(num: bigint, den: bigint): number {
  const sign = den < 0n ? -1n : 1n;
  // floor((2·num + den) / (2·den)) = floor(num/den + 1/2); BigInt division truncates, so floor by hand.
  const n2 = sign * (2n * num) + sign * den;
  const d2 = sign * 2n * den;
  const q = n2 / d2;
  return Number(n2 % d2 < 0n ? q - 1n : q);
}

/** A ratio threshold in parts per million: the exact integer the comparisons below use. */
export function ppm(ratio: number): bigint {
  return BigInt(Math.round(ratio * 1_000_000));
}

/**
 * Exactly `aNum / aDen > ratio × bNum / bDen` for integers with positive denominators, the ratio
 * taken to 6 decimals. Float shares would put 40.000000001% on the wrong side of a 40% flag.
 *
 * @example
 * ratioAbove(4, 10, 1, 1, 0.4); // false: 40% is not above 40%
 */
export function ratioAbove(aNum: number, aDen: number, bNum: number, bDen: number, ratio: number): boolean {
  return BigInt(aNum) * BigInt(bDen) * 1_000_000n > ppm(ratio) * BigInt(bNum) * BigInt(aDen);
}

/** Exactly `aNum / aDen >= ratio × bNum / bDen` (see {@link ratioAbove}). */
export function ratioAtLeast(aNum: number, aDen: number, bNum: number, bDen: number, ratio: number): boolean {
  return BigInt(aNum) * BigInt(bDen) * 1_000_000n >= ppm(ratio) * BigInt(bNum) * BigInt(aDen);
}

/** `part / whole` as a number, 0 when the whole is 0 (an empty ledger has no concentration). */
export function shareOf(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** The event's `tags[name]` as a non-negative integer, or `undefined` when absent or not one. */
export function intTag(e: UsageEvent, name: string): number | undefined {
  const raw = e.attribution.tags?.[name];
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}
