import type { UsageEvent } from './event.js';
import type { NanoUsd } from './money.js';
import { addUsage, emptyUsage, type UsageBuckets } from './usage.js';

export const GROUP_BYS = ['day', 'week', 'month', 'session', 'project', 'model', 'agent'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** Sums for one group (or the whole report). */
export interface Tally {
  key: string;
  events: number;
  usage: UsageBuckets;
  /** Sum of priced events only. */
  costNano: NanoUsd;
  unpricedEvents: number;
  unpricedModels: string[];
  estimatedEvents: number;
  firstTs: number;
  lastTs: number;
}

export function emptyTally(key: string): Tally {
  return {
    key,
    events: 0,
    usage: emptyUsage(),
    costNano: 0,
    unpricedEvents: 0,
    unpricedModels: [],
    estimatedEvents: 0,
    firstTs: Number.POSITIVE_INFINITY,
    lastTs: Number.NEGATIVE_INFINITY,
  };
}

export function addEvent(t: Tally, e: UsageEvent): void {
  t.events++;
  addUsage(t.usage, e.usage);
  if (e.cost.nanoUsd === null) {
    t.unpricedEvents++;
    if (!t.unpricedModels.includes(e.model)) t.unpricedModels.push(e.model);
  } else {
    t.costNano += e.cost.nanoUsd;
  }
  if (e.cost.estimated) t.estimatedEvents++;
  if (e.ts < t.firstTs) t.firstTs = e.ts;
  if (e.ts > t.lastTs) t.lastTs = e.ts;
}

export function mergeTally(into: Tally, t: Tally): void {
  into.events += t.events;
  addUsage(into.usage, t.usage);
  into.costNano += t.costNano;
  into.unpricedEvents += t.unpricedEvents;
  for (const m of t.unpricedModels) if (!into.unpricedModels.includes(m)) into.unpricedModels.push(m);
  into.estimatedEvents += t.estimatedEvents;
  into.firstTs = Math.min(into.firstTs, t.firstTs);
  into.lastTs = Math.max(into.lastTs, t.lastTs);
}

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

// Every time-zone offset (and every DST change) falls on a quarter hour, so the local day is the
// same for a whole quarter-hour bucket: one Date per bucket instead of one per event.
const QUARTER_HOUR = 900_000;
const dayCache = new Map<number, string>();

/** Local calendar day `YYYY-MM-DD` (the process time zone, `TZ`). */
export function dayOf(ts: number): string {
  const bucket = Math.floor(ts / QUARTER_HOUR);
  let day = dayCache.get(bucket);
  if (day === undefined) {
    const d = new Date(bucket * QUARTER_HOUR);
    day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    if (dayCache.size > 200_000) dayCache.clear();
    dayCache.set(bucket, day);
  }
  return day;
}

/** The Monday that starts the ISO week, as `YYYY-MM-DD`. */
export function weekOf(ts: number): string {
  const d = new Date(ts);
  const back = (d.getDay() + 6) % 7;
  const monday = new Date(d.getFullYear(), d.getMonth(), d.getDate() - back);
  return dayOf(monday.getTime());
}

export function monthOf(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
}

/** Events without the dimension group under this key (never silently dropped). */
export const UNKNOWN_KEY = '(unknown)';

export function groupKeyOf(e: UsageEvent, by: GroupBy): string {
  switch (by) {
    case 'day':
      return dayOf(e.ts);
    case 'week':
      return weekOf(e.ts);
    case 'month':
      return monthOf(e.ts);
    case 'session':
      return e.attribution.session ?? UNKNOWN_KEY;
    case 'project':
      return e.attribution.project ?? UNKNOWN_KEY;
    case 'model':
      return e.speed ? `${e.model} (${e.speed})` : e.model;
    case 'agent':
      return e.attribution.agentName ?? UNKNOWN_KEY;
    default:
      return unreachable(by);
  }
}

export function unreachable(x: never): never {
  throw new Error(`unreachable: ${String(x)}`);
}

/** Which events a report covers. Dates are local `YYYY-MM-DD`, both ends inclusive. */
export interface EventFilter {
  since?: string;
  until?: string;
  project?: string;
}

export function matchesFilter(e: UsageEvent, f: EventFilter): boolean {
  if (f.project !== undefined && e.attribution.project !== f.project) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const day = dayOf(e.ts);
    if (f.since !== undefined && day < f.since) return false;
    if (f.until !== undefined && day > f.until) return false;
  }
  return true;
}

export interface Aggregate {
  totals: Tally;
  groups: Tally[];
}

/** Sorts groups: time keys chronologically, everything else by cost, then tokens. */
export function sortGroups(groups: Tally[], by: GroupBy): Tally[] {
  if (by === 'day' || by === 'week' || by === 'month') return groups.sort((a, b) => (a.key < b.key ? -1 : 1));
  return groups.sort((a, b) => b.costNano - a.costNano || b.events - a.events || (a.key < b.key ? -1 : 1));
}

/** Groups events in memory (the ledger does the same in SQL; a test holds the two equal). */
export function aggregate(events: Iterable<UsageEvent>, by: GroupBy, filter: EventFilter = {}): Aggregate {
  const a = new Aggregator(by, filter);
  for (const e of events) a.add(e);
  return a.result();
}

/**
 * `aggregate` one event at a time, for events made on the fly: none has to be kept until the end.
 *
 * @example
 * const a = new Aggregator('model');
 * for (const e of events) a.add(e);
 * a.result().groups;
 */
export class Aggregator {
  private readonly totals = emptyTally('total');
  private readonly groups = new Map<string, Tally>();

  constructor(
    private readonly by: GroupBy,
    private readonly filter: EventFilter = {},
  ) {}

  add(e: UsageEvent): void {
    if (!matchesFilter(e, this.filter)) return;
    addEvent(this.totals, e);
    const key = groupKeyOf(e, this.by);
    let g = this.groups.get(key);
    if (!g) {
      g = emptyTally(key);
      this.groups.set(key, g);
    }
    addEvent(g, e);
  }

  result(): Aggregate {
    return { totals: this.totals, groups: sortGroups([...this.groups.values()], this.by) };
  }
}

/**
 * Sums aggregates of disjoint event sets (no event in two of them) grouped the same way: the result
 * equals `aggregate` over all their events (up to the order of `unpricedModels`).
 */
export function mergeAggregates(parts: Aggregate[], by: GroupBy): Aggregate {
  const totals = emptyTally('total');
  const groups = new Map<string, Tally>();
  for (const part of parts) {
    mergeTally(totals, part.totals);
    for (const t of part.groups) {
      let g = groups.get(t.key);
      if (!g) {
        g = emptyTally(t.key);
        groups.set(t.key, g);
      }
      mergeTally(g, t);
    }
  }
  return { totals, groups: sortGroups([...groups.values()], by) };
}
