import type { GroupBy, Tally } from '../core/aggregate.js';
import type { Problem } from '../core/event.js';
import { nanoToUsd } from '../core/money.js';
import { cacheWriteTokens, totalTokens } from '../core/usage.js';

/** Everything a spend report shows; rendered as a table, JSON, CSV or Markdown. */
export interface SpendReport {
  by: GroupBy;
  totals: Tally;
  groups: Tally[];
  problems: Problem[];
  /** Where the figures came from: `ledger <path>` or `files (no ledger)`. */
  source: string;
  /** Lines printed under the table (price source, estimates, unpriced models). */
  notes: string[];
}

/** The machine-readable figures of one tally. Tokens are integers; `costUsd` is dollars. */
export function tallyJson(t: Tally) {
  return {
    events: t.events,
    inputTokens: t.usage.inputTokens,
    outputTokens: t.usage.outputTokens,
    cacheReadTokens: t.usage.cacheReadTokens,
    cacheWriteTokens: cacheWriteTokens(t.usage),
    cacheWrite5mTokens: t.usage.cacheWrite5mTokens,
    cacheWrite1hTokens: t.usage.cacheWrite1hTokens,
    reasoningTokens: t.usage.reasoningTokens,
    unsplitTokens: t.usage.unsplitTokens,
    webSearchRequests: t.usage.webSearchRequests,
    totalTokens: totalTokens(t.usage),
    costUsd: nanoToUsd(t.costNano),
    costNanoUsd: t.costNano,
    estimatedEvents: t.estimatedEvents,
    unpricedEvents: t.unpricedEvents,
    unpricedModels: [...t.unpricedModels].sort(),
    ...(t.events > 0
      ? { firstSeen: new Date(t.firstTs).toISOString(), lastSeen: new Date(t.lastTs).toISOString() }
      : {}),
  };
}

/** JSON output caps the listed problems (the count is always complete). */
export const MAX_LISTED_PROBLEMS = 1000;

export function spendReportJson(r: SpendReport) {
  return {
    by: r.by,
    source: r.source,
    totals: tallyJson(r.totals),
    groups: r.groups.map((g) => ({ key: g.key, ...tallyJson(g) })),
    problems: r.problems.slice(0, MAX_LISTED_PROBLEMS),
    problemCount: r.problems.length,
    notes: r.notes,
  };
}

/** Notes every rendering carries: what the dollars are, what is estimated, what is unpriced. */
export function spendNotes(totals: Tally, priceSource: string): string[] {
  const notes = [`$ = list prices (${priceSource}) applied to the logged token counts`];
  if (totals.usage.unsplitTokens > 0) {
    notes.push(
      '* Unsplit = workflow telemetry tokens (one count per agent, no input/output split): in totals, priced as estimates',
    );
  }
  if (totals.estimatedEvents > 0) {
    notes.push(
      `~ marks estimates: ${totals.estimatedEvents} event(s) priced without an exact rate (see \`tokenledger prices\`)`,
    );
  }
  if (totals.unpricedEvents > 0) {
    notes.push(
      `UNPRICED: ${totals.unpricedEvents} event(s) of ${[...totals.unpricedModels].sort().join(', ')} have no known price and are not in $ (add them to prices.json)`,
    );
  }
  return notes;
}
