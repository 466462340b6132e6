import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqliteShared, type SharedLedger } from '../store/shared.js';

/**
 * The worker threads behind `openSqliteSharedThreaded`:
 * - `store`: owns the store's SQLite connections and answers `{ id, method, args }` with
 *   `{ id, ok, value }` or `{ id, ok: false, error }`;
 * - `checkpoint`: copies the WAL into the database every `everyMs` (`PRAGMA wal_checkpoint(PASSIVE)`,
 *   which never blocks readers or writers), so the store thread's commits rarely hit SQLite's
 *   automatic checkpoint — a copy and an fsync of up to 4 MB that would hold every request waiting
 *   for a budget reservation behind it for several milliseconds.
 */

type Call = { id: number; method: keyof SharedLedger; args: unknown[] };
const { path, role, everyMs } = workerData as { path: string; role: 'store' | 'checkpoint'; everyMs: number };
const port = parentPort!;

if (role === 'checkpoint') checkpointer();
else storeThread();

function checkpointer(): void {
  const db = new Database(path, { timeout: 5000 });
  const timer = setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or closing: the next tick (or SQLite's own checkpoint) does it.
    }
  }, everyMs);
  port.on('message', (m: string) => {
    if (m !== 'close') return;
    clearInterval(timer);
    db.close();
    port.postMessage('closed');
    port.close();
  });
  port.postMessage({ ready: true });
}

function storeThread(): void {
  let store: SharedLedger;
  try {
    store = openSqliteShared(path);
    port.postMessage({ ready: true, location: store.location });
  } catch (err) {
    port.postMessage({ ready: false, error: errorOf(err) });
    process.exit(1);
  }
  port.on('message', async (m: Call) => {
    try {
      const fn = store[m.method] as (...args: unknown[]) => Promise<unknown>;
      const value = await fn.apply(store, m.args);
      port.postMessage({ id: m.id, ok: true, value });
      if (m.method === 'close') port.close();
    } catch (err) {
      port.postMessage({ id: m.id, ok: false, error: errorOf(err) });
    }
  });
}

function errorOf(err: unknown): { message: string; name?: string; code?: string } {
  const e = err as { message?: unknown; name?: unknown; code?: unknown };
  return {
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.name === 'string' ? { name: e.name } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}
