/**
 * Money is exact: every cost is an integer number of nano-dollars (1e-9 USD). A per-token rate of
 * e.g. $0.30 per million tokens is 0.3 micro-dollars per token, so micro-dollars cannot hold a single
 * cache-read token; nano-dollars can, and a JavaScript number sums them exactly up to ~$9 million.
 * Rates are held as integer pico-dollars per token (= micro-dollars per million tokens), so
 * `tokens × rate` is an exact integer too; an event's cost is rounded once, half up, to nano-dollars.
 */
export type NanoUsd = number;

export const NANO_PER_USD = 1_000_000_000;

/** $/MTok (as published) → integer pico-dollars per token. Prices have at most 6 decimals. */
export function rateFromPerMTok(usdPerMTok: number): number {
  return Math.round(usdPerMTok * 1_000_000);
}

/** Integer pico-dollars → integer nano-dollars, half up. */
export function picoToNano(pico: number): NanoUsd {
  return Math.floor((pico + 500) / 1000);
}

export function nanoToUsd(n: NanoUsd): number {
  return n / NANO_PER_USD;
}

export function usdToNano(usd: number): NanoUsd {
  return Math.round(usd * NANO_PER_USD);
}

/**
 * Formats nano-dollars as dollars with `digits` decimals (half up), without going through a float
 * sum: `formatUsd(1_234_567_890) === '$1.23'`.
 */
export function formatUsd(n: NanoUsd, digits = 2): string {
  const neg = n < 0;
  const abs = Math.abs(n);
  const scale = 10 ** (9 - digits);
  const units = Math.floor((abs + scale / 2) / scale);
  const whole = Math.floor(units / 10 ** digits);
  const frac = digits > 0 ? `.${String(units % 10 ** digits).padStart(digits, '0')}` : '';
  // A negative amount that rounds to zero is zero, not "-$0.00".
  return `${neg && units > 0 ? '-' : ''}$${groupThousands(whole)}${frac}`;
}

/**
 * A cost for a table cell: cents, except an amount that cents would show as $0.00 (or hide a
 * sign) gets two significant figures, so a live meter's sub-cent calls never read as free.
 *
 * @example formatCost(3_680_000) // '$0.0037'  ·  formatCost(226_000) // '$0.00023'  ·  formatCost(0) // '$0.00'
 */
export function formatCost(n: NanoUsd): string {
  const abs = Math.abs(n);
  if (abs === 0 || abs >= 5_000_000) return formatUsd(n, 2);
  // Digits so the first two significant figures show (at most nano-dollars: 9).
  const digits = Math.min(9, Math.max(3, 11 - String(abs).length));
  return formatUsd(n, digits);
}

export function groupThousands(n: number): string {
  return Math.trunc(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
