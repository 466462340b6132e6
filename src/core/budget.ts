import type { Attribution } from './event.js';
import { formatUsd, type NanoUsd, nanoToUsd, usdToNano } from './money.js';

/**
 * Budgets: which spend a call counts against, and the error that refuses it. Pure: the counting
 * itself (atomic reservations) lives in a {@link BudgetStore} such as `SqliteBudgetStore`.
 */

/**
 * The attribution dimensions a budget can be scoped to. `tenant` and `key` are set by the gateway
 * from the client's gateway key (tags {@link TENANT_TAG} and {@link GATEWAY_KEY_TAG}).
 */
export const BUDGET_DIMENSIONS = [
  'project',
  'user',
  'feature',
  'session',
  'run',
  'agent',
  'task',
  'stage',
  'tenant',
  'key',
] as const;
export type BudgetDimension = (typeof BUDGET_DIMENSIONS)[number];

/** The tag holding an event's tenant (the gateway sets it from the key; a client cannot). */
export const TENANT_TAG = 'tenant';
/** The tag holding the id (never the secret) of the gateway key a call was made with. */
export const GATEWAY_KEY_TAG = 'gatewayKey';

/**
 * Where each dimension is read from an {@link Attribution}. `agent` is the agent's name (what
 * `report --by agent` groups by), not its per-instance id.
 */
const ATTRIBUTION_VALUE: Record<BudgetDimension, (a: Attribution) => string | undefined> = {
  project: (a) => a.project,
  user: (a) => a.user,
  feature: (a) => a.feature,
  session: (a) => a.session,
  run: (a) => a.run,
  agent: (a) => a.agentName,
  task: (a) => a.task,
  stage: (a) => a.stage,
  tenant: (a) => a.tags?.[TENANT_TAG],
  key: (a) => a.tags?.[GATEWAY_KEY_TAG],
};

/** The tag a dimension lives in, for the dimensions that are tags rather than attribution fields. */
const TAG_OF: Partial<Record<BudgetDimension, string>> = { tenant: TENANT_TAG, key: GATEWAY_KEY_TAG };
const FIELD_OF: Partial<Record<BudgetDimension, keyof Attribution>> = { agent: 'agentName' };

/**
 * A copy of `attribution` with these dimension values set where {@link budgetKeys} reads them
 * (`agent` → `agentName`, `tenant`/`key` → their tags).
 *
 * @example withDimensions({ run: 'r1' }, { tenant: 'acme' }); // { run: 'r1', tags: { tenant: 'acme' } }
 */
export function withDimensions(
  attribution: Attribution,
  values: Partial<Record<BudgetDimension, string>>,
): Attribution {
  const a: Attribution = { ...attribution };
  for (const d of BUDGET_DIMENSIONS) {
    const v = values[d];
    if (v === undefined) continue;
    const tag = TAG_OF[d];
    if (tag) a.tags = { ...a.tags, [tag]: v };
    else (a as Record<string, unknown>)[FIELD_OF[d] ?? d] = v;
  }
  return a;
}

/** A scope value meaning "each distinct value separately". */
export const EACH = '*';

export type BudgetWindow = 'run' | '1h' | '1d' | '7d' | '30d' | { ms: number };

const NAMED_WINDOW_MS = {
  '1h': 3_600_000,
  '1d': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
} as const;

/**
 * A spending limit over part of the attribution space.
 *
 * - `scope`: each listed dimension must match. A concrete value matches only that value; `'*'`
 *   gives every distinct value its own limit (`{ run: '*' }` = each run may spend `limitUsd`). A call
 *   without a value for a listed dimension is outside the budget; `{}` is one global budget.
 * - `window`: `'run'` never resets (the limit is for the scope's lifetime). Fixed windows are aligned
 *   to whole multiples of their length since the Unix epoch in UTC, so every process agrees on them
 *   without coordination: `1d` resets at 00:00 UTC, `7d` on Thursdays 00:00 UTC (the epoch was a
 *   Thursday), `30d` every 30 days — not at calendar months.
 * - `mode`: `'enforce'` (default) refuses calls; `'alert'` only counts.
 * - `id`: names the budget's ledger rows; by default derived from scope and window (not from the
 *   limit, so raising a limit keeps the spend already counted).
 *
 * @example
 * const perRun: BudgetSpec = { scope: { run: '*' }, limitUsd: 2, window: 'run' };
 * const daily: BudgetSpec = { id: 'u1-daily', scope: { user: 'u1' }, limitUsd: 20, window: '1d' };
 */
export interface BudgetSpec {
  id?: string;
  scope: Partial<Record<BudgetDimension, string>>;
  limitUsd: number;
  window: BudgetWindow;
  mode?: 'enforce' | 'alert';
}

/** One ledger row a call counts against: a budget, the scope's concrete values and a window. */
export interface BudgetKey {
  /** The store's key: unambiguous, equal in every process for the same budget, scope and window. */
  key: string;
  budgetId: string;
  /** The concrete values of the scope (`'*'` replaced by the call's value). */
  scope: Partial<Record<BudgetDimension, string>>;
  window: BudgetWindow;
  /** Epoch ms of the window's start and end (end exclusive); `null` for `'run'` windows. */
  windowStartMs: number | null;
  windowEndMs: number | null;
}

/**
 * What a budget store does; SQLite today, PostgreSQL for the gateway. `reserve` must be one atomic
 * check-and-add (no read-then-write), so concurrent processes never pass the limit together.
 */
export interface BudgetStore {
  reserve(key: string, limitNano: NanoUsd, amountNano: NanoUsd, nowMs: number): ReserveResult;
  /** Moves a reservation to spent (`actualNano`); false when it was already settled or released. */
  settle(reservationId: string, actualNano: NanoUsd): boolean;
  /** Drops a reservation that used nothing; false when it was already settled or released. */
  release(reservationId: string): boolean;
  usage(key: string): BudgetUsage;
  close(): void;
}

export interface BudgetUsage {
  spentNano: NanoUsd;
  reservedNano: NanoUsd;
}

/** `spentNano`/`reservedNano` are the totals after the reservation (ok) or at the refusal. */
export type ReserveResult =
  | { ok: true; reservationId: string; spentNano: NanoUsd; reservedNano: NanoUsd }
  | { ok: false; spentNano: NanoUsd; reservedNano: NanoUsd };

/**
 * Dollars → nano-dollars, refusing what cannot be a budget amount (negative, NaN, too large).
 * Exact for every amount with at most 9 decimals up to $2,251,799 (2^51 nano-dollars): below that
 * the float error of `usd × 1e9` stays under half a nano-dollar, so rounding recovers the decimal.
 *
 * @example
 * dollarsToNano(0.03); // 30_000_000 (0.03 × 1e9 is 30000000.000000004 as a float)
 */
export function dollarsToNano(usd: number): NanoUsd {
  if (!Number.isFinite(usd) || usd < 0) throw new RangeError(`not a dollar amount: ${usd}`);
  const nano = usdToNano(usd);
  if (nano > MAX_EXACT_NANO) throw new RangeError(`dollar amount too large to count exactly: ${usd}`);
  return nano;
}

/** Largest nano-dollar amount {@link dollarsToNano} converts exactly (2^51). */
export const MAX_EXACT_NANO = 2 ** 51;

/** The spec's limit in nano-dollars. @example budgetLimitNano({ scope: {}, limitUsd: 1, window: 'run' }) // 1e9 */
export function budgetLimitNano(spec: BudgetSpec): NanoUsd {
  return dollarsToNano(spec.limitUsd);
}

/** Length of a fixed window in ms; `null` for `'run'`. @example windowMs('1h') // 3_600_000 */
export function windowMs(window: BudgetWindow): number | null {
  if (window === 'run') return null;
  const ms = typeof window === 'string' ? NAMED_WINDOW_MS[window] : window.ms;
  if (!Number.isSafeInteger(ms) || ms <= 0)
    throw new RangeError(`window length must be a positive integer of ms`);
  return ms;
}

/** Canonical window name: `{ ms: 3_600_000 }` and `'1h'` are the same window. */
export function windowLabel(window: BudgetWindow): string {
  const ms = windowMs(window);
  if (ms === null) return 'run';
  const named = Object.entries(NAMED_WINDOW_MS).find(([, v]) => v === ms);
  return named ? named[0] : `${ms}ms`;
}

/**
 * The budget's id: `spec.id`, or one derived from its scope and window.
 *
 * @example
 * budgetId({ scope: { user: 'u1', run: '*' }, limitUsd: 5, window: '1d' }); // 'user=u1&run=*&window=1d'
 */
export function budgetId(spec: BudgetSpec): string {
  if (spec.id !== undefined) {
    if (spec.id === '') throw new RangeError('budget id must not be empty');
    return spec.id;
  }
  const parts = BUDGET_DIMENSIONS.filter((d) => spec.scope[d] !== undefined).map(
    (d) => `${d}=${encodeURIComponent(spec.scope[d]!)}`,
  );
  parts.push(`window=${windowLabel(spec.window)}`);
  return parts.join('&');
}

/**
 * The ledger key(s) a call with this attribution counts against at `nowMs`: none when the scope
 * does not match, otherwise one (an array so several budgets' keys can be `flatMap`ped).
 *
 * @example
 * budgetKeys({ scope: { run: '*' }, limitUsd: 2, window: 'run' }, { run: 'nightly-42' }, Date.now());
 * // [{ key: '["run=*&window=run",{"run":"nightly-42"},"run"]',
 * //    budgetId: 'run=*&window=run', scope: { run: 'nightly-42' },
 * //    window: 'run', windowStartMs: null, windowEndMs: null }]
 */
export function budgetKeys(spec: BudgetSpec, attribution: Attribution, nowMs: number): BudgetKey[] {
  const id = budgetId(spec);
  const scope: Partial<Record<BudgetDimension, string>> = {};
  for (const d of BUDGET_DIMENSIONS) {
    const want = spec.scope[d];
    if (want === undefined) continue;
    if (want === '') throw new RangeError(`budget ${id}: scope value of '${d}' is empty`);
    const have = ATTRIBUTION_VALUE[d](attribution);
    if (typeof have !== 'string' || have === '') return [];
    if (want !== EACH && want !== have) return [];
    scope[d] = have;
  }
  const ms = windowMs(spec.window);
  if (!Number.isFinite(nowMs)) throw new RangeError(`not a time: ${nowMs}`);
  const start = ms === null ? null : Math.floor(nowMs / ms) * ms;
  const windowPart = start === null ? 'run' : `${windowLabel(spec.window)}@${new Date(start).toISOString()}`;
  return [
    {
      // JSON: ids and scope values may hold any character and still give distinct keys.
      key: JSON.stringify([id, scope, windowPart]),
      budgetId: id,
      scope,
      window: spec.window,
      windowStartMs: start,
      windowEndMs: start === null ? null : start + ms!,
    },
  ];
}

/** One reservation a call must make: a key with the strictest limit of the budgets sharing it. */
export interface BudgetCheck {
  key: BudgetKey;
  /**
   * Smallest `enforce` limit on this key; `null` when only `alert` budgets count here (reserve with
   * `Number.MAX_SAFE_INTEGER` then: the spend is still counted for alerts, nothing is refused).
   */
  limitNano: NanoUsd | null;
  specs: BudgetSpec[];
}

/**
 * The reservations a call needs under several budgets: each distinct key once. Budgets with the
 * same derived id (same scope and window) share one ledger row, so reserving per spec would count
 * the call twice; this merges them and keeps the smallest enforced limit.
 *
 * @example
 * budgetChecks([{ scope: {}, limitUsd: 10, window: '1d' }, { scope: {}, limitUsd: 8, window: '1d' }], {}, now);
 * // one check, limitNano 8e9
 */
export function budgetChecks(
  specs: readonly BudgetSpec[],
  attribution: Attribution,
  nowMs: number,
): BudgetCheck[] {
  const byKey = new Map<string, BudgetCheck>();
  for (const spec of specs) {
    const limit = budgetLimitNano(spec);
    for (const key of budgetKeys(spec, attribution, nowMs)) {
      const check = byKey.get(key.key) ?? { key, limitNano: null, specs: [] };
      check.specs.push(spec);
      if ((spec.mode ?? 'enforce') === 'enforce')
        check.limitNano = check.limitNano === null ? limit : Math.min(check.limitNano, limit);
      byKey.set(key.key, check);
    }
  }
  return [...byKey.values()];
}

/** What {@link BudgetExceededError} reports; amounts in exact nano-dollars. */
export interface BudgetRefusal {
  key: BudgetKey;
  limitNano: NanoUsd;
  spentNano: NanoUsd;
  reservedNano: NanoUsd;
  estimateNano: NanoUsd;
  nowMs: number;
}

/**
 * Thrown before the provider is called when a call's worst-case estimate on top of what is spent
 * and reserved would pass a budget's limit. Amounts are in dollars; `scope` holds the concrete
 * values (the run that hit its per-run limit, not `'*'`); `retryAfterMs` is the time until a fixed
 * window rolls over (absent for `'run'` windows, which never do).
 *
 * @example
 * try { await client.messages.create(req); } catch (e) {
 *   if (e instanceof BudgetExceededError) console.log(e.budgetId, e.spentUsd, e.retryAfterMs);
 * }
 */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';
  readonly code = 'BUDGET_EXCEEDED';
  readonly budgetId: string;
  readonly scope: Partial<Record<BudgetDimension, string>>;
  readonly window: BudgetWindow;
  readonly limitUsd: number;
  readonly spentUsd: number;
  readonly reservedUsd: number;
  readonly estimateUsd: number;
  // `declare`: no class field is emitted, so on a 'run' window the property is absent, not undefined.
  declare readonly retryAfterMs?: number;

  constructor(r: BudgetRefusal) {
    super(refusalMessage(r));
    this.budgetId = r.key.budgetId;
    this.scope = r.key.scope;
    this.window = r.key.window;
    this.limitUsd = nanoToUsd(r.limitNano);
    this.spentUsd = nanoToUsd(r.spentNano);
    this.reservedUsd = nanoToUsd(r.reservedNano);
    this.estimateUsd = nanoToUsd(r.estimateNano);
    if (r.key.windowEndMs !== null) this.retryAfterMs = Math.max(0, r.key.windowEndMs - r.nowMs);
  }
}

function refusalMessage(r: BudgetRefusal): string {
  const scope = Object.entries(r.key.scope).map(([d, v]) => `${d}=${v}`);
  const where = `${scope.length ? scope.join(', ') : 'all calls'}, window ${windowLabel(r.key.window)}`;
  const resets = r.key.windowEndMs === null ? '' : `; resets in ${duration(r.key.windowEndMs - r.nowMs)}`;
  return (
    `budget "${r.key.budgetId}" exceeded (${where}): this call's estimate ${usd(r.estimateNano)} + ` +
    `${usd(r.spentNano)} spent + ${usd(r.reservedNano)} reserved would pass the ${usd(r.limitNano)} limit${resets}`
  );
}

/** Cents when they are exact, otherwise up to 6 decimals: a $0.003 estimate must not read $0.00. */
function usd(n: NanoUsd): string {
  for (let digits = 2; digits < 6; digits++) if (n % 10 ** (9 - digits) === 0) return formatUsd(n, digits);
  return formatUsd(n, 6);
}

function duration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const units: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor(s / 3600) % 24, 'h'],
    [Math.floor(s / 60) % 60, 'm'],
    [s % 60, 's'],
  ];
  const parts = units.filter(([v]) => v > 0).slice(0, 2);
  return parts.length ? parts.map(([v, u]) => `${v}${u}`).join(' ') : '0s';
}

/** A budget applies to a call but its store failed: the call is refused (fail-closed). */
export class BudgetStoreError extends Error {
  override readonly name = 'BudgetStoreError';
  readonly code = 'BUDGET_UNAVAILABLE';
  constructor(
    readonly budgetId: string,
    cause: unknown,
  ) {
    super(
      `budget "${budgetId}" cannot be checked (${cause instanceof Error ? cause.message : String(cause)}): the call was not sent`,
      { cause },
    );
  }
}
