import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type Aggregate, aggregate, type GroupBy } from '../core/aggregate.js';
import type { BudgetUsage, ReserveResult } from '../core/budget.js';
import type { UsageEvent } from '../core/event.js';
import type { NanoUsd } from '../core/money.js';
import { SqliteAlertStore } from './alert-sqlite.js';
import { SqliteBudgetStore } from './budget-sqlite.js';
import { keyFromRow, keyRowValues } from './columns.js';
import type { IngestStats, LedgerFilter, LedgerStore } from './ledger.js';
import { openSqliteLedger } from './sqlite.js';

/**
 * The store several processes share: what the gateway (and a team's meters) need, asynchronous so
 * a network database (PostgreSQL) can implement it. SQLite implements it over the same file as the
 * local ledger (`openSqliteShared`), PostgreSQL in `postgres.ts`.
 *
 * Rules every implementation keeps (a shared contract test runs against each):
 * - `writeEvents` is idempotent per event id (a second write of the same id adds nothing);
 * - `reserve` is ONE atomic check-and-add (no read-then-write), safe across processes;
 * - `settle`/`release` are idempotent (false the second time);
 * - `claimAlert` is true for exactly one claimant of a key, ever;
 * - gateway keys are stored by hash only; the plain key is never stored.
 */
export interface SharedLedger {
  /** Where it is, safe to print (a PostgreSQL URL without its password). */
  readonly location: string;
  /**
   * How many events a caller should hand to one `writeEvents` when it writes many, if the store
   * knows better than the caller (a store on another thread: a message costs the same whatever it
   * holds, so larger batches).
   */
  readonly writeBatchSize?: number;
  writeEvents(events: UsageEvent[]): Promise<IngestStats>;
  aggregate(by: GroupBy, filter?: SharedFilter): Promise<Aggregate>;
  events(filter?: SharedFilter): Promise<UsageEvent[]>;

  reserve(key: string, limitNano: NanoUsd, amountNano: NanoUsd, nowMs: number): Promise<ReserveResult>;
  settle(reservationId: string, actualNano: NanoUsd): Promise<boolean>;
  release(reservationId: string): Promise<boolean>;
  budgetUsage(key: string): Promise<BudgetUsage>;

  claimAlert(alertKey: string, nowMs: number): Promise<boolean>;
  unclaimAlert(alertKey: string): Promise<void>;

  putKey(key: GatewayKey): Promise<void>;
  /** The key whose hash this is, revoked or not (the caller checks `revokedMs`). */
  keyByHash(hash: string): Promise<GatewayKey | undefined>;
  listKeys(tenant?: string): Promise<GatewayKey[]>;
  /** Marks a key revoked; false when no such key (or already revoked). */
  revokeKey(id: string, nowMs: number): Promise<boolean>;

  close(): Promise<void>;
}

/** A ledger query, optionally restricted to one tenant (events whose `tags.tenant` is that tenant). */
export interface SharedFilter extends LedgerFilter {
  tenant?: string;
}

/** A gateway key as stored: its hash, never the key itself. */
export interface GatewayKey {
  id: string;
  tenant: string;
  /** Hex SHA-256 of the key the client sends. */
  hash: string;
  createdMs: number;
  revokedMs?: number;
  label?: string;
  /** A budget every call made with this key counts against. */
  budget?: { limitUsd: number; window: string };
}

const KEYS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS gateway_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    label TEXT,
    budget TEXT
  );
`;

/**
 * The shared store on one SQLite file (the default ledger file): the ledger, budget reservations,
 * alert claims and gateway keys, each process with its own connections (WAL, busy timeout). Fine
 * for several gateway processes on one machine; use PostgreSQL across machines.
 *
 * @example
 * const store = openSqliteShared(join(homedir(), '.tokenledger', 'ledger.db'));
 */
export function openSqliteShared(path: string): SharedLedger {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const ledger: LedgerStore = openSqliteLedger(path);
  const budgets = new SqliteBudgetStore(path);
  const alerts = new SqliteAlertStore(path);
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.exec(KEYS_SCHEMA);
  const insertKey = db.prepare(
    'INSERT INTO gateway_keys (id, tenant, hash, created_ms, revoked_ms, label, budget) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const byHash = db.prepare<[string], Record<string, unknown>>('SELECT * FROM gateway_keys WHERE hash = ?');
  const all = db.prepare<[], Record<string, unknown>>('SELECT * FROM gateway_keys ORDER BY created_ms, id');
  const ofTenant = db.prepare<[string], Record<string, unknown>>(
    'SELECT * FROM gateway_keys WHERE tenant = ? ORDER BY created_ms, id',
  );
  const revoke = db.prepare('UPDATE gateway_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL');

  const tenantEvents = (filter: SharedFilter): UsageEvent[] => {
    const { tenant, ...rest } = filter;
    const events = ledger.events(rest);
    return tenant === undefined ? events : events.filter((e) => e.attribution.tags?.tenant === tenant);
  };

  return {
    location: path,
    async writeEvents(events) {
      return ledger.commit({
        events: events.map((event) => ({ event, origin: { rank: 0, firstTs: null, file: '', line: 0 } })),
        files: [],
        resetProblemsFor: [],
        problems: [],
        links: [],
      });
    },
    async aggregate(by, filter = {}) {
      if (filter.tenant === undefined) return ledger.aggregate(by, filter);
      // Tenants are a tag: filtered here, grouped by the same core code as the SQL path.
      const { since, until, project } = filter;
      return aggregate(tenantEvents(filter), by, { since, until, project });
    },
    async events(filter = {}) {
      return tenantEvents(filter);
    },
    async reserve(key, limitNano, amountNano, nowMs) {
      return budgets.reserve(key, limitNano, amountNano, nowMs);
    },
    async settle(id, actual) {
      return budgets.settle(id, actual);
    },
    async release(id) {
      return budgets.release(id);
    },
    async budgetUsage(key) {
      return budgets.usage(key);
    },
    async claimAlert(alertKey, nowMs) {
      return alerts.claim(alertKey, nowMs);
    },
    async unclaimAlert(alertKey) {
      alerts.unclaim(alertKey);
    },
    async putKey(k) {
      insertKey.run(keyRowValues(k));
    },
    async keyByHash(hash) {
      const r = byHash.get(hash);
      return r ? keyFromRow(r) : undefined;
    },
    async listKeys(tenant) {
      return (tenant === undefined ? all.all() : ofTenant.all(tenant)).map((r) => keyFromRow(r));
    },
    async revokeKey(id, nowMs) {
      return revoke.run(nowMs, id).changes === 1;
    },
    async close() {
      db.close();
      alerts.close();
      budgets.close();
      ledger.close();
    },
  };
}
