import { randomUUID } from 'node:crypto';
import { sep } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import type { Aggregate, GroupBy, Tally } from '../core/aggregate.js';
import { emptyTally, mergeTally, sortGroups, unreachable } from '../core/aggregate.js';
import type { BudgetUsage } from '../core/budget.js';
import type { UsageEvent } from '../core/event.js';
import { DEFAULT_RESERVATION_TTL_MS } from './budget-sqlite.js';
import {
  eventFromRow,
  eventValues,
  groupKeySql,
  INSERT_COLUMNS,
  keyFromRow,
  keyRowValues,
  USAGE_COLUMNS,
} from './columns.js';
import type { IngestStats } from './ledger.js';
import type { SharedFilter, SharedLedger } from './shared.js';

/**
 * The schema, one step per version; applied in order, each version recorded in `tokenledger_schema`
 * (exported for the tests). Tables and columns mirror the SQLite ledger and stores: tokens, money and
 * epoch milliseconds are BIGINT, `tags` is JSONB, `estimated` a boolean.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     id TEXT PRIMARY KEY, ts BIGINT NOT NULL, source TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
     speed TEXT, input_tokens BIGINT NOT NULL, cache_read_tokens BIGINT NOT NULL,
     cache_write_5m_tokens BIGINT NOT NULL, cache_write_1h_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
     reasoning_tokens BIGINT NOT NULL, web_search_requests BIGINT NOT NULL, cost_nano BIGINT,
     price_source TEXT NOT NULL, estimated BOOLEAN NOT NULL, cost_note TEXT,
     project TEXT, session TEXT, run TEXT, workflow TEXT,
     agent_path TEXT, agent_name TEXT, agent_type TEXT, agent_id TEXT, agent_desc TEXT,
     stage TEXT, task TEXT, "user" TEXT, feature TEXT, tags JSONB, status TEXT,
     attr_rank INTEGER NOT NULL, attr_first_ts BIGINT, attr_file TEXT NOT NULL, attr_line INTEGER NOT NULL,
     unsplit_tokens BIGINT NOT NULL DEFAULT 0
   );
   CREATE INDEX events_ts ON events (ts);
   CREATE INDEX events_session ON events (session) WHERE session IS NOT NULL;
   CREATE INDEX events_agent_id ON events (agent_id) WHERE agent_id IS NOT NULL;
   CREATE INDEX events_run ON events (run) WHERE run IS NOT NULL;
   CREATE INDEX events_tenant ON events ((tags ->> 'tenant')) WHERE tags ->> 'tenant' IS NOT NULL;
   CREATE TABLE budget_usage (
     key TEXT PRIMARY KEY,
     spent_nano BIGINT NOT NULL,
     reserved_nano BIGINT NOT NULL
   );
   CREATE TABLE budget_reservations (
     id TEXT PRIMARY KEY,
     key TEXT NOT NULL,
     amount_nano BIGINT NOT NULL,
     created_ms BIGINT NOT NULL,
     -- true while amount_nano is counted in budget_usage.reserved_nano; false once the TTL released it.
     held BOOLEAN NOT NULL
   );
   CREATE INDEX budget_reservations_stale ON budget_reservations (created_ms) WHERE held;
   CREATE TABLE budget_alerts (
     alert_key TEXT PRIMARY KEY,
     claimed_ms BIGINT NOT NULL
   );
   CREATE TABLE gateway_keys (
     id TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_ms BIGINT NOT NULL,
     revoked_ms BIGINT,
     label TEXT,
     budget JSONB
   );
   CREATE INDEX gateway_keys_tenant ON gateway_keys (tenant);`,
];

export interface PostgresSharedOptions {
  /**
   * The schema holding tokenledger's tables (created when missing): lower-case letters, digits and
   * `_`. Default: the URL's `?schema=` parameter, else `tokenledger` — so its generic table names
   * (`events`, …) never meet another application's in a shared database.
   */
  schema?: string;
  /** A reservation this old is released by the next `reserve` (its process may have crashed). */
  reservationTtlMs?: number;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * IANA time zone of `day`/`week`/`month` groups and of `since`/`until` (default: the process's,
   * read at each query like SQLite's 'localtime', so `TZ` decides as it does for the SQLite ledger).
   */
  timeZone?: string;
}

/** Each version of the schema is applied once, by whichever process takes this lock first. */
const MIGRATE_LOCK = "hashtext('tokenledger:migrate:' || $1)";
/** One sweeper of stale reservations at a time per schema; the others skip (no lock-order cycles). */
const SWEEP_LOCK = "hashtext('tokenledger:sweep:' || $2)";

const q = (column: string) => `"${column}"`;
// ~37 parameters a row: 1000 rows stay far below PostgreSQL's 65,535 parameters per statement.
const ROWS_PER_INSERT = 1000;
const TIN = (t: string) =>
  `${t}.input_tokens + ${t}.cache_read_tokens + ${t}.cache_write_5m_tokens + ${t}.cache_write_1h_tokens`;

/**
 * One insert of new ids; a known id is replaced only by a larger snapshot of the same call (more
 * output, then more input, then more unsplit tokens — the SQLite ledger's rule), so writing the same
 * events again changes nothing. `xmax = 0` tells a fresh insert from an update.
 */
function insertEventsSql(rows: number): string {
  const n = INSERT_COLUMNS.length;
  const values = Array.from(
    { length: rows },
    (_, r) =>
      `(${INSERT_COLUMNS.map((c, i) => `$${r * n + i + 1}${c === 'tags' ? '::jsonb' : ''}`).join(', ')})`,
  );
  return `INSERT INTO events AS e (${INSERT_COLUMNS.map(q).join(', ')}) VALUES ${values.join(', ')}
    ON CONFLICT (id) DO UPDATE SET ${USAGE_COLUMNS.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}
    WHERE (EXCLUDED.output_tokens, ${TIN('EXCLUDED')}, EXCLUDED.unsplit_tokens)
        > (e.output_tokens, ${TIN('e')}, e.unsplit_tokens)
    RETURNING (xmax = 0) AS inserted`;
}

/** Gateway and meter events are written, not read from a file: no placement to record. */
const WRITTEN = { rank: 0, firstTs: null, file: '', line: 0 };

/**
 * A BIGINT/NUMERIC as a JavaScript number, exactly: pg hands them over as strings, and any value past
 * 2^53 − 1 would silently round, so it throws instead.
 */
export function exactInt(v: unknown, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n))
    throw new RangeError(`${what} is not an exact integer in JavaScript: ${String(v)}`);
  return n;
}

/** Numbered parameters for a statement built piece by piece. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/** The event's local time (a timestamp without zone) in `tz`; seconds like SQLite's `ts / 1000`. */
const localTime = (tz: string) => `(to_timestamp(ts / 1000) AT TIME ZONE ${tz})`;

/** SQL expression of a group key; mirrors the SQLite ledger's `groupExpr` and core's `groupKeyOf`. */
function groupExpr(by: GroupBy, tz: () => string): string {
  switch (by) {
    case 'day':
      return `to_char(${localTime(tz())}, 'YYYY-MM-DD')`;
    case 'week':
      // date_trunc('week') is the Monday of the ISO week, as in core.
      return `to_char(date_trunc('week', ${localTime(tz())}), 'YYYY-MM-DD')`;
    case 'month':
      return `to_char(${localTime(tz())}, 'YYYY-MM')`;
    case 'session':
    case 'project':
    case 'model':
    case 'agent':
      return groupKeySql(by);
    default:
      return unreachable(by);
  }
}

function whereOf(filter: SharedFilter, p: Params, tz: () => string): string {
  const parts: string[] = [];
  if (filter.under?.length) {
    const ors = filter.under.map((u) => {
      const d = u.endsWith(sep) ? u.slice(0, -1) : u;
      return `(attr_file = ${p.add(d)} OR starts_with(attr_file, ${p.add(d + sep)}))`;
    });
    parts.push(`(${ors.join(' OR ')})`);
  }
  if (filter.project !== undefined) parts.push(`project = ${p.add(filter.project)}`);
  if (filter.session !== undefined) parts.push(`session = ${p.add(filter.session)}`);
  if (filter.run !== undefined) parts.push(`run = ${p.add(filter.run)}`);
  if (filter.source !== undefined) parts.push(`source = ${p.add(filter.source)}`);
  if (filter.tenant !== undefined) parts.push(`tags ->> 'tenant' = ${p.add(filter.tenant)}`);
  // Compared as text, like SQLite's: 'YYYY-MM-DD' strings order as the days do.
  const day = () => `to_char(${localTime(tz())}, 'YYYY-MM-DD') COLLATE "C"`;
  if (filter.since !== undefined) parts.push(`${day()} >= ${p.add(filter.since)}`);
  if (filter.until !== undefined) parts.push(`${day()} <= ${p.add(filter.until)}`);
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

interface AggregateRow {
  key: string;
  events: string;
  i: string;
  cr: string;
  w5: string;
  w1: string;
  o: string;
  r: string;
  ws: string;
  us: string;
  cost: string;
  unpriced: string;
  est: string;
  um: string[];
  first: string;
  last: string;
}

function nano(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer: ${n}`);
}

/** `url` without its password (in the user part or a `password=` parameter), safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.searchParams.delete('password');
    return u.href;
  } catch {
    return url.replace(/(\/\/[^:/@]*):[^@]*@/, '$1@').replace(/([?&]password=)[^&]*/g, '$1');
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The pg connection string with `search_path` set to `schema` (added to any `options` it has). */
function withSchema(url: string, explicit: string | undefined): { connectionString: string; schema: string } {
  const u = new URL(url);
  const schema = explicit ?? u.searchParams.get('schema') ?? 'tokenledger';
  if (!SCHEMA_NAME.test(schema))
    throw new RangeError(`schema must be lower-case letters, digits and _ (at most 63): ${schema}`);
  u.searchParams.delete('schema');
  const options = u.searchParams.get('options');
  u.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`);
  return { connectionString: u.href, schema };
}

async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    c.release();
    return out;
  } catch (err) {
    // A connection whose ROLLBACK failed is broken: the pool drops it instead of reusing it.
    await c.query('ROLLBACK').then(
      () => c.release(),
      (e: Error) => c.release(e),
    );
    throw err;
  }
}

/** Applies the versions `tokenledger_schema` does not list yet, all in one transaction under a lock. */
async function migrate(pool: Pool, schema: string): Promise<void> {
  await inTransaction(pool, async (c) => {
    // Two processes starting together: the second waits here, then finds every version applied.
    await c.query(`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`, [schema]);
    // Checked before creating: CREATE SCHEMA IF NOT EXISTS needs the CREATE right even when it exists.
    const exists = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.rowCount === 0) await c.query(`CREATE SCHEMA ${schema}`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS tokenledger_schema (
         version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM tokenledger_schema');
    const current = rows[0]?.v ?? 0;
    if (current > PG_MIGRATIONS.length)
      throw new Error(
        `the PostgreSQL store is at schema version ${current}, newer than this tokenledger knows (${PG_MIGRATIONS.length}): upgrade tokenledger`,
      );
    for (let v = current; v < PG_MIGRATIONS.length; v++) {
      await c.query(PG_MIGRATIONS[v]!);
      await c.query('INSERT INTO tokenledger_schema (version) VALUES ($1)', [v + 1]);
    }
  });
}

/**
 * The shared store on PostgreSQL, for a team or several gateway machines: the same contract as
 * `openSqliteShared` (see {@link SharedLedger}), its tables in their own schema (`tokenledger` unless
 * told otherwise), migrated on open — once, even when several processes open it at the same time.
 *
 * - `reserve` is one statement: a conditional upsert of the budget row (the check against the limit
 *   and the increment are the same row-locked update, so no two processes can pass the last dollar)
 *   with the reservation row inserted by the same statement. Stale reservations (older than the TTL)
 *   are released first, as in SQLite; their rows stay, so a late settle still charges.
 * - `writeEvents` inserts new ids; a known id is replaced only by a larger snapshot of the same call,
 *   as in the SQLite ledger (a gateway's events are final, so for them it is insert-once).
 * - `aggregate` runs in SQL; days, weeks and months are in the process's time zone (`TZ`), as in the
 *   SQLite ledger. Sums arrive as exact decimals and throw past 2^53 rather than round.
 *
 * @example
 * const store = await openPostgresShared('postgres://tokenledger:secret@db.internal:5432/spend');
 * const r = await store.reserve(key, 1_000_000_000, 30_000_000, Date.now()); // $0.03 against $1
 * console.log(store.location); // postgres://tokenledger@db.internal:5432/spend (no password)
 */
export async function openPostgresShared(
  url: string,
  opts: PostgresSharedOptions = {},
): Promise<SharedLedger> {
  const ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
    throw new RangeError('reservationTtlMs must be a positive integer');
  const { connectionString, schema } = withSchema(url, opts.schema);
  // Loaded here, not at the top: SQLite users never load the PostgreSQL driver.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString, max: opts.poolSize ?? 10 });
  // An idle connection that breaks (server restart) is dropped by the pool; the next query reconnects.
  pool.on('error', () => {});
  try {
    if (opts.timeZone !== undefined) await checkTimeZone(pool, opts.timeZone);
    await migrate(pool, schema);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const zone = () => opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;

  const sweepSql = `WITH stale AS (
      UPDATE budget_reservations SET held = false
      WHERE id IN (
        SELECT id FROM budget_reservations WHERE held AND created_ms <= $1 AND pg_try_advisory_xact_lock(${SWEEP_LOCK})
        FOR UPDATE SKIP LOCKED
      )
      RETURNING key, amount_nano
    ), freed AS (SELECT key, sum(amount_nano) AS amount FROM stale GROUP BY key)
    UPDATE budget_usage u SET reserved_nano = u.reserved_nano - freed.amount FROM freed WHERE u.key = freed.key`;
  // The whole check-and-add in ONE statement: the SELECT refuses a first reservation above the limit,
  // the DO UPDATE WHERE one that would take spent + reserved past it (evaluated on the row locked for
  // the update, i.e. after any concurrent reserve committed). Only an accepted upsert returns a row,
  // and only then is the reservation row inserted. A refusal reports the totals that refused it.
  const reserveSql = `WITH r AS (
      INSERT INTO budget_usage AS b (key, spent_nano, reserved_nano)
        SELECT $1::text, 0, $3::bigint WHERE $3::bigint <= $2::bigint
      ON CONFLICT (key) DO UPDATE SET reserved_nano = b.reserved_nano + EXCLUDED.reserved_nano
        WHERE b.spent_nano + b.reserved_nano + EXCLUDED.reserved_nano <= $2::bigint
      RETURNING spent_nano, reserved_nano
    ), ins AS (
      INSERT INTO budget_reservations (id, key, amount_nano, created_ms, held)
        SELECT $4::text, $1::text, $3::bigint, $5::bigint, true FROM r
    )
    SELECT true AS ok, spent_nano, reserved_nano FROM r
    UNION ALL
    SELECT false, COALESCE(b.spent_nano, 0), COALESCE(b.reserved_nano, 0)
      FROM (SELECT 1) one LEFT JOIN budget_usage b ON b.key = $1::text
      WHERE NOT EXISTS (SELECT 1 FROM r)`;
  // Deleting the reservation row is what makes settle/release idempotent: the second finds nothing.
  const finishSql = `WITH r AS (DELETE FROM budget_reservations WHERE id = $1 RETURNING key, amount_nano, held)
    UPDATE budget_usage u SET spent_nano = u.spent_nano + $2::bigint,
      reserved_nano = u.reserved_nano - CASE WHEN r.held THEN r.amount_nano ELSE 0 END
    FROM r WHERE u.key = r.key`;
  const finish = async (id: string, actual: number) =>
    (await pool.query(finishSql, [id, actual])).rowCount === 1;

  return {
    location: redactUrl(url),
    async writeEvents(events) {
      const stats: IngestStats = { inserted: 0, updated: 0, unchanged: 0 };
      if (events.length === 0) return stats;
      // One statement cannot touch a row twice: a repeated id goes to a later round.
      const rounds: Map<string, UsageEvent>[] = [];
      for (const e of events) {
        let round = rounds.find((r) => !r.has(e.id));
        if (!round) {
          round = new Map();
          rounds.push(round);
        }
        round.set(e.id, e);
      }
      const chunks = rounds
        .map((r) => [...r.values()])
        .flatMap((round) =>
          Array.from({ length: Math.ceil(round.length / ROWS_PER_INSERT) }, (_, k) =>
            round.slice(k * ROWS_PER_INSERT, (k + 1) * ROWS_PER_INSERT),
          ),
        );
      const run = async (c: Pool | PoolClient) => {
        for (const chunk of chunks) {
          const res = await c.query<{ inserted: boolean }>(
            insertEventsSql(chunk.length),
            chunk.flatMap((event) => eventValues({ event, origin: WRITTEN })),
          );
          for (const r of res.rows) {
            if (r.inserted) stats.inserted++;
            else stats.updated++;
          }
          stats.unchanged += chunk.length - res.rows.length;
        }
      };
      if (chunks.length === 1) await run(pool);
      else await inTransaction(pool, run);
      return stats;
    },
    async aggregate(by, filter = {}) {
      const p = new Params();
      let tzParam: string | undefined;
      const tz = () => (tzParam ??= p.add(zone()));
      const key = groupExpr(by, tz);
      const where = whereOf(filter, p, tz);
      const { rows } = await pool.query<AggregateRow>(
        `SELECT ${key} AS key, count(*) AS events,
           sum(input_tokens) AS i, sum(cache_read_tokens) AS cr, sum(cache_write_5m_tokens) AS w5,
           sum(cache_write_1h_tokens) AS w1, sum(output_tokens) AS o, sum(reasoning_tokens) AS r,
           sum(web_search_requests) AS ws, sum(unsplit_tokens) AS us, COALESCE(sum(cost_nano), 0) AS cost,
           count(*) FILTER (WHERE cost_nano IS NULL) AS unpriced, count(*) FILTER (WHERE estimated) AS est,
           COALESCE(array_agg(DISTINCT model) FILTER (WHERE cost_nano IS NULL), '{}') AS um,
           min(ts) AS first, max(ts) AS last
         FROM events ${where} GROUP BY 1`,
        p.values,
      );
      const totals = emptyTally('total');
      const groups: Tally[] = [];
      for (const r of rows) {
        const t = emptyTally(r.key);
        t.events = exactInt(r.events, 'events');
        t.usage.inputTokens = exactInt(r.i, 'input tokens');
        t.usage.cacheReadTokens = exactInt(r.cr, 'cache read tokens');
        t.usage.cacheWrite5mTokens = exactInt(r.w5, 'cache write tokens');
        t.usage.cacheWrite1hTokens = exactInt(r.w1, 'cache write tokens');
        t.usage.outputTokens = exactInt(r.o, 'output tokens');
        t.usage.reasoningTokens = exactInt(r.r, 'reasoning tokens');
        t.usage.webSearchRequests = exactInt(r.ws, 'web search requests');
        t.usage.unsplitTokens = exactInt(r.us, 'unsplit tokens');
        t.costNano = exactInt(r.cost, 'cost (nano-dollars)');
        t.unpricedEvents = exactInt(r.unpriced, 'unpriced events');
        t.estimatedEvents = exactInt(r.est, 'estimated events');
        t.unpricedModels = r.um;
        t.firstTs = exactInt(r.first, 'ts');
        t.lastTs = exactInt(r.last, 'ts');
        groups.push(t);
        mergeTally(totals, t);
      }
      // The totals are JavaScript sums of exact group sums: check they stayed exact too.
      exactInt(totals.costNano, 'total cost (nano-dollars)');
      return { totals, groups: sortGroups(groups, by) } satisfies Aggregate;
    },
    async events(filter = {}) {
      const p = new Params();
      let tzParam: string | undefined;
      const where = whereOf(filter, p, () => (tzParam ??= p.add(zone())));
      const { rows } = await pool.query<Record<string, unknown>>(
        `SELECT * FROM events ${where} ORDER BY ts, id COLLATE "C"`,
        p.values,
      );
      return rows.map((r) => eventFromRow(r, exactInt));
    },

    async reserve(key, limitNano, amountNano, nowMs) {
      nano('limitNano', limitNano);
      nano('amountNano', amountNano);
      if (!Number.isSafeInteger(nowMs)) throw new RangeError(`nowMs must be an integer: ${nowMs}`);
      await pool.query(sweepSql, [nowMs - ttlMs, schema]);
      const id = randomUUID();
      const { rows } = await pool.query<{ ok: boolean; spent_nano: string; reserved_nano: string }>(
        reserveSql,
        [key, limitNano, amountNano, id, nowMs],
      );
      const row = rows[0]!;
      const spentNano = exactInt(row.spent_nano, 'spent_nano');
      const reservedNano = exactInt(row.reserved_nano, 'reserved_nano');
      return row.ok
        ? { ok: true, reservationId: id, spentNano, reservedNano }
        : { ok: false, spentNano, reservedNano };
    },
    async settle(id, actualNano) {
      nano('actualNano', actualNano);
      return finish(id, actualNano);
    },
    async release(id) {
      return finish(id, 0);
    },
    async budgetUsage(key): Promise<BudgetUsage> {
      const { rows } = await pool.query<{ spent_nano: string; reserved_nano: string }>(
        'SELECT spent_nano, reserved_nano FROM budget_usage WHERE key = $1',
        [key],
      );
      const r = rows[0];
      return {
        spentNano: r ? exactInt(r.spent_nano, 'spent_nano') : 0,
        reservedNano: r ? exactInt(r.reserved_nano, 'reserved_nano') : 0,
      };
    },

    async claimAlert(alertKey, nowMs) {
      if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a time: ${nowMs}`);
      const res = await pool.query(
        'INSERT INTO budget_alerts (alert_key, claimed_ms) VALUES ($1, $2) ON CONFLICT (alert_key) DO NOTHING',
        [alertKey, Math.trunc(nowMs)],
      );
      return res.rowCount === 1;
    },
    async unclaimAlert(alertKey) {
      await pool.query('DELETE FROM budget_alerts WHERE alert_key = $1', [alertKey]);
    },

    async putKey(k) {
      await pool.query(
        `INSERT INTO gateway_keys (id, tenant, hash, created_ms, revoked_ms, label, budget)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
        keyRowValues(k),
      );
    },
    async keyByHash(hash) {
      const { rows } = await pool.query<Record<string, unknown>>(
        'SELECT * FROM gateway_keys WHERE hash = $1',
        [hash],
      );
      return rows[0] ? keyFromRow(rows[0], exactInt) : undefined;
    },
    async listKeys(tenant) {
      const { rows } =
        tenant === undefined
          ? await pool.query<Record<string, unknown>>(
              'SELECT * FROM gateway_keys ORDER BY created_ms, id COLLATE "C"',
            )
          : await pool.query<Record<string, unknown>>(
              'SELECT * FROM gateway_keys WHERE tenant = $1 ORDER BY created_ms, id COLLATE "C"',
              [tenant],
            );
      return rows.map((r) => keyFromRow(r, exactInt));
    },
    async revokeKey(id, nowMs) {
      const res = await pool.query(
        'UPDATE gateway_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL',
        [nowMs, id],
      );
      return res.rowCount === 1;
    },

    async close() {
      await pool.end();
    },
  };
}

async function checkTimeZone(pool: Pool, zone: string): Promise<void> {
  try {
    await pool.query('SELECT now() AT TIME ZONE $1', [zone]);
  } catch (err) {
    throw new RangeError(
      `PostgreSQL does not know the time zone ${JSON.stringify(zone)}: ${(err as Error).message}`,
    );
  }
}
