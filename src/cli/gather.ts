import { readlinkSync } from 'node:fs';
import { ledgerPath } from '../config.js';
import {
  type Aggregate,
  aggregate,
  dayOf,
  type EventFilter,
  emptyTally,
  type GroupBy,
} from '../core/aggregate.js';
import { type Breakdown, breakdown } from '../core/breakdown.js';
import type { Problem, UsageEvent } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import type { RunSummary } from '../core/run.js';
import type { LedgerStore } from '../store/ledger.js';
import { displayPath } from './io.js';
import { ingestWithProgress, openLedger, reportWithProgress, scanWithProgress } from './sources.js';

/** Everything `report` and `runs` show, from the ledger or straight from the files. */
export interface Gathered {
  agg: Aggregate;
  problems: Problem[];
  /** `ledger <path>` or `<n> files, no ledger`. */
  source: string;
  runs: RunSummary[];
  /** The workflow agents' events of `runs`. */
  runEvents: UsageEvent[];
  /** Runs a run's history is drawn from. */
  pool: RunSummary[];
  /** By day, agent, model, agent × day and run → agent → model: only when asked for (one pass over the events). */
  breakdown?: Breakdown;
}

export interface GatherOptions {
  paths: string[];
  /** PATHs were given: report only what was read from them. */
  explicit: boolean;
  noLedger: boolean;
  ledger?: string;
  /** A shared store (`postgres://…`): its events are reported; no file is read. */
  store?: string;
  book: PriceBook;
  by: GroupBy;
  filter: EventFilter;
  inputShare: number;
  /** Also tally the events by day, agent, model, agent × day and run → agent → model (dashboard, money flow). */
  breakdown?: boolean;
}

/**
 * Names the local time zone for cache keys. The zone comes from `TZ`, else the `/etc/localtime` link,
 * and both are read without starting ICU (`Intl.DateTimeFormat` costs ~15 ms at start-up, most of a
 * warm report); only where neither says (Windows, a copied zone file) is Intl asked.
 */
export function localZoneKey(env: NodeJS.ProcessEnv = process.env, localtime = '/etc/localtime'): string {
  if (env.TZ) return `TZ=${env.TZ}`;
  try {
    return `link=${readlinkSync(localtime)}`;
  } catch {
    return `intl=${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
  }
}

/**
 * A value cached in the ledger per query and ledger generation: nothing changed, nothing recomputed.
 * Days, weeks and months are local: the same query in another time zone is another answer.
 */
function cached<T>(
  ledger: LedgerStore,
  name: string,
  query: unknown[],
  compute: () => T,
  encode: (v: T) => unknown = (v) => v,
  decode: (json: unknown) => T = (json) => json as T,
): T {
  const key = `${name}:${JSON.stringify([...query, localZoneKey(), new Date(0).getTimezoneOffset()])}`;
  const generation = String(ledger.generation());
  const hit = ledger.getMeta(key);
  if (hit?.startsWith(`${generation}\n`)) return decode(JSON.parse(hit.slice(generation.length + 1)));
  const value = compute();
  ledger.setMeta(key, `${generation}\n${JSON.stringify(encode(value))}`);
  return value;
}

function cachedAggregate(
  ledger: LedgerStore,
  by: GroupBy,
  filter: EventFilter & { under?: string[] },
): Aggregate {
  return cached(ledger, 'report-cache', [by, filter], () => ledger.aggregate(by, filter));
}

/**
 * The dashboard's breakdown: one read of the events the report covers, tallied in one pass (a
 * ledger of 100k calls takes seconds to read), then cached like the aggregate.
 */
function cachedBreakdown(ledger: LedgerStore, filter: EventFilter & { under?: string[] }): Breakdown {
  return cached(
    ledger,
    'breakdown-cache',
    [filter],
    () => breakdown(ledger.events(filter)),
    (b) => ({ ...b, runLabels: [...b.runLabels] }),
    (json) => {
      const b = json as Omit<Breakdown, 'runLabels'> & { runLabels: [string, string][] };
      // JSON has no Infinity: an empty total comes back as a fresh one.
      return {
        ...b,
        totals: b.totals.events ? b.totals : emptyTally('total'),
        runLabels: new Map(b.runLabels),
      };
    },
  );
}

function runMatches(run: RunSummary, f: EventFilter): boolean {
  if (f.project !== undefined && run.project !== f.project) return false;
  const day = dayOf(run.ts);
  if (f.since !== undefined && day < f.since) return false;
  if (f.until !== undefined && day > f.until) return false;
  return true;
}

export async function gather(o: GatherOptions): Promise<Gathered> {
  if (o.store) return gatherShared(o, o.store);
  if (o.noLedger && !o.breakdown) {
    const r = await reportWithProgress(o.paths, o.book, { by: o.by, filter: o.filter }, o.inputShare);
    return {
      agg: r.agg,
      problems: r.problems,
      source: `${r.stats.files} files, no ledger`,
      runs: r.runs.filter((run) => runMatches(run, o.filter)),
      runEvents: r.runEvents,
      pool: r.runs,
    };
  }
  if (o.noLedger) {
    const scan = await scanWithProgress(o.paths, o.book, o.inputShare);
    const runs = scan.runs.filter((r) => runMatches(r, o.filter));
    return {
      agg: aggregate(scan.events, o.by, o.filter),
      problems: scan.problems,
      source: `${scan.stats.files} files, no ledger`,
      runs,
      runEvents: scan.events.filter((e) => e.source === 'workflow'),
      pool: scan.runs,
      ...(o.breakdown ? { breakdown: breakdown(scan.events, o.filter) } : {}),
    };
  }
  const file = ledgerPath(o.ledger);
  const ledger = await openLedger(file);
  try {
    await ingestWithProgress(o.paths, ledger, o.book, o.inputShare);
    const under = o.explicit ? o.paths : undefined;
    const scope = under ? { under } : {};
    const runs = ledger.runs(scope).filter((r) => runMatches(r, o.filter));
    return {
      agg: cachedAggregate(ledger, o.by, { ...o.filter, ...scope }),
      problems: ledger.problems(under),
      source: `ledger ${displayPath(file)}`,
      runs,
      runEvents: runs.length ? ledger.events({ ...scope, source: 'workflow' }) : [],
      pool: runs.length ? ledger.runs() : [],
      ...(o.breakdown ? { breakdown: cachedBreakdown(ledger, { ...o.filter, ...scope }) } : {}),
    };
  } finally {
    ledger.close();
  }
}

/**
 * A shared store (the gateway's PostgreSQL ledger): what gateways and meters recorded there. Files
 * are not ingested into it (that is `tokenledger ingest` on a local ledger), and it holds no runs.
 */
async function gatherShared(o: GatherOptions, location: string): Promise<Gathered> {
  const { openSharedStore, displayLocation } = await import('../gateway/store.js');
  const store = await openSharedStore(location);
  try {
    const agg = await store.aggregate(o.by, o.filter);
    const out: Gathered = {
      agg,
      problems: [],
      source: `store ${displayLocation(store.location)}`,
      runs: [],
      runEvents: [],
      pool: [],
    };
    if (o.breakdown) out.breakdown = breakdown(await store.events(o.filter), o.filter);
    return out;
  } finally {
    await store.close();
  }
}
