import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  type BudgetKey,
  type BudgetSpec,
  budgetChecks,
  budgetId,
  budgetKeys,
  budgetLimitNano,
  dollarsToNano,
  MAX_EXACT_NANO,
  windowLabel,
  windowMs,
  withDimensions,
} from './budget.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Thursday 2026-01-15 13:45:30.250 UTC
const NOW = Date.UTC(2026, 0, 15, 13, 45, 30, 250);

function onlyKey(spec: BudgetSpec, attribution: Parameters<typeof budgetKeys>[1], now = NOW): BudgetKey {
  const keys = budgetKeys(spec, attribution, now);
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

describe('dollarsToNano', () => {
  it('converts dollars to exact integer nano-dollars', () => {
    // 0.03 × 1e9 is 30000000.000000004 as a float; the decimal is 30,000,000 nano.
    expect(dollarsToNano(0.03)).toBe(30_000_000);
    expect(dollarsToNano(1)).toBe(1_000_000_000);
    expect(dollarsToNano(0.1 + 0.2)).toBe(300_000_000);
    expect(dollarsToNano(0.000000001)).toBe(1);
    expect(dollarsToNano(0)).toBe(0);
    expect(budgetLimitNano({ scope: {}, limitUsd: 2.5, window: 'run' })).toBe(2_500_000_000);
  });

  it('recovers every 9-decimal amount up to 2^51 nano-dollars exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_EXACT_NANO }), (n) => dollarsToNano(n / 1e9) === n),
      { numRuns: 20_000 },
    );
    expect(dollarsToNano(MAX_EXACT_NANO / 1e9)).toBe(MAX_EXACT_NANO);
  });

  it('refuses negative, non-finite and too large amounts', () => {
    expect(() => dollarsToNano(-0.01)).toThrow(RangeError);
    expect(() => dollarsToNano(Number.NaN)).toThrow(RangeError);
    expect(() => dollarsToNano(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => dollarsToNano(3_000_000)).toThrow(/too large/);
  });
});

describe('windows', () => {
  it('has the named lengths and labels an equal {ms} window by its name', () => {
    expect(windowMs('run')).toBeNull();
    expect(windowMs('1h')).toBe(HOUR);
    expect(windowMs('1d')).toBe(DAY);
    expect(windowMs('7d')).toBe(7 * DAY);
    expect(windowMs('30d')).toBe(30 * DAY);
    expect(windowLabel({ ms: HOUR })).toBe('1h');
    expect(windowLabel({ ms: 90_000 })).toBe('90000ms');
    expect(windowLabel('run')).toBe('run');
  });

  it('refuses a window that is not a positive integer of ms', () => {
    expect(() => windowMs({ ms: 0 })).toThrow(RangeError);
    expect(() => windowMs({ ms: -5 })).toThrow(RangeError);
    expect(() => windowMs({ ms: 1.5 })).toThrow(RangeError);
  });
});

describe('budgetId', () => {
  it('is the given id, or derived from scope (in dimension order) and window but not the limit', () => {
    expect(budgetId({ id: 'nightly', scope: { run: '*' }, limitUsd: 2, window: 'run' })).toBe('nightly');
    expect(budgetId({ scope: { run: '*', user: 'u1' }, limitUsd: 5, window: '1d' })).toBe(
      'user=u1&run=*&window=1d',
    );
    expect(budgetId({ scope: {}, limitUsd: 5, window: { ms: DAY } })).toBe('window=1d');
    // Values are URI-encoded so '&' or '=' in them cannot forge another scope.
    expect(budgetId({ scope: { user: 'a&run=b' }, limitUsd: 5, window: '1h' })).toBe(
      'user=a%26run%3Db&window=1h',
    );
    expect(budgetId({ scope: { user: 'u1' }, limitUsd: 1, window: '1d' })).toBe(
      budgetId({ scope: { user: 'u1' }, limitUsd: 99, window: '1d' }),
    );
    expect(() => budgetId({ id: '', scope: {}, limitUsd: 1, window: 'run' })).toThrow(RangeError);
  });
});

describe('budgetKeys: scope', () => {
  const perRun: BudgetSpec = { scope: { run: '*' }, limitUsd: 2, window: 'run' };

  it("gives each distinct value of a '*' dimension its own key", () => {
    const a = onlyKey(perRun, { run: 'nightly-42', user: 'u1' });
    expect(a).toEqual({
      key: '["run=*&window=run",{"run":"nightly-42"},"run"]',
      budgetId: 'run=*&window=run',
      scope: { run: 'nightly-42' },
      window: 'run',
      windowStartMs: null,
      windowEndMs: null,
    });
    const again = onlyKey(perRun, { run: 'nightly-42', user: 'u2' }, NOW + 30 * DAY);
    expect(again.key).toBe(a.key); // a 'run' window never rolls over
    expect(onlyKey(perRun, { run: 'nightly-43' }).key).not.toBe(a.key);
  });

  it('matches a concrete value only', () => {
    const spec: BudgetSpec = { scope: { user: 'u1' }, limitUsd: 1, window: '1d' };
    expect(onlyKey(spec, { user: 'u1' }).scope).toEqual({ user: 'u1' });
    expect(budgetKeys(spec, { user: 'u2' }, NOW)).toEqual([]);
    expect(budgetKeys(spec, { user: 'U1' }, NOW)).toEqual([]);
  });

  it('does not match a call without the dimension, for concrete values and for *', () => {
    expect(budgetKeys(perRun, { user: 'u1' }, NOW)).toEqual([]);
    expect(budgetKeys(perRun, { run: '' }, NOW)).toEqual([]);
    expect(budgetKeys({ scope: { user: 'u1' }, limitUsd: 1, window: '1d' }, {}, NOW)).toEqual([]);
  });

  it('needs every scoped dimension to match, and reads agent from agentName', () => {
    const spec: BudgetSpec = { scope: { agent: 'planner', user: '*' }, limitUsd: 1, window: '1h' };
    expect(onlyKey(spec, { agentName: 'planner', agentId: 'x1', user: 'u7' }).scope).toEqual({
      user: 'u7',
      agent: 'planner',
    });
    expect(budgetKeys(spec, { agentName: 'summarizer', user: 'u7' }, NOW)).toEqual([]);
    expect(budgetKeys(spec, { agentId: 'planner', user: 'u7' }, NOW)).toEqual([]);
    expect(budgetKeys(spec, { agentName: 'planner' }, NOW)).toEqual([]);
  });

  it('puts every call in one key when the scope is empty', () => {
    const global: BudgetSpec = { scope: {}, limitUsd: 100, window: '30d' };
    expect(onlyKey(global, {}).key).toBe(onlyKey(global, { run: 'r', user: 'u' }).key);
  });

  it('keeps keys apart when values contain separators', () => {
    const spec: BudgetSpec = { scope: { user: '*', run: '*' }, limitUsd: 1, window: 'run' };
    const a = onlyKey(spec, { user: 'a","run":"b', run: 'c' });
    const b = onlyKey(spec, { user: 'a', run: 'b","run":"c' });
    expect(a.key).not.toBe(b.key);
    expect(JSON.parse(a.key)).toEqual(['user=*&run=*&window=run', { user: 'a","run":"b', run: 'c' }, 'run']);
  });

  it('refuses an empty scope value', () => {
    expect(() => budgetKeys({ scope: { user: '' }, limitUsd: 1, window: '1d' }, { user: 'u' }, NOW)).toThrow(
      /empty/,
    );
  });
});

describe('budgetKeys: fixed windows aligned to UTC epoch multiples', () => {
  const at = (window: BudgetSpec['window'], now = NOW) =>
    onlyKey({ scope: {}, limitUsd: 1, window }, {}, now);

  it('starts 1h at the hour and 1d at 00:00 UTC', () => {
    expect(at('1h').windowStartMs).toBe(Date.UTC(2026, 0, 15, 13));
    expect(at('1h').windowEndMs).toBe(Date.UTC(2026, 0, 15, 14));
    expect(at('1d').windowStartMs).toBe(Date.UTC(2026, 0, 15));
    expect(at('1d').windowEndMs).toBe(Date.UTC(2026, 0, 16));
    expect(at('1d').key).toBe('["window=1d",{},"1d@2026-01-15T00:00:00.000Z"]');
  });

  it('starts 7d on Thursdays and 30d every 30 days since 1970-01-01', () => {
    // Wednesday 2026-01-14 is in the week that began Thursday 2026-01-08 (day 20461 = 7 × 2923).
    expect(at('7d', Date.UTC(2026, 0, 14, 23)).windowStartMs).toBe(Date.UTC(2026, 0, 8));
    expect(at('7d', Date.UTC(2026, 0, 15)).windowStartMs).toBe(Date.UTC(2026, 0, 15));
    // Day 20460 (2026-01-07) = 30 × 682; the next window starts on day 20490 (2026-02-06).
    expect(at('30d', Date.UTC(2026, 0, 20)).windowStartMs).toBe(Date.UTC(2026, 0, 7));
    expect(at('30d', Date.UTC(2026, 0, 20)).windowEndMs).toBe(Date.UTC(2026, 1, 6));
    // {ms}: 13:45:30.250 → the 90-second window from 13:45:00.
    expect(at({ ms: 90_000 }).windowStartMs).toBe(Date.UTC(2026, 0, 15, 13, 45));
  });

  it('rolls over exactly at the window end (end exclusive)', () => {
    const end = Date.UTC(2026, 0, 15, 14);
    expect(at('1h', end - 1).key).toBe(at('1h').key);
    expect(at('1h', end).key).not.toBe(at('1h').key);
    expect(at('1h', end).windowStartMs).toBe(end);
  });

  it('gives a named window and the equal {ms} window the same key', () => {
    expect(at({ ms: DAY }).key).toBe(at('1d').key);
    expect(at({ ms: HOUR }).key).not.toBe(at('1d').key);
  });
});

describe('budgetChecks', () => {
  it('reserves a shared key once with the smallest enforced limit', () => {
    const checks = budgetChecks(
      [
        { scope: { user: '*' }, limitUsd: 10, window: '1d' },
        { scope: { user: '*' }, limitUsd: 8, window: '1d' },
        { scope: { user: '*' }, limitUsd: 5, window: '1d', mode: 'alert' },
        { scope: { run: '*' }, limitUsd: 2, window: 'run' },
        { scope: { user: 'other' }, limitUsd: 1, window: '1d' },
      ],
      { user: 'u1', run: 'r1' },
      NOW,
    );
    expect(checks.map((c) => [c.key.budgetId, c.limitNano, c.specs.length])).toEqual([
      ['user=*&window=1d', 8_000_000_000, 3],
      ['run=*&window=run', 2_000_000_000, 1],
    ]);
  });

  it('has no limit on a key only alert budgets count', () => {
    const [check] = budgetChecks([{ scope: {}, limitUsd: 3, window: '1h', mode: 'alert' }], {}, NOW);
    expect(check?.limitNano).toBeNull();
  });
});

describe('BudgetExceededError', () => {
  const refusal = (window: BudgetSpec['window'], estimateNano: number) => ({
    key: onlyKey({ id: 'team-daily', scope: { user: '*' }, limitUsd: 2, window }, { user: 'u1' }),
    limitNano: 2_000_000_000,
    spentNano: 1_970_000_000,
    reservedNano: 10_000_000,
    estimateNano,
    nowMs: NOW,
  });

  it('carries the refusal in dollars, with the time until a fixed window rolls over', () => {
    const e = new BudgetExceededError(refusal('1d', 50_000_000));
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('BudgetExceededError');
    expect(e.code).toBe('BUDGET_EXCEEDED');
    expect(e).toMatchObject({
      budgetId: 'team-daily',
      scope: { user: 'u1' },
      window: '1d',
      limitUsd: 2,
      spentUsd: 1.97,
      reservedUsd: 0.01,
      estimateUsd: 0.05,
    });
    // 13:45:30.250 → midnight: 10h 14m 29.75s.
    expect(e.retryAfterMs).toBe(10 * HOUR + 14 * 60_000 + 29_750);
    expect(e.message).toBe(
      'budget "team-daily" exceeded (user=u1, window 1d): this call\'s estimate $0.05 + $1.97 spent + ' +
        '$0.01 reserved would pass the $2.00 limit; resets in 10h 14m',
    );
  });

  it('has no retryAfterMs on a run window and shows sub-cent estimates', () => {
    const e = new BudgetExceededError(refusal('run', 3_500_000));
    expect(e.retryAfterMs).toBeUndefined();
    expect('retryAfterMs' in e).toBe(false);
    expect(e.estimateUsd).toBe(0.0035);
    expect(e.message).toContain("this call's estimate $0.0035 + $1.97 spent");
    expect(e.message).toMatch(/limit$/);
  });
});

describe('withDimensions', () => {
  it('sets each dimension where budgetKeys reads it, without touching the input', () => {
    const base = { run: 'r1', tags: { lang: 'en' } };
    const a = withDimensions(base, { agent: 'planner', user: 'u1', tenant: 'acme', key: 'key_1' });
    expect(a).toEqual({
      run: 'r1',
      agentName: 'planner',
      user: 'u1',
      tags: { lang: 'en', tenant: 'acme', gatewayKey: 'key_1' },
    });
    expect(base).toEqual({ run: 'r1', tags: { lang: 'en' } });
    const spec: BudgetSpec = { scope: { tenant: '*', agent: 'planner' }, limitUsd: 1, window: 'run' };
    expect(budgetKeys(spec, a, 0)[0]!.scope).toEqual({ agent: 'planner', tenant: 'acme' });
  });
});
