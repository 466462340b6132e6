import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AlertStore } from '../meter/alerts.js';

// Its own table, created idempotently, so the store can share the ledger's (and the budget store's)
// file without touching the ledger's migrations (which own `user_version`).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS budget_alerts (
    alert_key TEXT PRIMARY KEY,
    claimed_ms INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
`;

export interface SqliteAlertStoreOptions {
  /** How long a claim waits for another process's write lock before failing (opened by path only). */
  busyTimeoutMs?: number;
}

/**
 * Which budget alerts were sent, in a SQLite file shared safely by several processes. A claim is
 * one `INSERT … ON CONFLICT DO NOTHING`: SQLite serialises writers, so of any number of processes
 * (or restarts of one) exactly one sees its row inserted.
 *
 * Rows are never deleted except by `unclaim`: one per budget key, window and threshold, i.e. a few
 * per run or per window, which is small next to the ledger in the same file.
 *
 * @example
 * const store = new SqliteAlertStore(join(homedir(), '.tokenledger', 'ledger.db'));
 * const alertKey = JSON.stringify([budgetKey.key, 80]); // the 80% alert of one budget window
 * store.claim(alertKey, Date.now()); // true: this process sends it
 * store.claim(alertKey, Date.now()); // false, here and in every other process: already sent
 */
export class SqliteAlertStore implements AlertStore {
  readonly location: string;
  private readonly db: Database.Database;
  /** A connection passed in belongs to the caller, who closes it. */
  private readonly ownsDb: boolean;
  private readonly claimStmt: Database.Statement<[string, number]>;
  private readonly unclaimStmt: Database.Statement<[string]>;

  /** `path` is a file (created with its folder if missing), `':memory:'`, or an open connection to share. */
  constructor(path: string | Database.Database, opts: SqliteAlertStoreOptions = {}) {
    if (typeof path === 'string') {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.location = path;
      this.db = new Database(path, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.ownsDb = true;
    } else {
      this.location = path.name;
      this.db = path;
      this.ownsDb = false;
    }
    this.db.exec(SCHEMA);
    this.claimStmt = this.db.prepare(
      'INSERT INTO budget_alerts (alert_key, claimed_ms) VALUES (?, ?) ON CONFLICT (alert_key) DO NOTHING',
    );
    this.unclaimStmt = this.db.prepare('DELETE FROM budget_alerts WHERE alert_key = ?');
  }

  /**
   * True for the first claimant of `alertKey` ever, false for everyone after (until `unclaim`).
   *
   * @example
   * if (store.claim(alertKey, Date.now())) post(alert);
   */
  claim(alertKey: string, nowMs: number): boolean {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a time: ${nowMs}`);
    return this.claimStmt.run(alertKey, Math.trunc(nowMs)).changes === 1;
  }

  /** Forgets a claim (no-op when there is none), so the next `claim` of the key returns true. */
  unclaim(alertKey: string): void {
    this.unclaimStmt.run(alertKey);
  }

  /** Closes the file when the store opened it; a shared connection is left open. */
  close(): void {
    if (this.ownsDb) this.db.close();
  }
}
