import {
  BUDGET_DIMENSIONS,
  type BudgetDimension,
  type BudgetSpec,
  type BudgetWindow,
  dollarsToNano,
  windowMs,
} from '../core/budget.js';
import type { GatewayKey } from '../store/shared.js';

/**
 * Budgets written as text, for the command line and the key records:
 * - an amount and a window, `100/30d` ($100 per 30-day window), `2/run` ($2, never resets);
 * - a gateway budget, `[SCOPE:]AMOUNT/WINDOW[:alert]` with SCOPE = `dim=value,…` over the budget
 *   dimensions (`tenant`, `key`, `user`, `feature`, `run`, `agent`, …; `*` = each value separately):
 *   `tenant=*:500/30d`, `user=*,feature=chat:5/1d:alert`, `1000/1d` (all calls together).
 * Windows: `run`, `1h`, `1d`, `7d`, `30d`, or a whole number of `m`, `h` or `d` (`12h`, `90d`).
 */

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const NAMED = new Set(['run', '1h', '1d', '7d', '30d']);

/** A window as written → a `BudgetWindow`. @example windowOf('12h') // { ms: 43_200_000 } */
export function windowOf(text: string): BudgetWindow {
  if (NAMED.has(text)) return text as BudgetWindow;
  const m = /^([1-9]\d{0,5})([mhd])$/.exec(text);
  if (!m)
    throw new RangeError(
      `budget window must be run, 1h, 1d, 7d, 30d or N followed by m, h or d; got "${text}"`,
    );
  const window = { ms: Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] };
  windowMs(window);
  return window;
}

/**
 * `AMOUNT/WINDOW` → `{ limitUsd, window }` (the window kept as written, validated).
 *
 * @example parseBudgetAmount('$100/30d') // { limitUsd: 100, window: '30d' }
 */
export function parseBudgetAmount(text: string): { limitUsd: number; window: string } {
  const m = /^\$?(\d+(?:\.\d+)?)\/(\w+)$/.exec(text.trim());
  if (!m) throw new RangeError(`budget must look like 100/30d (dollars/window), got "${text}"`);
  const limitUsd = Number(m[1]);
  dollarsToNano(limitUsd);
  windowOf(m[2]!);
  return { limitUsd, window: m[2]! };
}

/**
 * A gateway budget flag → `BudgetSpec`.
 *
 * @example
 * parseBudgetFlag('tenant=*:500/30d'); // { scope: { tenant: '*' }, limitUsd: 500, window: '30d' }
 * parseBudgetFlag('user=u1,feature=chat:5/1d:alert');
 */
export function parseBudgetFlag(text: string): BudgetSpec {
  let rest = text.trim();
  let mode: BudgetSpec['mode'];
  if (rest.endsWith(':alert')) {
    mode = 'alert';
    rest = rest.slice(0, -':alert'.length);
  } else if (rest.endsWith(':enforce')) rest = rest.slice(0, -':enforce'.length);
  const colon = rest.lastIndexOf(':');
  const scopeText = colon < 0 ? '' : rest.slice(0, colon);
  const amount = parseBudgetAmount(colon < 0 ? rest : rest.slice(colon + 1));
  const scope: Partial<Record<BudgetDimension, string>> = {};
  for (const part of scopeText.split(',').filter((p) => p.trim() !== '')) {
    const eq = part.indexOf('=');
    const dim = (eq < 0 ? part : part.slice(0, eq)).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!(BUDGET_DIMENSIONS as readonly string[]).includes(dim))
      throw new RangeError(
        `budget scope "${dim}" is not one of ${BUDGET_DIMENSIONS.join(', ')} (in "${text}")`,
      );
    if (value === '') throw new RangeError(`budget scope ${dim} needs a value or * (in "${text}")`);
    scope[dim as BudgetDimension] = value;
  }
  const spec: BudgetSpec = { scope, limitUsd: amount.limitUsd, window: windowOf(amount.window) };
  if (mode) spec.mode = mode;
  return spec;
}

/** The budget a key carries (`keys create --budget`): that key's own calls, in its window. */
export function keyBudgetSpec(key: GatewayKey): BudgetSpec | undefined {
  if (!key.budget) return undefined;
  return { scope: { key: key.id }, limitUsd: key.budget.limitUsd, window: windowOf(key.budget.window) };
}
