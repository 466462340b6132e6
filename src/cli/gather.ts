import { ledgerPath } from '../config.js';
import { type Aggregate, aggregate, dayOf, type EventFilter, type GroupBy } from '../core/aggregate.js';
import type { Problem, UsageEvent } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import type { RunSummary } from '../core/run.js';
import type { LedgerStore } from '../store/ledger.js';
import { displayPath } from './io.js';
import { ingestWithProgress, openLedger, scanWithProgress } from './sources.js';

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
}

export interface GatherOptions {
  paths: string[];
  /** PATHs were given: report only what was read from them. */
  explicit: boolean;
  noLedger: boolean;
  ledger?: string;
  book: PriceBook;
  by: GroupBy;
  filter: EventFilter;
  inputShare: number;
}

/** A cached aggregate per query and ledger generation: nothing changed, nothing recomputed. */
function cachedAggregate(
  ledger: LedgerStore,
  by: GroupBy,
  filter: EventFilter & { under?: string[] },
): Aggregate {
  // Days, weeks and months are local: the same query in another time zone is another answer.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const key = `report-cache:${JSON.stringify([by, filter, zone, new Date(0).getTimezoneOffset()])}`;
  const generation = String(ledger.generation());
  const hit = ledger.getMeta(key);
  if (hit?.startsWith(`${generation}\n`)) return JSON.parse(hit.slice(generation.length + 1)) as Aggregate;
  const agg = ledger.aggregate(by, filter);
  ledger.setMeta(key, `${generation}\n${JSON.stringify(agg)}`);
  return agg;
}

function runMatches(run: RunSummary, f: EventFilter): boolean {
  if (f.project !== undefined && run.project !== f.project) return false;
  const day = dayOf(run.ts);
  if (f.since !== undefined && day < f.since) return false;
  if (f.until !== undefined && day > f.until) return false;
  return true;
}

export async function gather(o: GatherOptions): Promise<Gathered> {
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
    };
  } finally {
    ledger.close();
  }
}
