import { ledgerPath, loadPriceBook } from '../../config.js';
import type { UsageEvent } from '../../core/event.js';
import {
  type Dimension,
  describeSlice,
  dimensionValue,
  inSlice,
  measuredSavings,
  type Slice,
  splitAt,
  whatIf,
} from '../../core/insights/index.js';
import {
  renderWhatIfMarkdown,
  renderWhatIfTerminal,
  type WhatIfView,
  whatIfJson,
} from '../../report/whatif.js';
import type { LedgerFilter } from '../../store/ledger.js';
import { outputFormat, parse, parseDay } from '../args.js';
import { UsageError } from '../errors.js';
import { localMidnight, parseModels, parseRange, priceDataOf } from '../insights-args.js';
import { displayPath, type Io } from '../io.js';
import { ingestWithProgress, inputPaths, openLedger } from '../sources.js';

export const WHATIF_HELP = `tokenledger whatif --model MODEL[,MODEL…] [slice] [options]

Re-prices a slice of the ledger at another model: the slice's real calls, with their real token
buckets (input, output, cache reads and writes), at the other model's list prices on each call's
date. Always an estimate: another model would not use exactly the same tokens, and quality is not
priced. With --changed-at, also the slice's MEASURED cost per call and per run before and since a
change (a model switch, a prompt rewrite): measured in the ledger, not re-priced.

  --model MODEL[,MODEL…]       the model(s) to re-price at
  --provider ID                their provider, when the model id alone is ambiguous
  --agent NAME, --stage NAME, --task NAME, --run ID, --project NAME, --workflow NAME
                               the slice (all given must match; none = the whole ledger)
  --since DATE, --until DATE   local dates YYYY-MM-DD, both inclusive
  --changed-at DATE            measured before (< DATE) and since (≥ DATE, local midnight)
  --json | --markdown          machine-readable or pasteable output
  --ledger FILE, --prices FILE as for report; PATHs given are ingested first`;

const SLICE_FLAGS = [
  'agent',
  'stage',
  'task',
  'run',
  'project',
  'workflow',
] as const satisfies readonly Dimension[];

const OPTIONS = {
  model: { type: 'string' },
  provider: { type: 'string' },
  agent: { type: 'string' },
  stage: { type: 'string' },
  task: { type: 'string' },
  run: { type: 'string' },
  project: { type: 'string' },
  workflow: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  'changed-at': { type: 'string' },
  json: { type: 'boolean' },
  markdown: { type: 'boolean' },
  ledger: { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The values a dimension takes in the events, for a "did you mean" hint. */
function known(events: UsageEvent[], dim: Dimension): string {
  const values = [
    ...new Set(events.map((e) => dimensionValue(e, dim)).filter((x) => x !== undefined)),
  ].sort();
  if (values.length === 0) return `no call in range names a ${dim}`;
  return `${dim}s in range: ${values.slice(0, 12).join(', ')}${values.length > 12 ? ', …' : ''}`;
}

export async function whatifCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(WHATIF_HELP);
    return 0;
  }
  const format = outputFormat(v);
  if (format === 'csv') throw new UsageError('whatif has no --csv; use --json');
  const changedAt = parseDay('--changed-at', v['changed-at']);
  if (v.model === undefined && !changedAt)
    throw new UsageError(
      'which model? tokenledger whatif --model MODEL [--agent NAME …] (or --changed-at DATE)',
    );
  const range = parseRange(v);
  const book = loadPriceBook(v.prices);
  const targets = v.model === undefined ? [] : parseModels('--model', v.model, book, Date.now(), v.provider);

  const slice: Slice = {};
  for (const f of SLICE_FLAGS) if (v[f] !== undefined) slice[f] = v[f];
  const filter: LedgerFilter = { ...range };
  if (slice.run !== undefined) filter.run = slice.run;
  if (slice.project !== undefined) filter.project = slice.project;

  const file = ledgerPath(v.ledger);
  const ledger = await openLedger(file);
  let all: UsageEvent[];
  try {
    if (positionals.length) await ingestWithProgress(inputPaths(positionals).paths, ledger, book);
    all = ledger.events(filter);
  } finally {
    ledger.close();
  }
  const events = all.filter((e) => inSlice(e, slice));
  const label = describeSlice(slice);
  if (events.length === 0) {
    const given = SLICE_FLAGS.filter((f) => slice[f] !== undefined);
    const hint = given.length ? `; ${given.map((d) => known(all, d)).join('; ')}` : '';
    throw new UsageError(
      `no calls match ${label}${range.since || range.until ? ' in that range' : ''}${hint}`,
    );
  }

  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    first = Math.min(first, e.ts);
    last = Math.max(last, e.ts);
  }
  const view: WhatIfView = {
    slice,
    label,
    source: `ledger ${displayPath(file)}`,
    priceData: priceDataOf(book),
    ...range,
    events: events.length,
    estimatedEvents: events.filter((e) => e.cost.estimated).length,
    firstTs: first,
    lastTs: last,
    fromModels: [...new Set(events.map((e) => e.model))].sort(),
    results: targets.map((t) => whatIf(events, slice, t, book, v.provider)),
  };
  if (changedAt) {
    const { before, after } = splitAt(events, localMidnight(changedAt));
    view.measured = {
      changedAt,
      perCall: measuredSavings(before, after, slice, 'call'),
      perRun: measuredSavings(before, after, slice, 'run'),
    };
  }

  if (format === 'json') io.out(JSON.stringify(whatIfJson(view), null, 2));
  else if (format === 'markdown') io.out(renderWhatIfMarkdown(view));
  else io.out(renderWhatIfTerminal(view, io.style));
  // Nothing could be compared (every call unpriced on one side): the answer is missing, say so.
  return view.results.length > 0 && view.results.every((r) => r.comparedEvents === 0) ? 1 : 0;
}
