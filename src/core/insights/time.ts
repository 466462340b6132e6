import {
  addToSum,
  type CostSum,
  type Dimension,
  divRound,
  emptySum,
  groupKey,
  inSlice,
  mulDivRound,
  ratioAbove,
  type Slice,
} from './common.js';
import type { NanoUsd, UsageEvent } from './deps.js';

/**
 * Spend over time: period-over-period trends with creeping-cost flags, and a month-end projection.
 *
 * Calendars are UTC unless a {@link TimeZoneOffset} is given (core has no time-zone database: the
 * caller passes one, e.g. built on `Intl`). Every period is a span of LOCAL wall-clock time: an event
 * at `ts` falls at local time `ts + timeZone(ts)`.
 */

export const DAY_MS = 86_400_000;

/**
 * Milliseconds to add to a UTC instant to get local wall-clock time there (+2 h for CEST:
 * `() => 7_200_000`). A function, so daylight-saving changes are the caller's to get right.
 */
export type TimeZoneOffset = (ts: number) => number;

/**
 * A calendar period. `week` is the ISO week (Monday start); a sprint is a fixed number of days
 * repeating from the local wall-clock time of `sprintStartMs` (earlier sprints count backwards).
 *
 * @example
 * const sprint: Period = { sprintStartMs: Date.UTC(2026, 0, 5), days: 14 }; // two-week sprints
 */
export type Period = 'day' | 'week' | 'month' | { sprintStartMs: number; days: number };

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `YYYY-MM-DD` of a local-time instant. */
export function dayKey(local: number): string {
  const d = new Date(local);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

function localOf(ts: number, tz: TimeZoneOffset | undefined): number {
  // Rounded: the money arithmetic below is exact integer arithmetic on these milliseconds.
  return Math.round(tz ? ts + tz(ts) : ts);
}

/**
 * The local calendar day of an instant, `YYYY-MM-DD` (UTC without a time zone).
 *
 * @example
 * localDay(Date.parse('2026-03-01T23:30:00Z'), () => 3_600_000); // '2026-03-02'
 */
export function localDay(ts: number, tz?: TimeZoneOffset): string {
  return dayKey(localOf(ts, tz));
}

/** Period arithmetic on local-time milliseconds. */
interface Calendar {
  startOf(local: number): number;
  next(start: number): number;
  key(start: number): string;
}

function calendarOf(period: Period, tz: TimeZoneOffset | undefined): Calendar {
  const dayStart = (local: number) => Math.floor(local / DAY_MS) * DAY_MS;
  if (period === 'day') return { startOf: dayStart, next: (s) => s + DAY_MS, key: dayKey };
  if (period === 'week')
    return {
      // getUTCDay: 0 = Sunday; the ISO week starts on the Monday before (or on) the day.
      startOf: (l) => dayStart(l) - ((new Date(l).getUTCDay() + 6) % 7) * DAY_MS,
      next: (s) => s + 7 * DAY_MS,
      key: dayKey,
    };
  if (period === 'month')
    return {
      startOf: (l) => {
        const d = new Date(l);
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      },
      next: (s) => {
        const d = new Date(s);
        return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      },
      key: (s) => dayKey(s).slice(0, 7),
    };
  const len = period.days * DAY_MS;
  if (!(len > 0)) throw new RangeError(`a sprint must last at least one day (got ${period.days})`);
  const origin = localOf(period.sprintStartMs, tz);
  return {
    startOf: (l) => origin + Math.floor((l - origin) / len) * len,
    next: (s) => s + len,
    key: dayKey,
  };
}

/** One period of one slice (or of the total). */
export interface PeriodRow {
  /** `YYYY-MM-DD` of the period's first day (`YYYY-MM` for months). */
  period: string;
  costNano: NanoUsd;
  events: number;
  pricedEvents: number;
  unpricedEvents: number;
  /** `costNano / pricedEvents`, rounded half up. */
  perCallNano: NanoUsd | null;
  /** Change of cost from the previous period in percent; `null` for the first, or after a $0 period. */
  changePct: number | null;
  /** The period holds `nowMs` (not over yet): shown, but never used for a creep flag. */
  partial: boolean;
}

export interface CreepFlag {
  /** `cost`: the spend rose; `per-call`: each call got dearer. */
  kind: 'cost' | 'per-call';
  /** Consecutive rises (a streak of 2 spans 3 periods). */
  periods: number;
  /** The period before the first rise, and the last period of the streak. */
  from: string;
  to: string;
  detail: string;
}

export interface Trend {
  key: string;
  totalNano: NanoUsd;
  rows: PeriodRow[];
  flags: CreepFlag[];
}

export interface PeriodOptions {
  period: Period;
  timeZone?: TimeZoneOffset;
  /** Trends per value of this dimension (default `agent`). */
  dimension?: Dimension;
  /**
   * "Now": the period holding it is partial, and events after it are ignored. Without it every
   * period is taken as complete.
   */
  nowMs?: number;
  /** A cost rise counts when above this percentage (default 20). */
  creepPct?: number;
  /** A per-call rise counts when above this percentage (default 10). */
  perCallCreepPct?: number;
  /** Flag after this many consecutive rises (default 2). */
  creepPeriods?: number;
}

export interface PeriodReport {
  /** Every period from the first event's to the last (or to `nowMs`'s), gaps included. */
  periods: string[];
  total: Trend;
  /** By total cost, highest first (ties by name). */
  slices: Trend[];
}

function rowsOf(sums: CostSum[], keys: string[], partialFrom: number): PeriodRow[] {
  return sums.map((s, i) => {
    const prev = i > 0 ? sums[i - 1]! : undefined;
    return {
      period: keys[i]!,
      costNano: s.costNano,
      events: s.events,
      pricedEvents: s.pricedEvents,
      unpricedEvents: s.unpricedEvents,
      perCallNano: divRound(s.costNano, s.pricedEvents),
      changePct: prev && prev.costNano > 0 ? ((s.costNano - prev.costNano) / prev.costNano) * 100 : null,
      partial: i >= partialFrom,
    };
  });
}

/**
 * The ongoing creep: rises ending at the last COMPLETE period (an old streak that has since stopped
 * is not flagged). A rise from $0 is not a percentage and ends a streak.
 */
function creepFlags(rows: PeriodRow[], o: Required<Omit<PeriodOptions, 'nowMs' | 'timeZone' | 'dimension'>>) {
  const complete = rows.filter((r) => !r.partial);
  const last = complete.length - 1;
  const flags: CreepFlag[] = [];
  const streak = (rises: (prev: PeriodRow, cur: PeriodRow) => boolean) => {
    let n = 0;
    for (let i = last; i >= 1 && rises(complete[i - 1]!, complete[i]!); i--) n++;
    return n;
  };
  const costUp = 1 + o.creepPct / 100;
  const callUp = 1 + o.perCallCreepPct / 100;
  const cost = streak((p, c) => p.costNano > 0 && ratioAbove(c.costNano, 1, p.costNano, 1, costUp));
  const perCall = streak(
    (p, c) =>
      p.pricedEvents > 0 &&
      c.pricedEvents > 0 &&
      p.costNano > 0 &&
      ratioAbove(c.costNano, c.pricedEvents, p.costNano, p.pricedEvents, callUp),
  );
  if (cost >= o.creepPeriods) {
    const from = complete[last - cost]!.period;
    const to = complete[last]!.period;
    flags.push({
      kind: 'cost',
      periods: cost,
      from,
      to,
      detail: `cost up more than ${o.creepPct}% in each of ${cost} consecutive periods (${from} → ${to})`,
    });
  }
  if (perCall >= o.creepPeriods) {
    const from = complete[last - perCall]!.period;
    const to = complete[last]!.period;
    flags.push({
      kind: 'per-call',
      periods: perCall,
      from,
      to,
      detail: `cost per call up more than ${o.perCallCreepPct}% in each of ${perCall} consecutive periods (${from} → ${to})`,
    });
  }
  return flags;
}

/**
 * Period-over-period spend per agent (or another dimension) and in total, with creeping-cost flags:
 * cost up more than `creepPct`% (default 20) — or cost per call up more than `perCallCreepPct`%
 * (default 10) — in each of the last `creepPeriods` (default 2) complete periods. The first period
 * may be partial if metering began inside it; pass `nowMs` so the current period is not mistaken for
 * a drop.
 *
 * @example
 * const r = periodOverPeriod(events, { period: 'week', nowMs: Date.now() });
 * r.slices.filter((t) => t.flags.length > 0).map((t) => t.key); // the agents creeping up
 */
export function periodOverPeriod(events: Iterable<UsageEvent>, opts: PeriodOptions): PeriodReport {
  const cal = calendarOf(opts.period, opts.timeZone);
  const dim = opts.dimension ?? 'agent';
  const nowLocal = opts.nowMs === undefined ? undefined : localOf(opts.nowMs, opts.timeZone);

  const dated: { start: number; e: UsageEvent }[] = [];
  for (const e of events) {
    if (opts.nowMs !== undefined && e.ts > opts.nowMs) continue;
    dated.push({ start: cal.startOf(localOf(e.ts, opts.timeZone)), e });
  }
  if (dated.length === 0)
    return { periods: [], total: { key: 'total', totalNano: 0, rows: [], flags: [] }, slices: [] };

  let first = Number.POSITIVE_INFINITY;
  let lastStart = Number.NEGATIVE_INFINITY;
  for (const d of dated) {
    first = Math.min(first, d.start);
    lastStart = Math.max(lastStart, d.start);
  }
  if (nowLocal !== undefined) lastStart = Math.max(lastStart, cal.startOf(nowLocal));
  const starts: number[] = [];
  for (let s = first; s <= lastStart; s = cal.next(s)) starts.push(s);
  const index = new Map(starts.map((s, i) => [s, i]));
  const keys = starts.map((s) => cal.key(s));
  // Only the period holding "now" can be partial: it is the last one.
  const partialFrom =
    nowLocal !== undefined && nowLocal < cal.next(lastStart) ? starts.length - 1 : starts.length;

  const fresh = () => starts.map(() => emptySum());
  const total = fresh();
  const bySlice = new Map<string, CostSum[]>();
  for (const { start, e } of dated) {
    const i = index.get(start)!;
    addToSum(total[i]!, e);
    const key = groupKey(e, dim);
    let sums = bySlice.get(key);
    if (!sums) {
      sums = fresh();
      bySlice.set(key, sums);
    }
    addToSum(sums[i]!, e);
  }

  const o = {
    period: opts.period,
    creepPct: opts.creepPct ?? 20,
    perCallCreepPct: opts.perCallCreepPct ?? 10,
    creepPeriods: opts.creepPeriods ?? 2,
  };
  const trend = (key: string, sums: CostSum[]): Trend => {
    const rows = rowsOf(sums, keys, partialFrom);
    return { key, totalNano: sums.reduce((n, s) => n + s.costNano, 0), rows, flags: creepFlags(rows, o) };
  };
  const slices = [...bySlice].map(([key, sums]) => trend(key, sums));
  slices.sort((a, b) => b.totalNano - a.totalNano || (a.key < b.key ? -1 : 1));
  return { periods: keys, total: trend('total', total), slices };
}

export interface ProjectionOptions {
  nowMs: number;
  timeZone?: TimeZoneOffset;
  /** Full days before today whose mean is the run rate (default 7). */
  windowDays?: number;
  /** Project a part of the ledger only (an agent, a project). */
  slice?: Slice;
}

export interface MonthProjection {
  /** `YYYY-MM` of `nowMs` (local). */
  month: string;
  /** Priced spend from the first of the month up to `nowMs`. */
  monthToDateNano: NanoUsd;
  /** Unpriced events in the month so far or in the window: with any, every figure is a lower bound. */
  unpricedEvents: number;
  /** The full days the run rate is taken from, oldest first. */
  window: { day: string; costNano: NanoUsd }[];
  dailyMeanNano: NanoUsd | null;
  /** Population standard deviation of the window's days. */
  dailyStdevNano: NanoUsd | null;
  /** Days (fractional) from `nowMs` to the end of the month. */
  remainingDays: number;
  /** `monthToDate + mean × remainingDays`; `null` without a full day of history. */
  projectedNano: NanoUsd | null;
  /** The range: the cheapest and the dearest day of the window, repeated for the rest of the month. */
  lowNano: NanoUsd | null;
  highNano: NanoUsd | null;
  estimated: true;
}

/**
 * Month-end projection: month-to-date actual + the daily mean of the last 7 full days × the days left
 * (fractional: at noon on the 30th of a 31-day month, 1.5 days are left). The range repeats the
 * window's cheapest and dearest day instead (min/max, not mean ± stdev: with 7 samples a standard
 * deviation is a shaky guess at a spread, and a min/max range is one the user can check against the
 * days shown; the stdev is reported alongside). Window days before the slice's first event are not
 * counted: a ledger that began 3 days ago has a 3-day mean, not a mean diluted by 4 empty days.
 *
 * @example
 * const p = projectMonthEnd(events, { nowMs: Date.now() });
 * `${formatUsd(p.projectedNano ?? 0)} (${formatUsd(p.lowNano ?? 0)}–${formatUsd(p.highNano ?? 0)})`;
 */
export function projectMonthEnd(events: Iterable<UsageEvent>, opts: ProjectionOptions): MonthProjection {
  const tz = opts.timeZone;
  const windowDays = opts.windowDays ?? 7;
  const month = calendarOf('month', tz);
  const nowLocal = localOf(opts.nowMs, tz);
  const monthStart = month.startOf(nowLocal);
  const monthEnd = month.next(monthStart);
  const today = Math.floor(nowLocal / DAY_MS) * DAY_MS;
  const windowStart = today - windowDays * DAY_MS;

  let mtd = 0;
  let unpriced = 0;
  let firstDay = Number.POSITIVE_INFINITY;
  const daily = new Array<number>(windowDays).fill(0);
  for (const e of events) {
    if (e.ts > opts.nowMs || (opts.slice && !inSlice(e, opts.slice))) continue;
    const local = localOf(e.ts, tz);
    firstDay = Math.min(firstDay, Math.floor(local / DAY_MS) * DAY_MS);
    const inMonth = local >= monthStart;
    const inWindow = local >= windowStart && local < today;
    if (!inMonth && !inWindow) continue;
    if (e.cost.nanoUsd === null) {
      unpriced++;
      continue;
    }
    if (inMonth) mtd += e.cost.nanoUsd;
    if (inWindow) daily[Math.floor((local - windowStart) / DAY_MS)]! += e.cost.nanoUsd;
  }

  const window: { day: string; costNano: number }[] = [];
  daily.forEach((costNano, i) => {
    const start = windowStart + i * DAY_MS;
    if (start >= firstDay) window.push({ day: dayKey(start), costNano });
  });
  const remainingMs = monthEnd - nowLocal;
  const base = {
    month: month.key(monthStart),
    monthToDateNano: mtd,
    unpricedEvents: unpriced,
    window,
    remainingDays: remainingMs / DAY_MS,
    estimated: true as const,
  };
  const n = window.length;
  if (n === 0)
    return {
      ...base,
      dailyMeanNano: null,
      dailyStdevNano: null,
      projectedNano: null,
      lowNano: null,
      highNano: null,
    };

  const costs = window.map((d) => d.costNano);
  const sum = costs.reduce((a, b) => a + b, 0);
  const mean = sum / n;
  const variance = costs.reduce((a, c) => a + (c - mean) ** 2, 0) / n;
  return {
    ...base,
    dailyMeanNano: divRound(sum, n),
    dailyStdevNano: Math.round(Math.sqrt(variance)),
    // mtd + (sum / n) × (remainingMs / DAY), rounded once, exactly.
    projectedNano: mtd + mulDivRound(sum, remainingMs, n * DAY_MS),
    lowNano: mtd + mulDivRound(Math.min(...costs), remainingMs, DAY_MS),
    highNano: mtd + mulDivRound(Math.max(...costs), remainingMs, DAY_MS),
  };
}
