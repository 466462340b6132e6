import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { BudgetStore, BudgetUsage, ReserveResult } from '../core/budget.js';
import type { NanoUsd } from '../core/money.js';

// Its own tables, created idempotently, so the store can share the ledger's file without touching
// the ledger's migrations (which own `user_version`).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS budget_usage (
    key TEXT PRIMARY KEY,
    spent_nano INTEGER NOT NULL,
    reserved_nano INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS budget_reservations (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    amount_nano INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    -- 1 while amount_nano is counted in budget_usage.reserved_nano; 0 once the TTL released it.
    held INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS budget_reservations_stale ON budget_reservations(created_ms) WHERE held = 1;
`;

/** Long enough for a slow streamed completion; a late settle still counts (see `settle`). */
export const DEFAULT_RESERVATION_TTL_MS = 10 * 60_000;

export interface SqliteBudgetStoreOptions {
  /** A reservation this old is released by the next `reserve` (its process may have crashed). */
  reservationTtlMs?: number;
  /** How long a statement waits for another process's write lock before failing. */
  busyTimeoutMs?: number;
}

interface UsageRow {
  spent_nano: number;
  reserved_nano: number;
}

/**
 * Budget reservations in a SQLite file, shared safely by several processes (WAL, busy timeout,
 * write transactions taken with `BEGIN IMMEDIATE`). The check against the limit and the increment
 * are one conditional upsert, so two processes can never both pass the last dollar.
 *
 * @example
 * const store = new SqliteBudgetStore(join(homedir(), '.tokenledger', 'ledger.db'));
 * const r = store.reserve(key, 1_000_000_000, 30_000_000, Date.now()); // $0.03 against $1
 * if (r.ok) {
 *   // … call the provider …
 *   store.settle(r.reservationId, 21_500_000); // it cost $0.0215: the other $0.0085 is free again
 * }
 */
export class SqliteBudgetStore implements BudgetStore {
  readonly location: string;
  private readonly db: Database.Database;
  private readonly ttlMs: number;
  private readonly reserveTx: (key: string, limit: number, amount: number, now: number) => ReserveResult;
  private readonly finishTx: (id: string, actual: number) => boolean;
  private readonly usageStmt: Database.Statement<[string], UsageRow>;

  constructor(path: string, opts: SqliteBudgetStoreOptions = {}) {
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs <= 0)
      throw new RangeError('reservationTtlMs must be a positive integer');
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.location = path;
    this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);

    const db = this.db;
    this.usageStmt = db.prepare('SELECT spent_nano, reserved_nano FROM budget_usage WHERE key = ?');
    // Stale reservations: give their amounts back, but keep the rows so a late settle still charges.
    const staleCutoff = 'held = 1 AND created_ms <= @cutoff';
    const unreserveStale = db.prepare(
      `UPDATE budget_usage SET reserved_nano = reserved_nano -
         (SELECT SUM(amount_nano) FROM budget_reservations r WHERE r.key = budget_usage.key AND ${staleCutoff})
       WHERE key IN (SELECT key FROM budget_reservations WHERE ${staleCutoff})`,
    );
    const markStale = db.prepare(`UPDATE budget_reservations SET held = 0 WHERE ${staleCutoff}`);
    // The whole check-and-add: the SELECT refuses a first reservation above the limit, the DO UPDATE
    // WHERE refuses one that would take spent + reserved past it. No row back = refused.
    const tryReserve = db.prepare<{ key: string; limit: number; amount: number }, UsageRow>(
      `INSERT INTO budget_usage (key, spent_nano, reserved_nano)
         SELECT @key, 0, @amount WHERE @amount <= @limit
       ON CONFLICT (key) DO UPDATE SET reserved_nano = reserved_nano + excluded.reserved_nano
         WHERE spent_nano + reserved_nano + excluded.reserved_nano <= @limit
       RETURNING spent_nano, reserved_nano`,
    );
    const addReservation = db.prepare(
      'INSERT INTO budget_reservations (id, key, amount_nano, created_ms, held) VALUES (?, ?, ?, ?, 1)',
    );
    // Deleting the row is what makes settle/release idempotent: the second call finds nothing.
    const take = db.prepare<[string], { key: string; amount_nano: number; held: number }>(
      'DELETE FROM budget_reservations WHERE id = ? RETURNING key, amount_nano, held',
    );
    const charge = db.prepare(
      `UPDATE budget_usage SET spent_nano = spent_nano + @actual, reserved_nano = reserved_nano - @held
       WHERE key = @key`,
    );

    const reserveTx = db.transaction(
      (key: string, limit: number, amount: number, now: number): ReserveResult => {
        const cutoff = now - this.ttlMs;
        unreserveStale.run({ cutoff });
        markStale.run({ cutoff });
        const row = tryReserve.get({ key, limit, amount });
        if (!row) return { ok: false, ...this.usage(key) };
        const reservationId = randomUUID();
        addReservation.run(reservationId, key, amount, now);
        return { ok: true, reservationId, spentNano: row.spent_nano, reservedNano: row.reserved_nano };
      },
    );
    const finishTx = db.transaction((id: string, actual: number): boolean => {
      const r = take.get(id);
      if (!r) return false;
      charge.run({ key: r.key, actual, held: r.held ? r.amount_nano : 0 });
      return true;
    });
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first and then
    // writes can fail with SQLITE_BUSY at once instead of waiting out the busy timeout.
    this.reserveTx = (key, limit, amount, now) => reserveTx.immediate(key, limit, amount, now);
    this.finishTx = (id, actual) => finishTx.immediate(id, actual);
  }

  /**
   * Reserves `amountNano` on `key` if spent + reserved + amount stays within `limitNano` (up to
   * exactly the limit). Releases every reservation older than the TTL first.
   *
   * @example
   * const [key] = budgetKeys(spec, attribution, nowMs); // a BudgetKey
   * const r = store.reserve(key.key, budgetLimitNano(spec), estimateNano, nowMs);
   * if (!r.ok) throw new BudgetExceededError({ key, limitNano: budgetLimitNano(spec), estimateNano, nowMs, ...r });
   */
  reserve(key: string, limitNano: NanoUsd, amountNano: NanoUsd, nowMs: number): ReserveResult {
    nano('limitNano', limitNano);
    nano('amountNano', amountNano);
    if (!Number.isSafeInteger(nowMs)) throw new RangeError(`nowMs must be an integer: ${nowMs}`);
    return this.reserveTx(key, limitNano, amountNano, nowMs);
  }

  /**
   * Ends a reservation with what the call really cost: spent += actual, reserved -= the reservation.
   * A reservation the TTL already released still adds its actual cost (the call did happen). Returns
   * false, changing nothing, when the reservation was already settled or released.
   *
   * @example
   * store.settle(r.reservationId, 21_500_000); // true
   * store.settle(r.reservationId, 21_500_000); // false: counted once
   */
  settle(reservationId: string, actualNano: NanoUsd): boolean {
    nano('actualNano', actualNano);
    return this.finishTx(reservationId, actualNano);
  }

  /**
   * Ends a reservation whose call used nothing (refused, aborted before sending).
   *
   * @example
   * store.release(r.reservationId); // true; a second call returns false
   */
  release(reservationId: string): boolean {
    return this.finishTx(reservationId, 0);
  }

  /** Spent and reserved nano-dollars on `key` (zeros for a key never used). @example store.usage(key).spentNano */
  usage(key: string): BudgetUsage {
    const row = this.usageStmt.get(key);
    return { spentNano: row?.spent_nano ?? 0, reservedNano: row?.reserved_nano ?? 0 };
  }

  close(): void {
    this.db.close();
  }
}

function nano(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer: ${n}`);
}
