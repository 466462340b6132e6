import type { MeasuredSavings, Slice, WhatIfResult } from '../core/insights/index.js';
import { formatUsd, groupThousands } from '../core/money.js';
import { escapeTildes, pct, usd, withUsd } from './insights.js';
import { renderMarkdownTable, renderTerminalTable, type Style, type Table } from './table.js';

/**
 * `tokenledger whatif`: a slice of the ledger re-priced at other models (always an estimate), and
 * optionally the slice's measured cost per call and per run before and after a change.
 */

export interface WhatIfView {
  slice: Slice;
  /** The slice in words (`agent=verifier`), or `(all)`. */
  label: string;
  source: string;
  priceData: string;
  since?: string;
  until?: string;
  /** Calls in the slice. */
  events: number;
  /** Of them, calls whose actual cost is itself an estimate (workflow blends, fast mode). */
  estimatedEvents: number;
  firstTs: number;
  lastTs: number;
  fromModels: string[];
  results: WhatIfResult[];
  measured?: { changedAt: string; perCall: MeasuredSavings; perRun: MeasuredSavings };
}

const ESTIMATE_NOTE =
  "Estimate: the same calls with their real token buckets (input, output, cache reads and writes) priced at the other model's list prices on each call's date. Another model would not use exactly the same tokens, and quality is not priced.";

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function savingCell(r: WhatIfResult): string {
  if (r.comparedEvents === 0) return 'n/a';
  return `~${formatUsd(r.savingsNano)} (${pct(r.savingsShare)})${r.savingsNano < 0 ? ' dearer' : ''}`;
}

function resultsTable(v: WhatIfView): Table {
  const actualEstimated = v.estimatedEvents > 0;
  return {
    head: ['Model', 'Calls compared', 'Actual', 'Re-priced', 'Saving'],
    right: [false, true, true, true, true],
    rows: v.results.map((r) => [
      r.targetModel,
      groupThousands(r.comparedEvents),
      usd(r.actualNano, actualEstimated),
      `~${formatUsd(r.counterfactualNano)}`,
      savingCell(r),
    ]),
  };
}

function leftOut(v: WhatIfView): string[] {
  const out: string[] = [];
  for (const r of v.results) {
    if (r.unpricedActual)
      out.push(
        `${r.unpricedActual} call(s) have no known price (${v.fromModels.join(', ')}): left out of both sides.`,
      );
    if (r.unpricedTarget)
      out.push(
        `${r.targetModel}: ${r.unpricedTarget} call(s) it has no price for on their date: left out of both sides.`,
      );
  }
  return [...new Set(out)];
}

function measuredLines(v: WhatIfView): { intro: string; table: Table; after: string[] } | undefined {
  const m = v.measured;
  if (!m) return undefined;
  const est = v.estimatedEvents > 0;
  const row = (label: string, s: MeasuredSavings, unit: string) => [
    label,
    s.before.perUnitNano === null ? 'n/a' : usd(s.before.perUnitNano, est, 4),
    s.after.perUnitNano === null ? 'n/a' : usd(s.after.perUnitNano, est, 4),
    s.savingsShare === null ? 'n/a' : `${s.savingsShare > 0 ? '-' : '+'}${pct(Math.abs(s.savingsShare))}`,
    `${groupThousands(s.before.units)} → ${groupThousands(s.after.units)} ${unit}`,
  ];
  const after: string[] = [];
  const s = m.perCall;
  if (s.savingsNano !== null)
    after.push(
      `At the before rate the ${groupThousands(s.after.units)} call(s) since would have cost ${usd(s.savingsNano + s.after.costNano, est)}; they cost ${usd(s.after.costNano, est)}: ${usd(Math.abs(s.savingsNano), est)} ${s.savingsNano >= 0 ? 'saved' : 'more'}.`,
    );
  if (m.perRun.before.noRun + m.perRun.after.noRun > 0)
    after.push(
      `${m.perRun.before.noRun + m.perRun.after.noRun} call(s) without a run id are not in the per-run figures.`,
    );
  return {
    intro: `Measured before and since ${m.changedAt} (measured in the ledger, not re-priced; the mix of work may have changed too, and a drop can be a failure):`,
    table: {
      head: ['', 'Before', 'Since', 'Change', 'Measured'],
      right: [false, true, true, true, false],
      rows: [
        row('per call', m.perCall, 'calls'),
        // Calls without a run id (Claude Code sessions) have no per-run figure to show.
        ...(m.perRun.before.units + m.perRun.after.units > 0 ? [row('per run', m.perRun, 'runs')] : []),
      ],
    },
    after,
  };
}

function summary(v: WhatIfView): string {
  return `${groupThousands(v.events)} call(s) of ${v.fromModels.join(', ')} · ${day(v.firstTs)} → ${day(v.lastTs)}`;
}

export function renderWhatIfTerminal(v: WhatIfView, style: Style): string {
  const range = v.since || v.until ? ` · ${v.since ?? '…'} to ${v.until ?? '…'}` : '';
  const out = [
    style.bold(`tokenledger · what if ${v.label} ran on another model · ${v.source}${range}`),
    summary(v),
  ];
  if (v.results.length) {
    out.push('', renderTerminalTable(resultsTable(v), style), '');
    out.push(style.dim(ESTIMATE_NOTE));
    for (const l of leftOut(v)) out.push(style.yellow(l));
  }
  const m = measuredLines(v);
  if (m) {
    out.push('', m.intro, renderTerminalTable(m.table, style));
    for (const l of m.after) out.push(l);
  }
  out.push('', style.dim(`$ = list prices (${v.priceData}); ~ marks estimates`));
  return out.join('\n');
}

export function renderWhatIfMarkdown(v: WhatIfView): string {
  const out = [`## What if ${v.label} ran on another model`, '', `${summary(v)} · ${v.source}`];
  if (v.results.length) {
    out.push('', renderMarkdownTable(resultsTable(v)), '', `_${ESTIMATE_NOTE}_`);
    for (const l of leftOut(v)) out.push('', `- ${l}`);
  }
  const m = measuredLines(v);
  if (m) {
    out.push('', m.intro, '', renderMarkdownTable(m.table));
    for (const l of m.after) out.push('', `- ${l}`);
  }
  out.push('', `$ = list prices (${v.priceData}); ~ marks estimates`);
  return escapeTildes(out.join('\n'));
}

export function whatIfJson(v: WhatIfView) {
  return withUsd({
    slice: v.slice,
    label: v.label,
    source: v.source,
    priceData: v.priceData,
    since: v.since ?? null,
    until: v.until ?? null,
    events: v.events,
    estimatedEvents: v.estimatedEvents,
    firstSeen: new Date(v.firstTs).toISOString(),
    lastSeen: new Date(v.lastTs).toISOString(),
    fromModels: v.fromModels,
    results: v.results,
    ...(v.measured ? { measured: v.measured } : {}),
    estimated: true,
    note: ESTIMATE_NOTE,
  });
}
