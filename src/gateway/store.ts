import { ledgerPath } from '../config.js';
import { openSqliteShared, type SharedLedger } from '../store/shared.js';
import { openSqliteSharedThreaded } from './sqlite-thread.js';

/** True for a PostgreSQL connection URL. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** Raised when a `postgres://` store is asked for and this build has no PostgreSQL store. */
export class PostgresUnavailableError extends Error {
  override readonly name = 'PostgresUnavailableError';
}

/**
 * Opens the shared store: `postgres://…` (or `postgresql://…`) → PostgreSQL, loaded on demand so
 * SQLite users never load its module or `pg`; anything else is a SQLite file (default: the ledger
 * file, `$TOKENLEDGER_HOME/ledger.db`), on its own thread with `threaded` (for a server).
 *
 * @example
 * const store = await openSharedStore(process.env.TOKENLEDGER_STORE); // the default ledger file
 */
export async function openSharedStore(
  location: string | undefined,
  opts: { threaded?: boolean } = {},
): Promise<SharedLedger> {
  if (location && isPostgresUrl(location)) {
    let open: (url: string) => Promise<SharedLedger>;
    try {
      ({ openPostgresShared: open } = await import('../store/postgres.js'));
    } catch (err) {
      throw new PostgresUnavailableError(
        `PostgreSQL store not available: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    return await open(location);
  }
  const path = ledgerPath(location);
  return opts.threaded ? openSqliteSharedThreaded(path) : openSqliteShared(path);
}

/** A store location safe to print: a URL without its password. */
export function displayLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const u = new URL(location);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
