import { type Aggregate, aggregate, type EventFilter, type GroupBy } from '../../core/aggregate.js';
import type { Problem } from '../../core/event.js';
import { GENAI_PRICES_SOURCE } from '../../prices/price-book.js';
import { renderSpendCsv, renderSpendMarkdown, renderSpendTerminal } from '../../report/render-spend.js';
import { type SpendReport, spendNotes, spendReportJson } from '../../report/spend.js';
import type { LedgerStore } from '../../store/ledger.js';
import { outputFormat, parse, parseDay, parseGroupBy } from '../args.js';
import { ledgerPath, loadPriceBook } from '../config.js';
import { displayPath, type Io } from '../io.js';
import { ingestWithProgress, inputPaths, openLedger, scanWithProgress } from '../sources.js';

export const REPORT_HELP = `tokenledger report [PATH…] [options]

Reads Claude Code transcripts (default: $CLAUDE_CONFIG_DIR, ~/.config/claude, ~/.claude),
ingests what is new into the ledger, and prints spend grouped by one dimension.

  --by day|week|month|session|project|model|agent   grouping (default: day)
  --since DATE, --until DATE   local dates YYYY-MM-DD, both inclusive
  --project NAME               only this project (folder name under projects/)
  --json | --csv | --markdown  machine-readable or pasteable output
  --no-ledger                  scan the files directly; read and write no ledger
  --ledger FILE                ledger file (default: $TOKENLEDGER_HOME/ledger.db, ~/.tokenledger/ledger.db)
  --prices FILE                price overrides (default: ~/.tokenledger/prices.json if present)`;

const OPTIONS = {
  by: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  project: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  markdown: { type: 'boolean' },
  'no-ledger': { type: 'boolean' },
  ledger: { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A report served from the ledger is cached per query and generation: nothing changed, nothing recomputed. */
function cachedAggregate(
  ledger: LedgerStore,
  by: GroupBy,
  filter: EventFilter & { under?: string[] },
): Aggregate {
  const key = `report-cache:${JSON.stringify([by, filter])}`;
  const generation = String(ledger.generation());
  const hit = ledger.getMeta(key);
  if (hit?.startsWith(`${generation}\n`)) return JSON.parse(hit.slice(generation.length + 1)) as Aggregate;
  const agg = ledger.aggregate(by, filter);
  ledger.setMeta(key, `${generation}\n${JSON.stringify(agg)}`);
  return agg;
}

export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(REPORT_HELP);
    return 0;
  }
  const by = parseGroupBy(v.by);
  const filter: EventFilter = {};
  const since = parseDay('--since', v.since);
  const until = parseDay('--until', v.until);
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (v.project) filter.project = v.project;
  const format = outputFormat(v);
  const { paths, explicit } = inputPaths(positionals);
  const book = loadPriceBook(v.prices);

  let agg: Aggregate;
  let problems: Problem[];
  let source: string;
  if (v['no-ledger']) {
    const scan = await scanWithProgress(paths, book);
    agg = aggregate(scan.events, by, filter);
    problems = scan.problems;
    source = `${scan.stats.files} files, no ledger`;
  } else {
    const file = ledgerPath(v.ledger);
    const ledger = await openLedger(file);
    try {
      await ingestWithProgress(paths, ledger, book);
      const under = explicit ? paths : undefined;
      agg = cachedAggregate(ledger, by, under ? { ...filter, under } : filter);
      problems = ledger.problems(under);
    } finally {
      ledger.close();
    }
    source = `ledger ${displayPath(file)}`;
  }

  const report: SpendReport = {
    by,
    totals: agg.totals,
    groups: agg.groups,
    problems: problems.map((p) => ({ ...p, file: displayPath(p.file) })),
    source,
    notes: spendNotes(
      agg.totals,
      GENAI_PRICES_SOURCE + (book.version.includes('overrides') ? ' + your overrides' : ''),
    ),
  };
  switch (format) {
    case 'json':
      io.out(JSON.stringify(spendReportJson(report), null, 2));
      break;
    case 'csv':
      io.out(renderSpendCsv(report));
      break;
    case 'markdown':
      io.out(renderSpendMarkdown(report));
      break;
    case 'table':
      io.out(renderSpendTerminal(report, io.style));
      break;
  }
  return 0;
}
