import type { Period, TimeZoneOffset } from '../core/insights/index.js';
import type { PriceBook } from '../core/pricing.js';
import { GENAI_PRICES_SOURCE } from '../prices/price-book.js';
import { parseDay } from './args.js';
import { UsageError } from './errors.js';

/** Option parsing shared by `insights` and `whatif`. */

/** The process's local time zone (`TZ`), as core's offset function: the days `report` uses too. */
export const localTimeZone: TimeZoneOffset = (ts) => -new Date(ts).getTimezoneOffset() * 60_000;

/** Local midnight of a `YYYY-MM-DD` day, epoch ms. */
export function localMidnight(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d).getTime();
}

/** `--period day|week|month|sprint:YYYY-MM-DD:DAYS`. */
export function parsePeriod(value: string | undefined): Period {
  const v = value ?? 'week';
  if (v === 'day' || v === 'week' || v === 'month') return v;
  const m = /^sprint:([^:]+):(\d+)$/.exec(v);
  if (!m)
    throw new UsageError(
      `--period takes day, week, month or sprint:YYYY-MM-DD:DAYS (e.g. sprint:2026-11-02:14), got "${v}"`,
    );
  const start = parseDay('--period sprint start', m[1])!;
  const days = Number(m[2]);
  if (!(days >= 1)) throw new UsageError(`--period: a sprint lasts at least one day, got ${m[2]}`);
  return { sprintStartMs: localMidnight(start), days };
}

/** `--now ISO` (a date or a date and time), else the clock. */
export function parseNow(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new UsageError(`--now takes an ISO date or time (2026-11-23T12:00:00Z), got "${value}"`);
  return ms;
}

const DECIMAL = /^\d+(\.\d+)?$/;

/** A non-negative amount of dollars (`--value-per-success 4.50`). */
export function parseUsd(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().replace(/^\$/, '');
  if (!DECIMAL.test(v)) throw new UsageError(`${flag} takes an amount of dollars like 4.50, got "${value}"`);
  return Number(v);
}

/** A positive whole number (`--top 10`). */
export function parsePositive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} takes a whole number ≥ 1, got "${value}"`);
  return Number(value);
}

/** Comma-separated model ids, each one the price book knows (an unknown one is a usage error). */
export function parseModels(
  flag: string,
  value: string,
  book: PriceBook,
  nowMs: number,
  provider?: string,
): string[] {
  const models = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (models.length === 0) throw new UsageError(`${flag} takes one or more model ids, comma-separated`);
  for (const model of models)
    if (!book.quote({ model, time: nowMs, ...(provider ? { provider } : {}) }))
      throw new UsageError(
        `${flag}: no price known for "${model}" (see tokenledger prices ${model}; add it to prices.json)`,
      );
  return models;
}

/** `--since`/`--until` as the ledger's local-day filter. */
export function parseRange(v: { since?: string | undefined; until?: string | undefined }): {
  since?: string;
  until?: string;
} {
  const since = parseDay('--since', v.since);
  const until = parseDay('--until', v.until);
  if (since && until && since > until) throw new UsageError(`--since ${since} is after --until ${until}`);
  return { ...(since ? { since } : {}), ...(until ? { until } : {}) };
}

/** The price data behind the dollars, as `report` names it. */
export function priceDataOf(book: PriceBook): string {
  return GENAI_PRICES_SOURCE + (book.version.includes('overrides') ? ' + your overrides' : '');
}
