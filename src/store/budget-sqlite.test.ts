import { fork } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import {
  BudgetExceededError,
  type BudgetSpec,
  budgetKeys,
  budgetLimitNano,
  dollarsToNano,
} from '../core/budget.js';
import { SqliteBudgetStore } from './budget-sqlite.js';
import { MIGRATIONS, openSqliteLedger } from './sqlite.js';

const CENT = 10_000_000; // nano-dollars
const DOLLAR = 100 * CENT;
const T0 = Date.UTC(2026, 0, 15, 10, 30);

const open: SqliteBudgetStore[] = [];
function store(path = join(tempDir(), 'ledger.db'), opts = {}): SqliteBudgetStore {
  const s = new SqliteBudgetStore(path, opts);
  open.push(s);
  return s;
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  removeTempDirs();
});

function reservedId(r: ReturnType<SqliteBudgetStore['reserve']>): string {
  if (!r.ok) throw new Error(`expected the reservation to be accepted: ${JSON.stringify(r)}`);
  return r.reservationId;
}

describe('reserve', () => {
  it('adds a reservation and returns the totals after it', () => {
    const s = store();
    const r = s.reserve('k', DOLLAR, 3 * CENT, T0);
    expect(r).toMatchObject({ ok: true, spentNano: 0, reservedNano: 30_000_000 });
    expect(s.reserve('k', DOLLAR, 5 * CENT, T0)).toMatchObject({
      ok: true,
      spentNano: 0,
      reservedNano: 80_000_000,
    });
    expect(s.usage('k')).toEqual({ spentNano: 0, reservedNano: 80_000_000 });
    expect(s.usage('never-used')).toEqual({ spentNano: 0, reservedNano: 0 });
  });

  it('accepts up to exactly the limit and refuses one nano-dollar more', () => {
    const s = store();
    const limit = 10 * CENT;
    for (let i = 0; i < 3; i++) reservedId(s.reserve('k', limit, 3 * CENT, T0)); // 9¢ reserved
    // 9¢ + 2¢ = 11¢ > 10¢: refused, with the totals that refused it, and nothing changes.
    expect(s.reserve('k', limit, 2 * CENT, T0)).toEqual({ ok: false, spentNano: 0, reservedNano: 9 * CENT });
    expect(s.usage('k')).toEqual({ spentNano: 0, reservedNano: 9 * CENT });
    // 9¢ + 1¢ = 10¢ = the limit: accepted.
    expect(s.reserve('k', limit, CENT, T0)).toMatchObject({ ok: true, reservedNano: limit });
    expect(s.reserve('k', limit, 1, T0)).toEqual({ ok: false, spentNano: 0, reservedNano: limit });
  });

  it('refuses a first reservation larger than the limit without creating the budget row', () => {
    const s = store();
    expect(s.reserve('k', 5 * CENT, 5 * CENT + 1, T0)).toEqual({ ok: false, spentNano: 0, reservedNano: 0 });
    expect(s.usage('k')).toEqual({ spentNano: 0, reservedNano: 0 });
    expect(s.reserve('k', 5 * CENT, 5 * CENT, T0).ok).toBe(true);
  });

  it('counts spent money against the limit', () => {
    const s = store();
    s.settle(reservedId(s.reserve('k', DOLLAR, 60 * CENT, T0)), 70 * CENT);
    // spent 70¢: 30¢ more fits, 31¢ does not.
    expect(s.reserve('k', DOLLAR, 31 * CENT, T0)).toEqual({
      ok: false,
      spentNano: 70 * CENT,
      reservedNano: 0,
    });
    expect(s.reserve('k', DOLLAR, 30 * CENT, T0)).toMatchObject({ ok: true, spentNano: 70 * CENT });
  });

  it('refuses amounts that are not non-negative integers of nano-dollars', () => {
    const s = store();
    expect(() => s.reserve('k', DOLLAR, -1, T0)).toThrow(RangeError);
    expect(() => s.reserve('k', DOLLAR, 0.5, T0)).toThrow(RangeError);
    expect(() => s.reserve('k', Number.NaN, 1, T0)).toThrow(RangeError);
    expect(() => s.settle('x', -3)).toThrow(RangeError);
  });
});

describe('settle and release', () => {
  it('moves the actual cost to spent; actual < estimate frees the difference', () => {
    const s = store();
    const id = reservedId(s.reserve('k', DOLLAR, 60 * CENT, T0));
    // 60¢ reserved + 50¢ > $1: refused while the estimate is held.
    expect(s.reserve('k', DOLLAR, 50 * CENT, T0).ok).toBe(false);
    expect(s.settle(id, 21_500_000)).toBe(true); // the call cost $0.0215
    expect(s.usage('k')).toEqual({ spentNano: 21_500_000, reservedNano: 0 });
    // $0.0215 spent + $0.50 = $0.5215 fits now, and then the rest up to exactly $1: $0.4785.
    expect(s.reserve('k', DOLLAR, 50 * CENT, T0)).toMatchObject({ ok: true, reservedNano: 500_000_000 });
    expect(s.reserve('k', DOLLAR, 478_500_000, T0)).toMatchObject({
      ok: true,
      spentNano: 21_500_000,
      reservedNano: 978_500_000,
    });
    expect(s.reserve('k', DOLLAR, 1, T0).ok).toBe(false);
  });

  it('counts a settle once: the second settle and a later release do nothing', () => {
    const s = store();
    const id = reservedId(s.reserve('k', DOLLAR, 10 * CENT, T0));
    reservedId(s.reserve('k', DOLLAR, 5 * CENT, T0));
    expect(s.settle(id, 8 * CENT)).toBe(true);
    expect(s.usage('k')).toEqual({ spentNano: 8 * CENT, reservedNano: 5 * CENT });
    expect(s.settle(id, 8 * CENT)).toBe(false);
    expect(s.release(id)).toBe(false);
    expect(s.usage('k')).toEqual({ spentNano: 8 * CENT, reservedNano: 5 * CENT });
  });

  it('release gives the whole reservation back, once', () => {
    const s = store();
    const a = reservedId(s.reserve('k', DOLLAR, 40 * CENT, T0));
    reservedId(s.reserve('k', DOLLAR, 10 * CENT, T0));
    expect(s.release(a)).toBe(true);
    expect(s.usage('k')).toEqual({ spentNano: 0, reservedNano: 10 * CENT });
    expect(s.release(a)).toBe(false);
    expect(s.settle(a, 40 * CENT)).toBe(false);
    expect(s.usage('k')).toEqual({ spentNano: 0, reservedNano: 10 * CENT });
    expect(s.release('no-such-reservation')).toBe(false);
  });

  it('lets the actual cost pass the estimate (the one-call overspend) and then refuses', () => {
    const s = store();
    s.settle(reservedId(s.reserve('k', DOLLAR, 90 * CENT, T0)), 104 * CENT);
    expect(s.usage('k')).toEqual({ spentNano: 104 * CENT, reservedNano: 0 });
    expect(s.reserve('k', DOLLAR, 0, T0)).toEqual({ ok: false, spentNano: 104 * CENT, reservedNano: 0 });
  });
});

describe('stale reservations', () => {
  const TTL = 60_000;

  it('are released by the next reserve once they reach the TTL, and a late settle still charges', () => {
    const s = store(undefined, { reservationTtlMs: TTL });
    const crashed = reservedId(s.reserve('k', DOLLAR, DOLLAR, T0));
    reservedId(s.reserve('other', DOLLAR, 20 * CENT, T0 + 1));
    // One ms before the TTL the reservation still holds the whole dollar.
    expect(s.reserve('k', DOLLAR, CENT, T0 + TTL - 1)).toEqual({
      ok: false,
      spentNano: 0,
      reservedNano: DOLLAR,
    });
    // At the TTL it is released; only the new reservation is held. 'other' is not stale yet.
    expect(s.reserve('k', DOLLAR, 30 * CENT, T0 + TTL)).toMatchObject({ ok: true, reservedNano: 30 * CENT });
    expect(s.usage('other')).toEqual({ spentNano: 0, reservedNano: 20 * CENT });
    // A reserve on any key sweeps every key.
    reservedId(s.reserve('third', DOLLAR, CENT, T0 + TTL + 1));
    expect(s.usage('other')).toEqual({ spentNano: 0, reservedNano: 0 });
    // The slow call finishes after all: its cost counts, the released amount is not taken twice.
    expect(s.settle(crashed, 45 * CENT)).toBe(true);
    expect(s.usage('k')).toEqual({ spentNano: 45 * CENT, reservedNano: 30 * CENT });
    expect(s.settle(crashed, 45 * CENT)).toBe(false);
    expect(s.usage('k')).toEqual({ spentNano: 45 * CENT, reservedNano: 30 * CENT });
  });

  it('refuses a TTL that is not a positive integer', () => {
    expect(() => store(undefined, { reservationTtlMs: 0 })).toThrow(RangeError);
  });
});

describe('with budget keys', () => {
  it('opens a new total when a fixed window rolls over', () => {
    const s = store();
    const spec: BudgetSpec = { scope: { user: '*' }, limitUsd: 0.05, window: '1h' };
    const limit = budgetLimitNano(spec);
    const before = Date.UTC(2026, 0, 15, 10, 59, 59, 999);
    const [k1] = budgetKeys(spec, { user: 'u1' }, before);
    s.settle(reservedId(s.reserve(k1!.key, limit, 5 * CENT, before)), 5 * CENT);
    const refused = s.reserve(k1!.key, limit, CENT, before);
    expect(refused.ok).toBe(false);
    const err = new BudgetExceededError({
      key: k1!,
      limitNano: limit,
      estimateNano: CENT,
      nowMs: before,
      ...refused,
    });
    expect(err).toMatchObject({
      spentUsd: 0.05,
      reservedUsd: 0,
      estimateUsd: 0.01,
      limitUsd: 0.05,
      retryAfterMs: 1,
    });
    // One ms later it is 11:00, a new hour with its own $0.05.
    const [k2] = budgetKeys(spec, { user: 'u1' }, before + 1);
    expect(k2!.key).not.toBe(k1!.key);
    expect(s.reserve(k2!.key, limit, 5 * CENT, before + 1)).toMatchObject({ ok: true, spentNano: 0 });
    expect(s.usage(k1!.key)).toEqual({ spentNano: 5 * CENT, reservedNano: 0 });
  });

  it("keeps a separate total per run and per user under '*' scopes", () => {
    const s = store();
    const perRun: BudgetSpec = { scope: { run: '*' }, limitUsd: 0.05, window: 'run' };
    const perUser: BudgetSpec = { scope: { user: '*' }, limitUsd: 0.08, window: '1d' };
    const call = (attribution: { run: string; user: string }, usd: number) =>
      [perRun, perUser].map((spec) => {
        const [k] = budgetKeys(spec, attribution, T0);
        return s.reserve(k!.key, budgetLimitNano(spec), dollarsToNano(usd), T0).ok;
      });
    expect(call({ run: 'A', user: 'u1' }, 0.05)).toEqual([true, true]); // A: 5¢, u1: 5¢
    expect(call({ run: 'A', user: 'u2' }, 0.01)).toEqual([false, true]); // A is full; u2: 1¢
    expect(call({ run: 'B', user: 'u1' }, 0.04)).toEqual([true, false]); // B: 4¢; u1: 5¢ + 4¢ > 8¢
    expect(call({ run: 'B', user: 'u1' }, 0.03)).toEqual([false, true]); // B: 4¢ + 3¢ > 5¢; u1: 8¢
    const usage = (spec: BudgetSpec, a: { run: string; user: string }) =>
      s.usage(budgetKeys(spec, a, T0)[0]!.key).reservedNano;
    expect(usage(perRun, { run: 'A', user: '-' })).toBe(5 * CENT);
    expect(usage(perRun, { run: 'B', user: '-' })).toBe(4 * CENT);
    expect(usage(perUser, { run: '-', user: 'u1' })).toBe(8 * CENT);
    expect(usage(perUser, { run: '-', user: 'u2' })).toBe(CENT);
  });
});

describe('the SQLite file', () => {
  it('is shared with the ledger, in WAL mode, and by other connections', () => {
    const path = join(tempDir(), 'nested', 'ledger.db');
    const ledger = openSqliteLedger(path);
    const a = store(path);
    const b = store(path);
    const id = reservedId(a.reserve('k', DOLLAR, 30 * CENT, T0));
    expect(b.usage('k')).toEqual({ spentNano: 0, reservedNano: 30 * CENT });
    expect(b.reserve('k', DOLLAR, 71 * CENT, T0).ok).toBe(false);
    expect(b.settle(id, 10 * CENT)).toBe(true);
    expect(a.settle(id, 10 * CENT)).toBe(false);
    // The ledger keeps working on the same file and its schema version is untouched.
    ledger.setMeta('x', 'y');
    expect(ledger.getMeta('x')).toBe('y');
    ledger.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    raw.close();
    // A budget store opened first does not stop the ledger from migrating the file.
    const fresh = join(tempDir(), 'fresh.db');
    store(fresh).reserve('k', DOLLAR, CENT, T0);
    const ledger2 = openSqliteLedger(fresh);
    expect(ledger2.aggregate('day').totals.events).toBe(0);
    ledger2.close();
    expect(store(fresh).usage('k')).toEqual({ spentNano: 0, reservedNano: CENT });
  });
});

// The child runs the COMPILED store (vitest's global setup builds dist when src is newer), so two real
// Node processes race on one file through the same code and SQL as the tests above.
const DIST_MODULE = fileURLToPath(new URL('../../dist/store/budget-sqlite.js', import.meta.url));
const SOURCE_MODULE = fileURLToPath(new URL('./budget-sqlite.ts', import.meta.url));

// Paced at one reservation per ms from a shared start instant, so the two processes contend for the
// whole run instead of one finishing its loop while the other sleeps in SQLite's busy handler.
const CHILD = `
const [moduleUrl, dbPath, key, count] = process.argv.slice(2);
const { SqliteBudgetStore } = await import(moduleUrl);
const store = new SqliteBudgetStore(dbPath);
process.on('message', ({ startAt }) => {
  const results = [];
  let firstMs;
  for (let i = 0; i < Number(count); i++) {
    while (Date.now() < startAt + i) {}
    results.push(store.reserve(key, 1_000_000_000, 30_000_000, Date.now()));
    firstMs ??= Date.now();
  }
  store.close();
  process.send({ results, firstMs, lastMs: Date.now() }, () => process.disconnect());
});
process.send({ ready: true });
`;

interface ChildMessage {
  ready?: true;
  results?: { ok: boolean; spentNano: number; reservedNano: number }[];
  firstMs?: number;
  lastMs?: number;
}

describe('concurrency across processes', () => {
  it('accepts exactly 33 of 100 concurrent $0.03 reservations against $1 from two processes', async () => {
    expect(existsSync(DIST_MODULE), 'dist is missing: run `npm run build`').toBe(true);
    expect(
      statSync(DIST_MODULE).mtimeMs,
      'dist is older than src: run `npm run build`',
    ).toBeGreaterThanOrEqual(statSync(SOURCE_MODULE).mtimeMs);
    const dir = tempDir();
    const dbPath = join(dir, 'ledger.db');
    const script = join(dir, 'reserve-child.mjs');
    writeFileSync(script, CHILD);
    store(dbPath); // creates the tables before the race
    const children = [0, 1].map(() =>
      fork(script, [pathToFileURL(DIST_MODULE).href, dbPath, 'shared-budget', '50'], { stdio: 'inherit' }),
    );
    const message = (child: (typeof children)[number]) =>
      new Promise<ChildMessage>((resolve, reject) => {
        child.once('message', (m) => resolve(m as ChildMessage));
        child.once('close', (code) => reject(new Error(`child exited early with code ${code}`)));
      });
    await Promise.all(children.map(message));
    const done = children.map(message);
    const startAt = Date.now() + 100;
    for (const child of children) child.send({ startAt });
    const reports = await Promise.all(done);
    const results = reports.flatMap((m) => m.results ?? []);
    // The two loops really ran at the same time: each one's first reservation ended before the other's last.
    expect(Math.max(...reports.map((m) => m.firstMs!))).toBeLessThan(
      Math.min(...reports.map((m) => m.lastMs!)),
    );

    expect(results).toHaveLength(100);
    const accepted = results.filter((r) => r.ok);
    expect(accepted).toHaveLength(Math.floor(1 / 0.03)); // 33 × $0.03 = $0.99; a 34th would make $1.02
    // No process ever saw the total above the limit, and the file agrees.
    for (const r of results) expect(r.spentNano + r.reservedNano).toBeLessThanOrEqual(DOLLAR);
    expect(store(dbPath).usage('shared-budget')).toEqual({ spentNano: 0, reservedNano: 33 * 3 * CENT });
    const raw = new Database(dbPath, { readonly: true });
    expect(raw.prepare('SELECT COUNT(*) AS n FROM budget_reservations').get()).toEqual({ n: 33 });
    raw.close();
  });
});
