import { type ParseArgsConfig, parseArgs } from 'node:util';
import { GROUP_BYS, type GroupBy } from '../core/aggregate.js';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `util.parseArgs` with its errors turned into usage errors (exit 2). */
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
}

/** Accepts `YYYY-MM-DD` or `YYYYMMDD`; returns `YYYY-MM-DD`. */
export function parseDay(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(value);
  if (!m) throw new UsageError(`${flag} takes a date as YYYY-MM-DD, got "${value}"`);
  const day = `${m[1]}-${m[2]}-${m[3]}`;
  if (Number.isNaN(Date.parse(`${day}T00:00:00Z`))) throw new UsageError(`${flag}: no such date "${value}"`);
  return day;
}

export function parseGroupBy(value: string | undefined): GroupBy {
  const by = value ?? 'day';
  if (!(GROUP_BYS as readonly string[]).includes(by)) {
    throw new UsageError(`--by takes one of ${GROUP_BYS.join(', ')}; got "${by}"`);
  }
  return by as GroupBy;
}

export function parseCount(flag: string, value: string | undefined): number {
  if (value === undefined) return 0;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} takes a whole number of tokens, got "${value}"`);
  return Number(value);
}

/** `table` is `--format terminal`, the default. */
export type OutputFormat = 'table' | 'json' | 'csv' | 'markdown' | 'html' | 'mermaid';

const FORMAT_NAMES: Record<string, OutputFormat> = {
  terminal: 'table',
  json: 'json',
  csv: 'csv',
  markdown: 'markdown',
  html: 'html',
  mermaid: 'mermaid',
};

/**
 * The output format from `--format NAME` and its older aliases `--json`, `--csv`, `--markdown`;
 * naming two different formats is a usage error (`--format json --json` is one).
 */
export function outputFormat(v: {
  format?: string;
  json?: boolean;
  csv?: boolean;
  markdown?: boolean;
}): OutputFormat {
  const chosen = new Map<OutputFormat, string>();
  if (v.format !== undefined) {
    const f = Object.hasOwn(FORMAT_NAMES, v.format) ? FORMAT_NAMES[v.format] : undefined;
    if (!f)
      throw new UsageError(
        `--format takes one of ${Object.keys(FORMAT_NAMES).join(', ')}; got "${v.format}"`,
      );
    chosen.set(f, `--format ${v.format}`);
  }
  for (const f of ['json', 'csv', 'markdown'] as const) if (v[f] && !chosen.has(f)) chosen.set(f, `--${f}`);
  if (chosen.size > 1)
    throw new UsageError(`choose one output format, not ${[...chosen.values()].join(' and ')}`);
  return [...chosen.keys()][0] ?? 'table';
}
