import { mkdirSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import Database from 'better-sqlite3';
import type { Aggregate, GroupBy, Tally } from '../core/aggregate.js';
import { emptyTally, mergeTally, sortGroups, unreachable } from '../core/aggregate.js';
import type { Problem } from '../core/event.js';
import type { Outcome } from '../core/insights/outcomes.js';
import { nanoToUsd, usdToNano } from '../core/money.js';
import type { RunSummary } from '../core/run.js';
import { totalInputTokens, type UsageBuckets } from '../core/usage.js';
import {
  eventFromRow,
  eventParams,
  eventValues,
  groupKeySql,
  INSERT_COLUMNS,
  PLACEMENT_COLUMNS,
  USAGE_COLUMNS,
} from './columns.js';
import type {
  FileState,
  IngestBatch,
  IngestStats,
  LedgerFilter,
  LedgerStore,
  StoredEvent,
} from './ledger.js';

/** The ledger schema, one step per version (exported for the migration tests). */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     id TEXT PRIMARY KEY,
     ts INTEGER NOT NULL,
     source TEXT NOT NULL,
     provider TEXT NOT NULL,
     model TEXT NOT NULL,
     speed TEXT,
     input_tokens INTEGER NOT NULL,
     cache_read_tokens INTEGER NOT NULL,
     cache_write_5m_tokens INTEGER NOT NULL,
     cache_write_1h_tokens INTEGER NOT NULL,
     output_tokens INTEGER NOT NULL,
     reasoning_tokens INTEGER NOT NULL,
     web_search_requests INTEGER NOT NULL,
     cost_nano INTEGER,
     price_source TEXT NOT NULL,
     estimated INTEGER NOT NULL,
     cost_note TEXT,
     project TEXT, session TEXT, run TEXT, workflow TEXT,
     agent_path TEXT, agent_name TEXT, agent_type TEXT, agent_id TEXT, agent_desc TEXT,
     stage TEXT, task TEXT, user TEXT, feature TEXT, tags TEXT, status TEXT,
     attr_rank INTEGER NOT NULL, attr_first_ts INTEGER, attr_file TEXT NOT NULL, attr_line INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX events_ts ON events(ts);
   CREATE INDEX events_session ON events(session);
   CREATE INDEX events_agent_id ON events(agent_id) WHERE agent_id IS NOT NULL;
   CREATE TABLE files (
     path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, identity TEXT NOT NULL,
     head_hash TEXT NOT NULL, offset INTEGER NOT NULL, lines INTEGER NOT NULL, first_ts INTEGER
   ) WITHOUT ROWID;
   CREATE TABLE problems (file TEXT NOT NULL, line INTEGER NOT NULL, reason TEXT NOT NULL);
   CREATE INDEX problems_file ON problems(file);
   CREATE TABLE links (kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // Workflow telemetry: tokens with no input/output split, and one row per run.
  `ALTER TABLE events ADD COLUMN unsplit_tokens INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX events_run ON events(run) WHERE run IS NOT NULL;
   CREATE TABLE runs (
     id TEXT PRIMARY KEY, workflow TEXT, source TEXT NOT NULL, file TEXT NOT NULL, ts INTEGER,
     data TEXT NOT NULL
   ) WITHOUT ROWID;`,
  // Events become a rowid table: its rows are wide (~40 columns), which SQLite advises against for
  // WITHOUT ROWID, and the live meter's batched inserts run ~20% faster. Sessions are indexed only
  // where there is one (the meter's calls usually have none).
  `CREATE TABLE events_v3 (
     id TEXT PRIMARY KEY, ts INTEGER NOT NULL, source TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
     speed TEXT, input_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL,
     cache_write_5m_tokens INTEGER NOT NULL, cache_write_1h_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
     reasoning_tokens INTEGER NOT NULL, web_search_requests INTEGER NOT NULL, cost_nano INTEGER,
     price_source TEXT NOT NULL, estimated INTEGER NOT NULL, cost_note TEXT,
     project TEXT, session TEXT, run TEXT, workflow TEXT,
     agent_path TEXT, agent_name TEXT, agent_type TEXT, agent_id TEXT, agent_desc TEXT,
     stage TEXT, task TEXT, user TEXT, feature TEXT, tags TEXT, status TEXT,
     attr_rank INTEGER NOT NULL, attr_first_ts INTEGER, attr_file TEXT NOT NULL, attr_line INTEGER NOT NULL,
     unsplit_tokens INTEGER NOT NULL DEFAULT 0
   );
   INSERT INTO events_v3 SELECT id, ts, source, provider, model, speed, input_tokens, cache_read_tokens,
     cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, web_search_requests, cost_nano,
     price_source, estimated, cost_note, project, session, run, workflow, agent_path, agent_name, agent_type,
     agent_id, agent_desc, stage, task, user, feature, tags, status, attr_rank, attr_first_ts, attr_file, attr_line,
     unsplit_tokens FROM events;
   DROP TABLE events;
   ALTER TABLE events_v3 RENAME TO events;
   CREATE INDEX events_ts ON events(ts);
   CREATE INDEX events_session ON events(session) WHERE session IS NOT NULL;
   CREATE INDEX events_agent_id ON events(agent_id) WHERE agent_id IS NOT NULL;
   CREATE INDEX events_run ON events(run) WHERE run IS NOT NULL;`,
  // Outcomes: one verdict per run (or trace), last write wins. Value in integer nano-dollars.
  `CREATE TABLE outcomes (
     run TEXT PRIMARY KEY, success INTEGER NOT NULL, score REAL, units REAL, value_nano INTEGER,
     ts INTEGER NOT NULL, source TEXT
   );`,
];

/** The event's local calendar day (SQLite's 'localtime' follows the process time zone, like core's). */
const LOCAL_DAY = "strftime('%Y-%m-%d', ts / 1000, 'unixepoch', 'localtime')";

/** SQL expression of a group key; mirrors `groupKeyOf` in core (a test holds them equal). */
function groupExpr(by: GroupBy): string {
  switch (by) {
    case 'day':
      return LOCAL_DAY;
    case 'week':
      // Monday of the ISO week, local time.
      return `date(${LOCAL_DAY}, '-' || ((CAST(strftime('%w', ts / 1000, 'unixepoch', 'localtime') AS INTEGER) + 6) % 7) || ' days')`;
    case 'month':
      return "strftime('%Y-%m', ts / 1000, 'unixepoch', 'localtime')";
    case 'session':
    case 'project':
    case 'model':
    case 'agent':
      return groupKeySql(by);
    default:
      return unreachable(by);
  }
}

function whereOf(filter: LedgerFilter): { sql: string; params: Record<string, unknown> } {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  if (filter.under?.length) parts.push(underSql('attr_file', filter.under, params));
  if (filter.project !== undefined) {
    parts.push('project = @project');
    params.project = filter.project;
  }
  if (filter.session !== undefined) {
    parts.push('session = @session');
    params.session = filter.session;
  }
  if (filter.run !== undefined) {
    parts.push('run = @run');
    params.run = filter.run;
  }
  if (filter.source !== undefined) {
    parts.push('source = @source');
    params.source = filter.source;
  }
  if (filter.since !== undefined) {
    parts.push(`${LOCAL_DAY} >= @since`);
    params.since = filter.since;
  }
  if (filter.until !== undefined) {
    parts.push(`${LOCAL_DAY} <= @until`);
    params.until = filter.until;
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export interface SqliteLedgerOptions {
  /** Open read-only (reports on a ledger another process writes). */
  readonly?: boolean;
}

/**
 * The default ledger: one SQLite file (WAL, so reports read while an ingest writes).
 *
 * @example
 * const ledger = openSqliteLedger(join(homedir(), '.tokenledger', 'ledger.db'));
 * ledger.aggregate('day');
 */
export function openSqliteLedger(path: string, opts: SqliteLedgerOptions = {}): LedgerStore {
  if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, opts.readonly ? { readonly: true } : {});
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  }

  const usageCols = USAGE_COLUMNS;
  const attrCols = PLACEMENT_COLUMNS;
  const cols = INSERT_COLUMNS;
  const stmts = opts.readonly
    ? null
    : {
        find: db.prepare<
          [string],
          {
            output_tokens: number;
            tin: number;
            unsplit_tokens: number;
            attr_rank: number;
            attr_first_ts: number | null;
            attr_file: string;
            attr_line: number;
          }
        >(
          'SELECT output_tokens, input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens AS tin, unsplit_tokens, attr_rank, attr_first_ts, attr_file, attr_line FROM events WHERE id = ?',
        ),
        // New ids (the common case) cost one statement; only a conflict reads the stored copy.
        insertNew: db.prepare(
          `INSERT INTO events (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ON CONFLICT(id) DO NOTHING`,
        ),
        updateUsage: db.prepare(
          `UPDATE events SET ${usageCols.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`,
        ),
        updateAttr: db.prepare(
          `UPDATE events SET ${attrCols.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`,
        ),
        upsertFile: db.prepare(
          `INSERT INTO files (path, size, mtime_ms, identity, head_hash, offset, lines, first_ts)
           VALUES (@path, @size, @mtimeMs, @identity, @headHash, @offset, @lines, @firstTs)
           ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, identity = excluded.identity,
             head_hash = excluded.head_hash, offset = excluded.offset, lines = excluded.lines, first_ts = excluded.first_ts`,
        ),
        clearProblems: db.prepare('DELETE FROM problems WHERE file = ?'),
        deleteRunEvents: db.prepare('DELETE FROM events WHERE run = ? AND source = ?'),
        deleteFileEvents: db.prepare('DELETE FROM events WHERE attr_file = ? AND source = ?'),
        runsOfFile: db.prepare<[string], { id: string; source: string }>(
          'SELECT id, source FROM runs WHERE file = ?',
        ),
        deleteRun: db.prepare('DELETE FROM runs WHERE id = ?'),
        upsertRun: db.prepare(
          `INSERT INTO runs (id, workflow, source, file, ts, data) VALUES (@id, @workflow, @source, @file, @ts, @data)
           ON CONFLICT(id) DO UPDATE SET workflow = excluded.workflow, source = excluded.source, file = excluded.file,
             ts = excluded.ts, data = excluded.data`,
        ),
        addProblem: db.prepare('INSERT INTO problems (file, line, reason) VALUES (?, ?, ?)'),
        upsertLink: db.prepare(
          'INSERT INTO links (kind, key, data) VALUES (?, ?, ?) ON CONFLICT(kind, key) DO UPDATE SET data = excluded.data',
        ),
      };

  // Bumped on every change, so a cached report of the same query at the same generation is current.
  // Cached reports of older generations can never be served again: they go with every bump.
  const bumpGeneration = opts.readonly
    ? null
    : db.prepare(
        "INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
      );
  const dropReportCache = opts.readonly
    ? null
    : db.prepare("DELETE FROM meta WHERE key LIKE 'report-cache:%'");
  const bump = () => {
    bumpGeneration!.run();
    dropReportCache!.run();
  };

  const commitTx = db.transaction((batch: IngestBatch): IngestStats => {
    const s = stmts!;
    const stats: IngestStats = { inserted: 0, updated: 0, unchanged: 0 };
    for (const f of batch.resetProblemsFor) s.clearProblems.run(f);
    for (const p of batch.problems) s.addProblem.run(p.file, p.line, p.reason);
    for (const l of batch.links) s.upsertLink.run(l.kind, l.key, JSON.stringify(l.data));
    for (const r of batch.replaceEventsFrom ?? []) s.deleteFileEvents.run(r.file, r.source);
    for (const file of batch.dropRunsFrom ?? []) {
      for (const run of s.runsOfFile.all(file)) {
        s.deleteRunEvents.run(run.id, run.source);
        s.deleteRun.run(run.id);
      }
    }
    // A run file is a snapshot: its new content replaces the run's events and summary whole.
    for (const run of batch.runs ?? []) {
      s.deleteRunEvents.run(run.id, run.source);
      s.upsertRun.run({
        id: run.id,
        workflow: run.workflow ?? null,
        source: run.source,
        file: run.file,
        ts: run.ts,
        data: JSON.stringify(run),
      });
    }
    for (const se of batch.events) {
      // Positional binding: better-sqlite3 binds an array faster than an object of 40 names.
      if (s.insertNew.run(eventValues(se)).changes === 1) {
        stats.inserted++;
        continue;
      }
      const existing = s.find.get(se.event.id);
      if (!existing) continue; // unreachable: the conflict means the row exists
      const params = eventParams(se);
      const u = se.event.usage;
      let changed = false;
      if (largerSnapshot(u, existing)) {
        s.updateUsage.run(params);
        changed = true;
      }
      if (betterOrigin(se, existing)) {
        s.updateAttr.run(params);
        changed = true;
      }
      if (changed) stats.updated++;
      else stats.unchanged++;
    }
    for (const f of batch.files) s.upsertFile.run(f);
    if (stats.inserted + stats.updated > 0 || batch.problems.length > 0 || batch.resetProblemsFor.length > 0)
      bump();
    return stats;
  });

  return {
    location: path,
    fileStates() {
      const rows = db.prepare('SELECT * FROM files').all() as Record<string, unknown>[];
      const out = new Map<string, FileState>();
      for (const r of rows) {
        out.set(r.path as string, {
          path: r.path as string,
          size: r.size as number,
          mtimeMs: r.mtime_ms as number,
          identity: r.identity as string,
          headHash: r.head_hash as string,
          offset: r.offset as number,
          lines: r.lines as number,
          firstTs: (r.first_ts as number | null) ?? null,
        });
      }
      return out;
    },
    commit: (batch) => commitTx.immediate(batch),
    links(kind) {
      const rows = db.prepare('SELECT kind, key, data FROM links WHERE kind = ?').all(kind) as {
        kind: string;
        key: string;
        data: string;
      }[];
      return rows.map((r) => ({ kind: r.kind, key: r.key, data: JSON.parse(r.data) as unknown }));
    },
    updateAgent(agentId, attrs) {
      const changes = db
        .prepare(
          'UPDATE events SET agent_name = @agentName, agent_type = @agentType, agent_desc = @agentDescription, agent_path = @agentPath WHERE agent_id = @agentId',
        )
        .run({
          agentId,
          agentName: attrs.agentName ?? null,
          agentType: attrs.agentType ?? null,
          agentDescription: attrs.agentDescription ?? null,
          agentPath: attrs.agentPath ?? null,
        }).changes;
      if (changes > 0) bump();
      return changes;
    },
    unresolvedAgents() {
      return (
        db
          .prepare('SELECT DISTINCT agent_id FROM events WHERE agent_id IS NOT NULL AND agent_type IS NULL')
          .all() as { agent_id: string }[]
      ).map((r) => r.agent_id);
    },
    aggregate(by, filter = {}) {
      const where = whereOf(filter);
      const rows = db
        .prepare(
          `SELECT ${groupExpr(by)} AS key, COUNT(*) AS events,
             SUM(input_tokens) AS i, SUM(cache_read_tokens) AS cr, SUM(cache_write_5m_tokens) AS w5,
             SUM(cache_write_1h_tokens) AS w1, SUM(output_tokens) AS o, SUM(reasoning_tokens) AS r,
             SUM(web_search_requests) AS ws, SUM(unsplit_tokens) AS us, COALESCE(SUM(cost_nano), 0) AS cost,
             SUM(cost_nano IS NULL) AS unpriced, SUM(estimated) AS est,
             group_concat(DISTINCT CASE WHEN cost_nano IS NULL THEN model END) AS um,
             MIN(ts) AS first, MAX(ts) AS last
           FROM events ${where.sql} GROUP BY 1`,
        )
        .all(where.params) as Record<string, number | string | null>[];
      const totals = emptyTally('total');
      const groups: Tally[] = [];
      for (const r of rows) {
        const t = emptyTally(String(r.key));
        t.events = r.events as number;
        t.usage.inputTokens = r.i as number;
        t.usage.cacheReadTokens = r.cr as number;
        t.usage.cacheWrite5mTokens = r.w5 as number;
        t.usage.cacheWrite1hTokens = r.w1 as number;
        t.usage.outputTokens = r.o as number;
        t.usage.reasoningTokens = r.r as number;
        t.usage.webSearchRequests = r.ws as number;
        t.usage.unsplitTokens = r.us as number;
        t.costNano = r.cost as number;
        t.unpricedEvents = r.unpriced as number;
        t.estimatedEvents = r.est as number;
        t.unpricedModels = r.um ? String(r.um).split(',') : [];
        t.firstTs = r.first as number;
        t.lastTs = r.last as number;
        groups.push(t);
        mergeTally(totals, t);
      }
      return { totals, groups: sortGroups(groups, by) } satisfies Aggregate;
    },
    events(filter = {}) {
      const where = whereOf(filter);
      const rows = db
        .prepare(`SELECT * FROM events ${where.sql} ORDER BY ts, id`)
        .all(where.params) as Record<string, unknown>[];
      return rows.map((r) => eventFromRow(r));
    },
    problems(under) {
      const all = db
        .prepare('SELECT file, line, reason FROM problems ORDER BY file, line')
        .all() as Problem[];
      return under?.length ? all.filter((p) => under.some((u) => isUnder(p.file, u))) : all;
    },
    getRun(id) {
      const r = db.prepare('SELECT data FROM runs WHERE id = ?').get(id) as { data: string } | undefined;
      return r ? (JSON.parse(r.data) as RunSummary) : undefined;
    },
    runs(filter = {}) {
      const parts: string[] = [];
      const params: Record<string, unknown> = {};
      if (filter.under?.length) parts.push(underSql('file', filter.under, params));
      if (filter.workflow !== undefined) {
        parts.push('workflow = @workflow');
        params.workflow = filter.workflow;
      }
      if (filter.before !== undefined) {
        parts.push('ts < @before');
        params.before = filter.before;
      }
      const where = parts.length ? `WHERE ${parts.join(' AND ')}` : '';
      const rows = db.prepare(`SELECT data FROM runs ${where} ORDER BY ts, id`).all(params) as {
        data: string;
      }[];
      return rows.map((r) => JSON.parse(r.data) as RunSummary);
    },
    generation() {
      const r = db.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as
        | { value: string }
        | undefined;
      return r ? Number(r.value) : 0;
    },
    getMeta(key) {
      const r = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
      return r?.value;
    },
    setMeta(key, value) {
      db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      ).run(key, value);
    },
    reprice(price) {
      const rows = db.prepare('SELECT * FROM events').all() as Record<string, unknown>[];
      const update = db.prepare(
        'UPDATE events SET cost_nano = @cost_nano, price_source = @price_source, estimated = @estimated, cost_note = @cost_note WHERE id = @id',
      );
      let changed = 0;
      db.transaction(() => {
        for (const r of rows) {
          const e = eventFromRow(r);
          const c = price(e);
          if (c === null) continue;
          if (
            c.nanoUsd === e.cost.nanoUsd &&
            c.priceSource === e.cost.priceSource &&
            c.estimated === e.cost.estimated
          )
            continue;
          update.run({
            id: e.id,
            cost_nano: c.nanoUsd,
            price_source: c.priceSource,
            estimated: c.estimated ? 1 : 0,
            cost_note: c.note ?? null,
          });
          changed++;
        }
        if (changed > 0) bump();
      })();
      return changed;
    },
    putOutcomes(outcomes) {
      const find = db.prepare<[string], OutcomeRow>('SELECT * FROM outcomes WHERE run = ?');
      const upsert = db.prepare(
        `INSERT INTO outcomes (run, success, score, units, value_nano, ts, source)
         VALUES (@run, @success, @score, @units, @value_nano, @ts, @source)
         ON CONFLICT(run) DO UPDATE SET success = excluded.success, score = excluded.score, units = excluded.units,
           value_nano = excluded.value_nano, ts = excluded.ts, source = excluded.source`,
      );
      // Within one call the last verdict for a run wins: write that one only.
      const last = new Map<string, Outcome>();
      for (const o of outcomes) {
        last.delete(o.run);
        last.set(o.run, o);
      }
      const now = Date.now();
      let changed = 0;
      db.transaction(() => {
        for (const o of last.values()) {
          const row = outcomeParams(o, now);
          const cur = find.get(o.run);
          if (
            cur &&
            cur.success === row.success &&
            cur.score === row.score &&
            cur.units === row.units &&
            cur.value_nano === row.value_nano
          )
            continue;
          upsert.run(row);
          changed++;
        }
        if (changed > 0) bump();
      }).immediate();
      return changed;
    },
    outcomes() {
      // A read-only ledger of an older version has no outcomes table yet: it has no outcomes.
      const exists = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outcomes'")
        .get();
      if (!exists) return [];
      const rows = db.prepare('SELECT * FROM outcomes ORDER BY run').all() as OutcomeRow[];
      return rows.map(rowToOutcome);
    },
    close() {
      db.close();
    },
  };
}

interface OutcomeRow {
  run: string;
  success: number;
  score: number | null;
  units: number | null;
  value_nano: number | null;
  ts: number;
  source: string | null;
}

function outcomeParams(o: Outcome, now: number): OutcomeRow {
  return {
    run: o.run,
    success: o.success ? 1 : 0,
    score: o.score ?? null,
    units: o.units ?? null,
    value_nano: o.valueUsd === undefined ? null : usdToNano(o.valueUsd),
    ts: o.ts ?? now,
    source: o.source ?? null,
  };
}

function rowToOutcome(r: OutcomeRow): Outcome {
  const o: Outcome = { run: r.run, success: r.success === 1, ts: r.ts };
  if (r.score !== null) o.score = r.score;
  if (r.units !== null) o.units = r.units;
  if (r.value_nano !== null) o.valueUsd = nanoToUsd(r.value_nano);
  if (r.source !== null) o.source = r.source;
  return o;
}

/** The same call seen again with more tokens is a later snapshot of it (streaming, a growing run). */
/** `file` is `dir` itself or inside it (`/logs` does not contain `/logs-old/x`). */
export function isUnder(file: string, dir: string): boolean {
  const d = dir.endsWith(sep) ? dir.slice(0, -1) : dir;
  return file === d || file.startsWith(d + sep);
}

function underSql(column: string, under: string[], params: Record<string, unknown>): string {
  const ors = under.map((u, i) => {
    const d = u.endsWith(sep) ? u.slice(0, -1) : u;
    params[`under${i}`] = d;
    params[`underDir${i}`] = d + sep;
    return `(${column} = @under${i} OR substr(${column}, 1, length(@underDir${i})) = @underDir${i})`;
  });
  return `(${ors.join(' OR ')})`;
}

function largerSnapshot(
  u: UsageBuckets,
  cur: { output_tokens: number; tin: number; unsplit_tokens: number },
): boolean {
  if (u.outputTokens !== cur.output_tokens) return u.outputTokens > cur.output_tokens;
  const tin = totalInputTokens(u);
  if (tin !== cur.tin) return tin > cur.tin;
  return u.unsplitTokens > cur.unsplit_tokens;
}

function betterOrigin(
  se: StoredEvent,
  cur: { attr_rank: number; attr_first_ts: number | null; attr_file: string; attr_line: number },
): boolean {
  const o = se.origin;
  if (o.rank !== cur.attr_rank) return o.rank < cur.attr_rank;
  const a = o.firstTs ?? Number.POSITIVE_INFINITY;
  const b = cur.attr_first_ts ?? Number.POSITIVE_INFINITY;
  if (a !== b) return a < b;
  if (o.file !== cur.attr_file) return o.file < cur.attr_file;
  return o.line < cur.attr_line;
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
