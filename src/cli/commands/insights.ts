import { ledgerPath, loadPriceBook } from '../../config.js';
import type { UsageEvent } from '../../core/event.js';
import type { Outcome } from '../../core/insights/index.js';
import {
  buildInsights,
  insightsJson,
  renderInsightsMarkdown,
  renderInsightsTerminal,
} from '../../report/insights.js';
import { outputFormat, parse } from '../args.js';
import { UsageError } from '../errors.js';
import {
  localTimeZone,
  parseModels,
  parseNow,
  parsePeriod,
  parsePositive,
  parseRange,
  parseUsd,
  priceDataOf,
} from '../insights-args.js';
import { displayPath, type Io } from '../io.js';
import { ingestWithProgress, inputPaths, openLedger } from '../sources.js';

export const DEFAULT_TARGETS = 'claude-haiku-4-5,gpt-4.1-mini';

export const INSIGHTS_HELP = `tokenledger insights [PATH…] [options]

What should I change? From the ledger (live meter, workflow runs, Claude Code and OTLP ingests
alike): the cost leader and whether it is worth it per successful outcome, spend concentration
(an agent above 40%, every agent and stage above 25%, the HHI), stages and agents that could move
to a cheaper model with what that would have saved on their real calls (an estimate), this period
against the last with creeping costs flagged, the month-end projection with a range, agents rarely
used but costly, distillation candidates and the costliest prompt templates. PATHs are ingested
first; the insights cover the whole ledger (within --since/--until).

  --since DATE, --until DATE   local dates YYYY-MM-DD, both inclusive
  --period day|week|month|sprint:YYYY-MM-DD:DAYS
                               the period compared with the one before (default: week, from Monday)
  --targets MODEL,…            cheaper models to try (default: ${DEFAULT_TARGETS})
  --value-per-success USD      what a success is worth, for ROI (an outcome's value_usd wins)
  --top N                      rows per list (default: 5)
  --now ISO                    "now" for the current period, the projection and the 30-day window
                               (default: the clock; set it for reproducible output)
  --json | --markdown          machine-readable, or a weekly report to paste in a chat or a mail
  --ledger FILE                ledger file (default: $TOKENLEDGER_HOME/ledger.db, ~/.tokenledger/ledger.db)
  --prices FILE                price overrides (default: ~/.tokenledger/prices.json if present)

Outcomes come from \`tokenledger outcomes import FILE\` or meter.outcome(). Figures marked ~ are
estimates; counterfactual savings and projections always are.`;

const OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
  period: { type: 'string' },
  targets: { type: 'string' },
  'value-per-success': { type: 'string' },
  top: { type: 'string' },
  now: { type: 'string' },
  json: { type: 'boolean' },
  markdown: { type: 'boolean' },
  ledger: { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function insightsCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(INSIGHTS_HELP);
    return 0;
  }
  const format = outputFormat(v);
  if (format === 'csv') throw new UsageError('insights has no --csv; use --json');
  const range = parseRange(v);
  const period = parsePeriod(v.period);
  const nowMs = parseNow(v.now);
  const top = parsePositive('--top', v.top, 5);
  const valuePerSuccessUsd = parseUsd('--value-per-success', v['value-per-success']);
  const book = loadPriceBook(v.prices);
  const targets = parseModels('--targets', v.targets ?? DEFAULT_TARGETS, book, nowMs);

  const file = ledgerPath(v.ledger);
  const ledger = await openLedger(file);
  let events: UsageEvent[];
  let outcomes: Outcome[];
  try {
    // Ingesting first is only for the paths named: without, the ledger is read as it is.
    if (positionals.length) await ingestWithProgress(inputPaths(positionals).paths, ledger, book);
    events = ledger.events(range);
    outcomes = ledger.outcomes();
  } finally {
    ledger.close();
  }

  const ins = buildInsights(events, outcomes, book, {
    nowMs,
    period,
    timeZone: localTimeZone,
    targets,
    top,
    ...(valuePerSuccessUsd !== undefined ? { valuePerSuccessUsd } : {}),
  });
  const meta = {
    source: `ledger ${displayPath(file)}`,
    priceData: priceDataOf(book),
    periodSpec: v.period ?? 'week',
    ...range,
  };
  if (format === 'json') io.out(JSON.stringify(insightsJson(ins, meta), null, 2));
  else if (format === 'markdown') io.out(renderInsightsMarkdown(ins, meta));
  else io.out(renderInsightsTerminal(ins, meta, io.style));
  return 0;
}
