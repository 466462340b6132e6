import type { Tally } from '../core/aggregate.js';
import { formatCost, groupThousands, nanoToUsd } from '../core/money.js';
import { cacheWriteTokens, totalTokens } from '../core/usage.js';
import type { SpendReport } from './spend.js';
import { renderCsv, renderMarkdownTable, renderTerminalTable, type Style, type Table } from './table.js';

const BY_LABEL: Record<SpendReport['by'], string> = {
  day: 'Day',
  week: 'Week of',
  month: 'Month',
  session: 'Session',
  project: 'Project',
  model: 'Model',
  agent: 'Agent',
};

/** A compact token count: 1,234 → "1,234"; 12,345,678 → "12.35M". */
export function compactTokens(n: number): string {
  if (n >= 10_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  return groupThousands(n);
}

function costCell(t: Tally): string {
  let s = formatCost(t.costNano);
  if (t.estimatedEvents > 0) s = `~${s}`;
  if (t.unpricedEvents > 0) s += ` +${t.unpricedEvents} unpriced`;
  return s;
}

function cells(t: Tally, unsplit: boolean): string[] {
  return [
    groupThousands(t.events),
    compactTokens(t.usage.inputTokens),
    compactTokens(t.usage.outputTokens),
    compactTokens(t.usage.cacheReadTokens),
    compactTokens(cacheWriteTokens(t.usage)),
    ...(unsplit ? [compactTokens(t.usage.unsplitTokens)] : []),
    compactTokens(totalTokens(t.usage)),
    costCell(t),
  ];
}

function spendTable(r: SpendReport): Table {
  // Tokens of unknown kind (workflow telemetry) get a column only when there are any.
  const unsplit = r.totals.usage.unsplitTokens > 0;
  const head = [BY_LABEL[r.by], 'Events', 'Input', 'Output', 'Cache read', 'Cache write'];
  if (unsplit) head.push('Unsplit*');
  head.push('Total tokens', 'Cost');
  return {
    head,
    right: head.map((_, i) => i > 0),
    rows: r.groups.map((g) => [g.key, ...cells(g, unsplit)]),
    foot: ['Total', ...cells(r.totals, unsplit)],
  };
}

function problemLines(r: SpendReport, limit: number): string[] {
  if (r.problems.length === 0) return [];
  const out = [`${r.problems.length} problem(s) in the input (skipped, counted, nothing else lost):`];
  for (const p of r.problems.slice(0, limit))
    out.push(`  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.reason}`);
  if (r.problems.length > limit) out.push(`  … and ${r.problems.length - limit} more (--json lists them)`);
  return out;
}

/** The problem list alone, as `renderSpendTerminal` ends with it ('' when there are none). */
export function renderProblemsTerminal(r: SpendReport, style: Style, limit = 10): string {
  return problemLines(r, limit)
    .map((l, i) => (i === 0 ? style.yellow(l) : l))
    .join('\n');
}

export function renderSpendTerminal(r: SpendReport, style: Style): string {
  const out = [style.bold(`tokenledger · spend by ${r.by} · ${r.source}`), ''];
  if (r.totals.events === 0) out.push('No usage found.');
  else out.push(renderTerminalTable(spendTable(r), style));
  out.push('');
  for (const n of r.notes) out.push(n.startsWith('UNPRICED') ? style.yellow(n) : style.dim(n));
  const problems = renderProblemsTerminal(r, style);
  if (problems) out.push('', problems);
  return out.join('\n');
}

export function renderSpendMarkdown(r: SpendReport): string {
  const out = [`## Spend by ${r.by}`, '', `Source: ${r.source}`, '', renderMarkdownTable(spendTable(r)), ''];
  for (const n of r.notes) out.push(`- ${n}`);
  const problems = problemLines(r, 50);
  if (problems.length) out.push('', '```', ...problems, '```');
  return out.join('\n');
}

export function renderSpendCsv(r: SpendReport): string {
  const head = [
    r.by,
    'events',
    'input_tokens',
    'output_tokens',
    'cache_read_tokens',
    'cache_write_5m_tokens',
    'cache_write_1h_tokens',
    'total_tokens',
    'cost_usd',
    'estimated_events',
    'unpriced_events',
    'unpriced_models',
  ];
  const row = (key: string, t: Tally) => [
    key,
    t.events,
    t.usage.inputTokens,
    t.usage.outputTokens,
    t.usage.cacheReadTokens,
    t.usage.cacheWrite5mTokens,
    t.usage.cacheWrite1hTokens,
    totalTokens(t.usage),
    nanoToUsd(t.costNano)
      .toFixed(9)
      .replace(/\.?0+$/, ''),
    t.estimatedEvents,
    t.unpricedEvents,
    [...t.unpricedModels].sort().join(' '),
  ];
  return renderCsv(head, [...r.groups.map((g) => row(g.key, g)), row('TOTAL', r.totals)]);
}
