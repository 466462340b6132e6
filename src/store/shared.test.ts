import { fork } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { testPostgresUrl } from '../../test/helpers/services.js';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import type { Aggregate, GroupBy } from '../core/aggregate.js';
import type { ReserveResult } from '../core/budget.js';
import type { UsageEvent } from '../core/event.js';
import { DEFAULT_RESERVATION_TTL_MS } from './budget-sqlite.js';
import { openPostgresShared, PG_MIGRATIONS } from './postgres.js';
import { type GatewayKey, openSqliteShared, type SharedFilter, type SharedLedger } from './shared.js';
import { MIGRATIONS } from './sqlite.js';

/**
 * One contract, run against every SharedLedger backend: SQLite on a temp file, PostgreSQL on the
 * server `TOKENLEDGER_TEST_PG` names (`.ci/postgres.sh` starts one and prints its URL). Each test gets
 * a fresh store: a new file, or a new schema (unique to this process, dropped afterwards), so test
 * files running in parallel never see each other's rows.
 */

const CENT = 10_000_000; // nano-dollars
const DOLLAR = 100 * CENT;
const T0 = Date.UTC(2026, 0, 15, 10, 30);

const PG_URL = testPostgresUrl();

/** A store under test, and how to open more connections to the same one (here or in a child process). */
interface Fresh {
  store: SharedLedger;
  another(): Promise<SharedLedger>;
  /** argv for the child script: backend, target, schema. */
  childArgs: string[];
  /** Schema versions recorded as applied. */
  versions(): Promise<number[]>;
}

interface Backend {
  name: 'sqlite' | 'postgres';
  fresh(): Promise<Fresh>;
  /** Several opens of one new store at the same instant. */
  openTogether(n: number): Promise<{ stores: SharedLedger[]; fresh: Omit<Fresh, 'store'> }>;
}

const opened: SharedLedger[] = [];
const track = (s: SharedLedger) => {
  opened.push(s);
  return s;
};
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  removeTempDirs();
});

const sqliteBackend: Backend = {
  name: 'sqlite',
  async fresh() {
    const path = join(tempDir(), 'ledger.db');
    return { store: track(openSqliteShared(path)), ...sqliteHandle(path) };
  },
  async openTogether(n) {
    const path = join(tempDir(), 'ledger.db');
    const stores = await Promise.all(Array.from({ length: n }, async () => track(openSqliteShared(path))));
    return { stores, fresh: sqliteHandle(path) };
  },
};

function sqliteHandle(path: string): Omit<Fresh, 'store'> {
  return {
    another: async () => track(openSqliteShared(path)),
    childArgs: ['sqlite', path, ''],
    async versions() {
      const db = new Database(path, { readonly: true });
      const v = db.pragma('user_version', { simple: true }) as number;
      db.close();
      return Array.from({ length: v }, (_, i) => i + 1);
    },
  };
}

let schemaCount = 0;
const schemas: string[] = [];
const newSchema = () => {
  const s = `tl_test_${process.pid}_${++schemaCount}`;
  schemas.push(s);
  return s;
};

async function adminQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

function pgHandle(schema: string): Omit<Fresh, 'store'> {
  return {
    another: async () => track(await openPostgresShared(PG_URL, { schema })),
    childArgs: ['postgres', PG_URL, schema],
    async versions() {
      const rows = await adminQuery<{ version: number }>(
        `SELECT version FROM ${schema}.tokenledger_schema ORDER BY version`,
      );
      return rows.map((r) => r.version);
    },
  };
}

const pgBackend: Backend = {
  name: 'postgres',
  async fresh() {
    const schema = newSchema();
    return { store: track(await openPostgresShared(PG_URL, { schema })), ...pgHandle(schema) };
  },
  async openTogether(n) {
    const schema = newSchema();
    const stores = await Promise.all(
      Array.from({ length: n }, async () => track(await openPostgresShared(PG_URL, { schema }))),
    );
    return { stores, fresh: pgHandle(schema) };
  },
};

afterAll(async () => {
  if (schemas.length) await adminQuery(`DROP SCHEMA IF EXISTS ${schemas.join(', ')} CASCADE`);
});

// ── hand-made events ─────────────────────────────────────────────────────────────────────────────

interface Ev {
  at: string;
  model?: string;
  speed?: string;
  agent?: string;
  tenant?: string;
  project?: string;
  cost: number | null;
  input?: number;
  output?: number;
  cacheRead?: number;
  write5m?: number;
  write1h?: number;
  reasoning?: number;
  webSearch?: number;
  unsplit?: number;
  estimated?: boolean;
}

function ev(id: string, e: Ev): UsageEvent {
  const event: UsageEvent = {
    id,
    ts: Date.parse(e.at),
    source: 'gateway',
    provider: 'anthropic',
    model: e.model ?? 'claude-sonnet-4-5',
    usage: {
      inputTokens: e.input ?? 0,
      cacheReadTokens: e.cacheRead ?? 0,
      cacheWrite5mTokens: e.write5m ?? 0,
      cacheWrite1hTokens: e.write1h ?? 0,
      outputTokens: e.output ?? 0,
      reasoningTokens: e.reasoning ?? 0,
      webSearchRequests: e.webSearch ?? 0,
      unsplitTokens: e.unsplit ?? 0,
    },
    cost: {
      nanoUsd: e.cost,
      priceSource: e.cost === null ? 'none' : 'genai-prices@0.1.8',
      estimated: e.estimated ?? false,
    },
    attribution: {},
  };
  if (e.cost === null) event.cost.note = 'unpriced model';
  if (e.speed) event.speed = e.speed;
  if (e.agent) event.attribution.agentName = e.agent;
  if (e.project) event.attribution.project = e.project;
  if (e.tenant) event.attribution.tags = { tenant: e.tenant, team: 'x' };
  return event;
}

// Local days differ by zone: e2 is Jan 18 in UTC and Los Angeles but Jan 19 in Kolkata (+05:30); e4
// is Jan 31 in UTC but Feb 1 (a Sunday, so the week of Jan 26) in Kolkata. Jan 18 is a Sunday too.
const EVENTS: UsageEvent[] = [
  ev('e1', {
    at: '2026-01-18T10:00:00Z',
    agent: 'main',
    tenant: 'acme',
    project: 'alpha',
    input: 100,
    output: 50,
    cacheRead: 1000,
    write5m: 200,
    cost: 1_250_000,
  }),
  ev('e2', {
    at: '2026-01-18T20:00:00Z',
    agent: 'Explore',
    tenant: 'acme',
    project: 'alpha',
    input: 10,
    output: 5,
    write1h: 300,
    cost: 750_000,
  }),
  ev('e3', {
    at: '2026-01-19T03:00:00Z',
    model: 'claude-opus-4-1',
    speed: 'fast',
    agent: 'main',
    tenant: 'globex',
    project: 'beta',
    input: 1,
    output: 400,
    reasoning: 120,
    webSearch: 2,
    cost: 30_000_000,
  }),
  ev('e4', {
    at: '2026-01-31T19:00:00Z',
    model: 'mystery-model',
    tenant: 'acme',
    input: 7,
    output: 3,
    cost: null,
  }),
  ev('e5', {
    at: '2026-02-02T12:00:00Z',
    agent: 'Explore',
    project: 'beta',
    unsplit: 5000,
    cost: 2_000_000,
    estimated: true,
  }),
  ev('e6', {
    at: '2026-01-19T04:00:00Z',
    model: 'other-model',
    agent: 'main',
    tenant: 'globex',
    project: 'beta',
    input: 2,
    output: 2,
    cost: null,
  }),
];

/** [key, events, cost, unpriced events] of each group, in the report's order. */
const figures = (a: Aggregate) => a.groups.map((g) => [g.key, g.events, g.costNano, g.unpricedEvents]);

/** SQLite lists a group's unpriced models in no set order; PostgreSQL sorts them. */
function normalized(a: Aggregate): Aggregate {
  const fix = <T extends { unpricedModels: string[] }>(t: T) => ({
    ...t,
    unpricedModels: [...t.unpricedModels].sort(),
  });
  return { totals: fix(a.totals), groups: a.groups.map(fix) };
}

/**
 * The SQL aggregate equals core's in-memory one over the same events (the oracle both backends meet).
 * Core is imported afresh each time: its `dayOf` caches days per quarter hour for the life of the
 * module, which is wrong once a test changes `TZ`.
 */
async function checked(store: SharedLedger, by: GroupBy, filter: SharedFilter = {}): Promise<Aggregate> {
  const got = await store.aggregate(by, filter);
  const { tenant, ...rest } = filter;
  vi.resetModules();
  const { aggregate } = await import('../core/aggregate.js');
  const expected = aggregate(
    EVENTS.filter((e) => tenant === undefined || e.attribution.tags?.tenant === tenant),
    by,
    rest,
  );
  expect(normalized(got)).toEqual(normalized(expected));
  return got;
}

function withTz(tz: string) {
  let saved: string | undefined;
  beforeAll(() => {
    saved = process.env.TZ;
    process.env.TZ = tz;
  });
  afterAll(() => {
    process.env.TZ = saved;
  });
}

function reservedId(r: Awaited<ReturnType<SharedLedger['reserve']>>): string {
  if (!r.ok) throw new Error(`expected the reservation to be accepted: ${JSON.stringify(r)}`);
  return r.reservationId;
}

// ── the child process of the cross-process test ──────────────────────────────────────────────────

// The child runs the COMPILED stores (vitest's global setup builds dist when src is newer), so two
// real Node processes race on one store through the same code and SQL as the tests.
const DIST = fileURLToPath(new URL('../../dist/store/', import.meta.url));
const SRC = fileURLToPath(new URL('./', import.meta.url));

// All `count` reservations are started in 10 bursts 2 ms apart from a shared instant and awaited
// together: with PostgreSQL they are in flight at once (queued on the pool's connections).
const CHILD = `
const [distDir, backend, target, schema, key, count] = process.argv.slice(2);
const store = backend === 'postgres'
  ? await (await import(distDir + 'postgres.js')).openPostgresShared(target, { schema })
  : (await import(distDir + 'shared.js')).openSqliteShared(target);
const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));
process.on('message', async ({ startAt }) => {
  await sleepUntil(startAt);
  const pending = [];
  let firstMs;
  for (let i = 0; i < Number(count); i++) {
    if (i % 10 === 0) await sleepUntil(startAt + (i / 10) * 15);
    pending.push(store.reserve(key, 1_000_000_000, 30_000_000, Date.now()).then((r) => {
      firstMs ??= Date.now();
      return r;
    }));
  }
  const results = await Promise.all(pending);
  const lastMs = Date.now();
  await store.close();
  process.send({ results, firstMs, lastMs }, () => process.disconnect());
});
process.send({ ready: true });
`;

interface ChildMessage {
  ready?: true;
  results?: ReserveResult[];
  firstMs?: number;
  lastMs?: number;
}

async function raceInChildren(fresh: Fresh, key: string, perChild: number): Promise<ChildMessage[]> {
  for (const f of ['postgres.js', 'shared.js', 'budget-sqlite.js']) {
    const built = join(DIST, f);
    expect(existsSync(built), 'dist is missing: run `npm run build`').toBe(true);
    expect(statSync(built).mtimeMs, 'dist is older than src: run `npm run build`').toBeGreaterThanOrEqual(
      statSync(join(SRC, f.replace(/\.js$/, '.ts'))).mtimeMs,
    );
  }
  const dir = tempDir();
  const script = join(dir, 'reserve-child.mjs');
  writeFileSync(script, CHILD);
  const children = [0, 1].map(() =>
    fork(script, [pathToFileURL(DIST).href, ...fresh.childArgs, key, String(perChild)], { stdio: 'inherit' }),
  );
  const message = (child: (typeof children)[number]) =>
    new Promise<ChildMessage>((resolve, reject) => {
      child.once('message', (m) => resolve(m as ChildMessage));
      child.once('close', (code) => reject(new Error(`child exited early with code ${code}`)));
    });
  await Promise.all(children.map(message));
  const done = children.map(message);
  const startAt = Date.now() + 400;
  for (const child of children) child.send({ startAt });
  return Promise.all(done);
}

// ── the contract ─────────────────────────────────────────────────────────────────────────────────

function contract(backend: Backend): void {
  const fresh = () => backend.fresh();

  describe('events', () => {
    it('writes each id once: writing the same events again adds nothing', async () => {
      const { store } = await fresh();
      expect(await store.writeEvents(EVENTS)).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
      expect(await store.writeEvents(EVENTS)).toEqual({ inserted: 0, updated: 0, unchanged: 6 });
      expect(await store.writeEvents([])).toEqual({ inserted: 0, updated: 0, unchanged: 0 });
      // Read back whole, in time order (ties by id), tags and nulls included.
      const sorted = [...EVENTS].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1));
      expect(await store.events()).toEqual(sorted);
      expect((await store.aggregate('model')).totals).toMatchObject({ events: 6, costNano: 34_000_000 });
    });

    it('keeps the larger snapshot of a call, also within one batch', async () => {
      const { store } = await fresh();
      const small = ev('s', { at: '2026-01-18T10:00:00Z', input: 10, output: 5, cost: 100 });
      const big = ev('s', { at: '2026-01-18T10:00:00Z', input: 10, output: 9, cost: 180 });
      expect(await store.writeEvents([small, big, small])).toEqual({ inserted: 1, updated: 1, unchanged: 1 });
      expect(await store.events()).toEqual([big]);
      expect(await store.writeEvents([small])).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
      expect((await store.aggregate('day')).totals).toMatchObject({ events: 1, costNano: 180 });
    });

    it('sums money exactly up to 2^53 − 1 nano-dollars', async () => {
      const { store } = await fresh();
      const half = 2 ** 52;
      await store.writeEvents([
        ev('a', { at: '2026-01-18T10:00:00Z', cost: half }),
        ev('b', { at: '2026-01-18T11:00:00Z', cost: half - 1 }),
      ]);
      const a = await store.aggregate('day');
      expect(a.totals.costNano).toBe(Number.MAX_SAFE_INTEGER);
      expect(a.groups[0]!.costNano).toBe(Number.MAX_SAFE_INTEGER);
    });
  });

  describe('aggregate (hand-checked figures, equal to core over the same events)', () => {
    // Before the blocks that change TZ: the SQLite store filters tenants with core's cached `dayOf`.
    it('filters by tenant (the `tenant` tag), alone and with dates and projects', async () => {
      const { store } = await fresh();
      await store.writeEvents(EVENTS);
      expect(figures(await checked(store, 'model', { tenant: 'acme' }))).toEqual([
        ['claude-sonnet-4-5', 2, 2_000_000, 0],
        ['mystery-model', 1, 0, 1],
      ]);
      expect(figures(await checked(store, 'agent', { tenant: 'globex' }))).toEqual([
        ['main', 2, 30_000_000, 1],
      ]);
      expect(figures(await checked(store, 'day', { tenant: 'acme', since: '2026-01-19' }))).toEqual([
        ['2026-01-31', 1, 0, 1],
      ]);
      expect(figures(await checked(store, 'day', { tenant: 'globex', project: 'alpha' }))).toEqual([]);
      const none = await checked(store, 'day', { tenant: 'nobody' });
      expect(none.groups).toEqual([]);
      expect(none.totals.events).toBe(0);
      expect((await store.events({ tenant: 'acme' })).map((e) => e.id)).toEqual(['e1', 'e2', 'e4']);
      expect((await store.events({ tenant: 'acme', project: 'alpha' })).map((e) => e.id)).toEqual([
        'e1',
        'e2',
      ]);
    });

    describe('in UTC', () => {
      withTz('UTC');

      it('groups by model and agent', async () => {
        const { store } = await fresh();
        await store.writeEvents(EVENTS);
        const byModel = await checked(store, 'model');
        expect(figures(byModel)).toEqual([
          ['claude-opus-4-1 (fast)', 1, 30_000_000, 0],
          ['claude-sonnet-4-5', 3, 4_000_000, 0],
          ['mystery-model', 1, 0, 1],
          ['other-model', 1, 0, 1],
        ]);
        const sonnet = byModel.groups[1]!;
        expect(sonnet.usage).toEqual({
          inputTokens: 110,
          cacheReadTokens: 1000,
          cacheWrite5mTokens: 200,
          cacheWrite1hTokens: 300,
          outputTokens: 55,
          reasoningTokens: 0,
          webSearchRequests: 0,
          unsplitTokens: 5000,
        });
        expect(sonnet.estimatedEvents).toBe(1);
        expect(byModel.groups[0]!.usage).toMatchObject({ reasoningTokens: 120, webSearchRequests: 2 });
        expect(byModel.totals).toMatchObject({
          events: 6,
          costNano: 34_000_000,
          unpricedEvents: 2,
          estimatedEvents: 1,
          firstTs: Date.parse('2026-01-18T10:00:00Z'),
          lastTs: Date.parse('2026-02-02T12:00:00Z'),
          usage: { inputTokens: 120, outputTokens: 460, unsplitTokens: 5000 },
        });
        expect([...byModel.totals.unpricedModels].sort()).toEqual(['mystery-model', 'other-model']);

        expect(figures(await checked(store, 'agent'))).toEqual([
          ['main', 3, 31_250_000, 1],
          ['Explore', 2, 2_750_000, 0],
          ['(unknown)', 1, 0, 1],
        ]);
        expect(figures(await checked(store, 'project'))).toEqual([
          ['beta', 3, 32_000_000, 1],
          ['alpha', 2, 2_000_000, 0],
          ['(unknown)', 1, 0, 1],
        ]);
      });

      it('groups by day, week and month', async () => {
        const { store } = await fresh();
        await store.writeEvents(EVENTS);
        expect(figures(await checked(store, 'day'))).toEqual([
          ['2026-01-18', 2, 2_000_000, 0],
          ['2026-01-19', 2, 30_000_000, 1],
          ['2026-01-31', 1, 0, 1],
          ['2026-02-02', 1, 2_000_000, 0],
        ]);
        expect(figures(await checked(store, 'week'))).toEqual([
          ['2026-01-12', 2, 2_000_000, 0],
          ['2026-01-19', 2, 30_000_000, 1],
          ['2026-01-26', 1, 0, 1],
          ['2026-02-02', 1, 2_000_000, 0],
        ]);
        expect(figures(await checked(store, 'month'))).toEqual([
          ['2026-01', 5, 32_000_000, 2],
          ['2026-02', 1, 2_000_000, 0],
        ]);
      });
    });

    describe('in Asia/Kolkata (+05:30): days are the process’s local days', () => {
      withTz('Asia/Kolkata');

      it('groups by local day, week and month, and filters by local dates', async () => {
        const { store } = await fresh();
        await store.writeEvents(EVENTS);
        expect(figures(await checked(store, 'day'))).toEqual([
          ['2026-01-18', 1, 1_250_000, 0],
          ['2026-01-19', 3, 30_750_000, 1],
          ['2026-02-01', 1, 0, 1],
          ['2026-02-02', 1, 2_000_000, 0],
        ]);
        expect(figures(await checked(store, 'week'))).toEqual([
          ['2026-01-12', 1, 1_250_000, 0],
          ['2026-01-19', 3, 30_750_000, 1],
          ['2026-01-26', 1, 0, 1],
          ['2026-02-02', 1, 2_000_000, 0],
        ]);
        expect(figures(await checked(store, 'month'))).toEqual([
          ['2026-01', 4, 32_000_000, 1],
          ['2026-02', 2, 2_000_000, 1],
        ]);
        const window = { since: '2026-01-19', until: '2026-02-01' };
        expect((await checked(store, 'day', window)).totals).toMatchObject({
          events: 4,
          costNano: 30_750_000,
        });
        expect((await store.events(window)).map((e) => e.id)).toEqual(['e2', 'e3', 'e6', 'e4']);
      });
    });

    describe('in America/Los_Angeles (−08:00)', () => {
      withTz('America/Los_Angeles');

      it('groups by local day', async () => {
        const { store } = await fresh();
        await store.writeEvents(EVENTS);
        expect(figures(await checked(store, 'day'))).toEqual([
          ['2026-01-18', 4, 32_000_000, 1],
          ['2026-01-31', 1, 0, 1],
          ['2026-02-02', 1, 2_000_000, 0],
        ]);
      });
    });
  });

  describe('budget reservations', () => {
    it('accepts up to exactly the limit and refuses past it, with the totals that refused', async () => {
      const { store } = await fresh();
      const limit = 10 * CENT;
      for (let i = 0; i < 3; i++) reservedId(await store.reserve('k', limit, 3 * CENT, T0));
      expect(await store.reserve('k', limit, 2 * CENT, T0)).toEqual({
        ok: false,
        spentNano: 0,
        reservedNano: 9 * CENT,
      });
      expect(await store.reserve('k', limit, CENT, T0)).toMatchObject({ ok: true, reservedNano: limit });
      expect(await store.reserve('k', limit, 1, T0)).toEqual({
        ok: false,
        spentNano: 0,
        reservedNano: limit,
      });
      // A first reservation above the limit creates nothing.
      expect(await store.reserve('new', CENT, CENT + 1, T0)).toEqual({
        ok: false,
        spentNano: 0,
        reservedNano: 0,
      });
      expect(await store.budgetUsage('new')).toEqual({ spentNano: 0, reservedNano: 0 });
      await expect(store.reserve('k', limit, -1, T0)).rejects.toThrow(RangeError);
      await expect(store.reserve('k', limit, 0.5, T0)).rejects.toThrow(RangeError);
      await expect(store.settle('x', -3)).rejects.toThrow(RangeError);
    });

    it('settles and releases once each, from any connection', async () => {
      const { store, another } = await fresh();
      const other = await another();
      const a = reservedId(await store.reserve('k', DOLLAR, 60 * CENT, T0));
      const b = reservedId(await store.reserve('k', DOLLAR, 10 * CENT, T0));
      expect(await other.reserve('k', DOLLAR, 31 * CENT, T0)).toMatchObject({
        ok: false,
        reservedNano: 70 * CENT,
      });
      expect(await other.settle(a, 21_500_000)).toBe(true); // it cost $0.0215: the rest is free again
      expect(await store.settle(a, 21_500_000)).toBe(false);
      expect(await store.release(a)).toBe(false);
      expect(await store.budgetUsage('k')).toEqual({ spentNano: 21_500_000, reservedNano: 10 * CENT });
      expect(await store.release(b)).toBe(true);
      expect(await other.release(b)).toBe(false);
      expect(await other.settle(b, CENT)).toBe(false);
      expect(await other.budgetUsage('k')).toEqual({ spentNano: 21_500_000, reservedNano: 0 });
      expect(await store.release('no-such-reservation')).toBe(false);
      // The actual cost may pass the estimate (the one-call overspend); then everything is refused.
      await store.settle(reservedId(await store.reserve('k', DOLLAR, 70 * CENT, T0)), 100 * CENT);
      expect(await store.reserve('k', DOLLAR, 0, T0)).toEqual({
        ok: false,
        spentNano: 1_021_500_000, // $0.0215 + $1.00
        reservedNano: 0,
      });
    });

    it('releases a reservation at its TTL on the next reserve; a late settle still charges, once', async () => {
      const { store, another } = await fresh();
      const TTL = DEFAULT_RESERVATION_TTL_MS;
      const crashed = reservedId(await store.reserve('k', DOLLAR, DOLLAR, T0));
      reservedId(await store.reserve('other', DOLLAR, 20 * CENT, T0 + 1));
      // One ms before the TTL the reservation still holds the whole dollar.
      expect(await store.reserve('k', DOLLAR, CENT, T0 + TTL - 1)).toEqual({
        ok: false,
        spentNano: 0,
        reservedNano: DOLLAR,
      });
      // At the TTL it is released (by another connection's reserve): only the new one is held.
      const other = await another();
      expect(await other.reserve('k', DOLLAR, 30 * CENT, T0 + TTL)).toMatchObject({
        ok: true,
        reservedNano: 30 * CENT,
      });
      expect(await store.budgetUsage('other')).toEqual({ spentNano: 0, reservedNano: 20 * CENT });
      // A reserve on any key sweeps every key.
      reservedId(await store.reserve('third', DOLLAR, CENT, T0 + TTL + 1));
      expect(await store.budgetUsage('other')).toEqual({ spentNano: 0, reservedNano: 0 });
      // The slow call finishes after all: its cost counts, the released amount is not taken twice.
      expect(await store.settle(crashed, 45 * CENT)).toBe(true);
      expect(await store.budgetUsage('k')).toEqual({ spentNano: 45 * CENT, reservedNano: 30 * CENT });
      expect(await other.settle(crashed, 45 * CENT)).toBe(false);
      expect(await store.budgetUsage('k')).toEqual({ spentNano: 45 * CENT, reservedNano: 30 * CENT });
    });

    it('accepts exactly 33 of 200 concurrent $0.03 reservations against $1 from two processes', async () => {
      const f = await fresh();
      const reports = await raceInChildren(f, 'tenant:acme', 100);
      // The two processes really ran at the same time: each one's first answer came before the other's last.
      expect(Math.max(...reports.map((m) => m.firstMs!))).toBeLessThan(
        Math.min(...reports.map((m) => m.lastMs!)),
      );
      const results = reports.flatMap((m) => m.results ?? []);
      expect(results).toHaveLength(200);
      const accepted = results.filter((r) => r.ok);
      expect(accepted).toHaveLength(33); // 33 × $0.03 = $0.99; a 34th would make $1.02
      expect(reports.every((m) => m.results!.some((r) => r.ok))).toBe(true);
      for (const r of results) expect(r.spentNano + r.reservedNano).toBeLessThanOrEqual(DOLLAR);
      expect(await f.store.budgetUsage('tenant:acme')).toEqual({ spentNano: 0, reservedNano: 33 * 3 * CENT });
      // Every reservation the children took is known here, and releases once.
      const ids = accepted.map((r) => (r.ok ? r.reservationId : ''));
      expect(new Set(ids).size).toBe(33);
      expect(await Promise.all(ids.map((id) => f.store.release(id)))).toEqual(ids.map(() => true));
      expect(await f.store.release(ids[0]!)).toBe(false);
      expect(await f.store.budgetUsage('tenant:acme')).toEqual({ spentNano: 0, reservedNano: 0 });
    });
  });

  describe('alerts', () => {
    it('are claimed by exactly one of two connections, until unclaimed', async () => {
      const { store, another } = await fresh();
      const other = await another();
      const key = JSON.stringify(['budget:acme', 80]);
      const claims = await Promise.all([store, other, store, other].map((s) => s.claimAlert(key, T0)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await other.claimAlert(key, T0 + 1)).toBe(false);
      await store.unclaimAlert(key);
      await store.unclaimAlert('never-claimed');
      expect(await other.claimAlert(key, T0 + 2)).toBe(true);
      expect(await store.claimAlert(key, T0 + 3)).toBe(false);
      await expect(store.claimAlert('x', Number.NaN)).rejects.toThrow(RangeError);
    });
  });

  describe('gateway keys', () => {
    const key = (
      id: string,
      tenant: string,
      createdMs: number,
      extra: Partial<GatewayKey> = {},
    ): GatewayKey => ({
      id,
      tenant,
      hash: `sha256-of-${id}`.padEnd(64, '0'),
      createdMs,
      ...extra,
    });

    it('are found by hash, listed by tenant and revoked once', async () => {
      const { store, another } = await fresh();
      const k1 = key('k1', 'acme', T0, { label: 'ci', budget: { limitUsd: 5, window: '1d' } });
      const k2 = key('k2', 'globex', T0 + 1);
      const k3 = key('k3', 'acme', T0 + 2);
      for (const k of [k3, k1, k2]) await store.putKey(k);
      const other = await another();
      expect(await other.keyByHash(k1.hash)).toEqual(k1);
      expect(await other.keyByHash('unknown')).toBeUndefined();
      expect(await other.listKeys()).toEqual([k1, k2, k3]);
      expect(await other.listKeys('acme')).toEqual([k1, k3]);
      expect(await other.listKeys('nobody')).toEqual([]);
      expect(await other.revokeKey('k1', T0 + 10)).toBe(true);
      expect(await store.revokeKey('k1', T0 + 11)).toBe(false);
      expect(await store.revokeKey('no-such-key', T0)).toBe(false);
      // Revoked keys are still found (the caller checks revokedMs), with the first revocation time.
      expect(await store.keyByHash(k1.hash)).toEqual({ ...k1, revokedMs: T0 + 10 });
      // A hash is one key: a second key with the same hash is refused.
      await expect(store.putKey({ ...k2, id: 'k4' })).rejects.toThrow();
    });
  });

  describe('opening', () => {
    it('migrates once when several processes open a new store at the same time', async () => {
      const { stores, fresh: handle } = await backend.openTogether(4);
      const versions = backend.name === 'postgres' ? PG_MIGRATIONS.length : MIGRATIONS.length;
      expect(await handle.versions()).toEqual(Array.from({ length: versions }, (_, i) => i + 1));
      await stores[0]!.writeEvents(EVENTS.slice(0, 2));
      expect((await stores[3]!.aggregate('day')).totals.events).toBe(2);
      // Opening it again later changes nothing.
      await handle.another();
      expect(await handle.versions()).toHaveLength(versions);
    });
  });
}

describe('SharedLedger on SQLite', () => {
  contract(sqliteBackend);

  it('is located at its file', async () => {
    const path = join(tempDir(), 'ledger.db');
    expect(track(openSqliteShared(path)).location).toBe(path);
  });
});

describe('SharedLedger on PostgreSQL', () => {
  contract(pgBackend);

  it('is located at its URL without the password', async () => {
    const { store } = await pgBackend.fresh();
    const url = new URL(PG_URL);
    expect(store.location).not.toContain(`:${url.password}@`);
    expect(store.location).toContain(`${url.username}@${url.host}${url.pathname}`);
  });

  it('throws rather than round a sum past 2^53 nano-dollars', async () => {
    const { store } = await pgBackend.fresh();
    await store.writeEvents([
      ev('a', { at: '2026-01-18T10:00:00Z', cost: 2 ** 52 }),
      ev('b', { at: '2026-01-18T11:00:00Z', cost: 2 ** 52 }),
    ]);
    await expect(store.aggregate('day')).rejects.toThrow(/not an exact integer/);
  });

  it('keeps each schema apart, and a time zone given as an option', async () => {
    const a = await pgBackend.fresh();
    const b = await pgBackend.fresh();
    await a.store.writeEvents(EVENTS);
    expect((await b.store.aggregate('day')).totals.events).toBe(0);
    const [, , schema] = a.childArgs;
    const kolkata = track(await openPostgresShared(PG_URL, { schema, timeZone: 'Asia/Kolkata' }));
    expect(figures(await kolkata.aggregate('day')).map((g) => g[0])).toEqual([
      '2026-01-18',
      '2026-01-19',
      '2026-02-01',
      '2026-02-02',
    ]);
    await expect(openPostgresShared(PG_URL, { schema, timeZone: 'Mars/Olympus' })).rejects.toThrow(
      /time zone/,
    );
    await expect(openPostgresShared(PG_URL, { schema: 'Bad-Name' })).rejects.toThrow(RangeError);
  });
});
