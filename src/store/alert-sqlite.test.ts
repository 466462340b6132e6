import { fork } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { SqliteAlertStore } from './alert-sqlite.js';
import { SqliteBudgetStore } from './budget-sqlite.js';
import { MIGRATIONS, openSqliteLedger } from './sqlite.js';

const T0 = Date.UTC(2026, 0, 15, 10, 30);

const open: { close(): void }[] = [];
function store(path: string | Database.Database = join(tempDir(), 'ledger.db')): SqliteAlertStore {
  const s = new SqliteAlertStore(path);
  open.push(s);
  return s;
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
  removeTempDirs();
});

describe('claim', () => {
  it('is true for the first claimant only, until unclaimed', () => {
    const s = store();
    expect(s.claim('k', T0)).toBe(true);
    expect(s.claim('k', T0 + 1)).toBe(false);
    expect(s.claim('other', T0)).toBe(true);
    s.unclaim('k');
    expect(s.claim('k', T0 + 2)).toBe(true);
    expect(s.claim('k', T0 + 3)).toBe(false);
    s.unclaim('never-claimed'); // a no-op, not an error
    expect(s.claim('other', T0)).toBe(false);
  });

  it('survives closing and reopening the file', () => {
    const path = join(tempDir(), 'nested', 'dir', 'ledger.db'); // folders are created
    const first = new SqliteAlertStore(path);
    expect(first.claim('["k",50]', T0)).toBe(true);
    first.close();
    const again = store(path);
    expect(again.claim('["k",50]', T0 + 60_000)).toBe(false);
    expect(again.claim('["k",80]', T0 + 60_000)).toBe(true);
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT alert_key, claimed_ms FROM budget_alerts ORDER BY alert_key').all()).toEqual([
      { alert_key: '["k",50]', claimed_ms: T0 },
      { alert_key: '["k",80]', claimed_ms: T0 + 60_000 },
    ]);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
  });

  it('gives each key to exactly one of two stores on the same file', () => {
    const path = join(tempDir(), 'ledger.db');
    const a = store(path);
    const b = store(path);
    const wins = { a: 0, b: 0 };
    for (let i = 0; i < 100; i++) {
      // Alternate who asks first, so both sides win and lose.
      const [first, second] = i % 2 ? [a, b] : [b, a];
      const r1 = first.claim(`k${i}`, T0);
      const r2 = second.claim(`k${i}`, T0);
      expect([r1, r2]).toEqual([true, false]);
      wins[first === a ? 'a' : 'b']++;
    }
    expect(wins).toEqual({ a: 50, b: 50 });
  });

  it('refuses a time that is not a number', () => {
    expect(() => store(':memory:').claim('k', Number.NaN)).toThrow(RangeError);
  });
});

describe('sharing a file', () => {
  it('lives next to the ledger and the budget store', () => {
    const path = join(tempDir(), 'ledger.db');
    const ledger = openSqliteLedger(path);
    const budgets = new SqliteBudgetStore(path);
    open.push(ledger, budgets);
    const alerts = store(path);
    expect(budgets.reserve('budget', 100, 10, T0).ok).toBe(true);
    expect(alerts.claim('alert', T0)).toBe(true);
    expect(ledger.aggregate('day').totals.events).toBe(0);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length); // the ledger's migrations are untouched
    raw.close();
  });

  it('uses an open connection without closing it', () => {
    const db = new Database(':memory:');
    open.push(db);
    const s = new SqliteAlertStore(db);
    expect(s.location).toBe(':memory:');
    expect(s.claim('k', T0)).toBe(true);
    s.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT COUNT(*) AS n FROM budget_alerts').get()).toEqual({ n: 1 });
    expect(new SqliteAlertStore(db).claim('k', T0)).toBe(false);
  });
});

// The child runs the COMPILED store (vitest's global setup builds dist when src is newer), so two real
// Node processes race on one file through the same code and SQL as the tests above.
const DIST_MODULE = fileURLToPath(new URL('../../dist/store/alert-sqlite.js', import.meta.url));
const SOURCE_MODULE = fileURLToPath(new URL('./alert-sqlite.ts', import.meta.url));

// Both children claim the same keys in the same order, paced from a shared start instant (one key
// per 3 ms: on a loaded machine a child may start late, and 600 ms still overlap), so each key is
// contended by both processes at about the same moment.
const CHILD = `
const [moduleUrl, dbPath, count] = process.argv.slice(2);
const { SqliteAlertStore } = await import(moduleUrl);
const store = new SqliteAlertStore(dbPath);
process.on('message', ({ startAt }) => {
  const won = [];
  let firstMs;
  for (let i = 0; i < Number(count); i++) {
    while (Date.now() < startAt + 3 * i) {}
    won.push(store.claim('key-' + i, Date.now()));
    firstMs ??= Date.now();
  }
  store.close();
  process.send({ won, firstMs, lastMs: Date.now() }, () => process.disconnect());
});
process.send({ ready: true });
`;

interface ChildMessage {
  ready?: true;
  won?: boolean[];
  firstMs?: number;
  lastMs?: number;
}

describe('concurrency across processes', () => {
  it('gives each of 200 keys to exactly one of two processes claiming them at once', async () => {
    expect(existsSync(DIST_MODULE), 'dist is missing: run `npm run build`').toBe(true);
    expect(
      statSync(DIST_MODULE).mtimeMs,
      'dist is older than src: run `npm run build`',
    ).toBeGreaterThanOrEqual(statSync(SOURCE_MODULE).mtimeMs);
    const dir = tempDir();
    const dbPath = join(dir, 'ledger.db');
    const script = join(dir, 'claim-child.mjs');
    writeFileSync(script, CHILD);
    store(dbPath); // creates the table before the race
    const children = [0, 1].map(() =>
      fork(script, [pathToFileURL(DIST_MODULE).href, dbPath, '200'], { stdio: 'inherit' }),
    );
    const message = (child: (typeof children)[number]) =>
      new Promise<ChildMessage>((resolve, reject) => {
        child.once('message', (m) => resolve(m as ChildMessage));
        child.once('close', (code) => reject(new Error(`child exited early with code ${code}`)));
      });
    await Promise.all(children.map(message));
    const done = children.map(message);
    const startAt = Date.now() + 300;
    for (const child of children) child.send({ startAt });
    const [a, b] = await Promise.all(done);
    // The two loops really ran at the same time: each one's first claim ended before the other's last.
    expect(Math.max(a!.firstMs!, b!.firstMs!)).toBeLessThan(Math.min(a!.lastMs!, b!.lastMs!));

    expect(a!.won).toHaveLength(200);
    expect(b!.won).toHaveLength(200);
    for (let i = 0; i < 200; i++) expect(a!.won![i] !== b!.won![i], `key-${i}`).toBe(true);
    const raw = new Database(dbPath, { readonly: true });
    expect(raw.prepare('SELECT COUNT(*) AS n FROM budget_alerts').get()).toEqual({ n: 200 });
    raw.close();
  });
});
