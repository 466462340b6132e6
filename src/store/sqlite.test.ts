import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import {
  type Aggregate,
  aggregate,
  type EventFilter,
  GROUP_BYS,
  type GroupBy,
  type Tally,
} from '../core/aggregate.js';
import type { Attribution, EventCost, EventOrigin, Problem, UsageEvent } from '../core/event.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { eventParams, eventValues, INSERT_COLUMNS } from './columns.js';
import type { FileState, IngestBatch, LedgerStore, StoredEvent } from './ledger.js';
import { MIGRATIONS, openSqliteLedger } from './sqlite.js';

// vitest.config.ts sets TZ=UTC: SQLite's 'localtime' and JS local dates are UTC dates here.

interface EvSpec {
  id: string;
  ts: string;
  model?: string;
  speed?: string;
  usage?: Partial<UsageBuckets>;
  /** Nano-dollars; `null` = unpriced. Default 0. */
  nano?: number | null;
  estimated?: boolean;
  note?: string;
  source?: UsageEvent['source'];
  attribution?: Attribution;
}

function ev(s: EvSpec): UsageEvent {
  const cost: EventCost = {
    nanoUsd: s.nano === undefined ? 0 : s.nano,
    priceSource: 'test-prices',
    estimated: s.estimated ?? false,
  };
  if (s.note) cost.note = s.note;
  const e: UsageEvent = {
    id: s.id,
    ts: Date.parse(s.ts),
    source: s.source ?? 'claude-code',
    provider: 'anthropic',
    model: s.model ?? 'claude-sonnet-4-5',
    usage: { ...emptyUsage(), ...s.usage },
    cost,
    attribution: s.attribution ?? {},
  };
  if (s.speed) e.speed = s.speed;
  return e;
}

const ORIGIN: EventOrigin = { rank: 2, firstTs: 1_000, file: 'logs/main.jsonl', line: 1 };

function stored(e: UsageEvent, origin: Partial<EventOrigin> = {}): StoredEvent {
  return { event: e, origin: { ...ORIGIN, ...origin } };
}

function batch(p: Partial<IngestBatch>): IngestBatch {
  return { events: [], files: [], resetProblemsFor: [], problems: [], links: [], ...p };
}

/** Tallies compared with their unpriced-model lists sorted (SQL and JS list them in different orders). */
function norm(a: Aggregate): Aggregate {
  const t = (x: Tally): Tally => ({ ...x, unpricedModels: [...x.unpricedModels].sort() });
  return { totals: t(a.totals), groups: a.groups.map(t) };
}

let dir: string;
let ledger: LedgerStore;
let dbPath: string;

beforeEach(() => {
  dir = tempDir('tokenledger-sqlite-');
  dbPath = join(dir, 'nested', 'ledger.db');
  ledger = openSqliteLedger(dbPath);
});

afterEach(() => {
  ledger.close();
  removeTempDirs();
});

// Six events across two years, five ISO weeks and four months, with missing attribution fields, a
// fast-mode model, two unpriced models, an estimate, reasoning tokens, web searches and tags.
// Weekdays: 2026-01-01 is a Thursday, so 2025-12-28 is a Sunday, 2025-12-29 a Monday, 2026-01-31 a
// Saturday, 2026-02-01 a Sunday, and (Jan 31 + Feb 28 days later) 2026-03-01 a Sunday, 03-02 a Monday.
const SIX: UsageEvent[] = [
  ev({
    id: 'e1',
    ts: '2025-12-28T23:30:00.000Z', // Sunday → week of Monday 2025-12-22
    usage: {
      inputTokens: 100,
      outputTokens: 10,
      cacheReadTokens: 1000,
      cacheWrite5mTokens: 200,
      cacheWrite1hTokens: 50,
    },
    nano: 1_000_000,
    attribution: { project: 'alpha', session: 's1', agentName: 'main', agentPath: 'main' },
  }),
  ev({
    id: 'e2',
    ts: '2025-12-29T00:10:00.000Z', // Monday → week 2025-12-29
    model: 'claude-opus-4-6',
    speed: 'fast',
    usage: { inputTokens: 200, outputTokens: 20 },
    nano: 5_000_000,
    estimated: true,
    note: 'fast mode priced at standard rates',
    attribution: {
      project: 'alpha',
      session: 's1',
      agentName: 'Explore',
      agentType: 'Explore',
      agentId: 'ag1',
    },
  }),
  ev({
    id: 'e3',
    ts: '2026-01-01T12:00:00.000Z', // Thursday → week 2025-12-29, month 2026-01
    model: 'mystery-model',
    usage: { inputTokens: 300, outputTokens: 30 },
    nano: null,
    attribution: { project: 'beta', session: 's2' }, // no agent name
  }),
  ev({
    id: 'e4',
    ts: '2026-01-31T23:59:59.999Z', // Saturday → week 2026-01-26, last ms of January
    usage: { inputTokens: 400, outputTokens: 40 },
    nano: 2_000_000,
    attribution: { agentName: 'main' }, // no project, no session
  }),
  ev({
    id: 'e5',
    ts: '2026-02-01T00:00:00.000Z', // Sunday → week 2026-01-26, first ms of February
    model: 'other-unpriced',
    usage: { inputTokens: 500, outputTokens: 50 },
    nano: null,
    attribution: { project: 'beta', session: 's2', agentName: 'Plan' },
  }),
  ev({
    id: 'e6',
    ts: '2026-03-02T08:00:00.000Z', // Monday → week 2026-03-02
    model: 'claude-opus-4-6',
    usage: { inputTokens: 600, outputTokens: 60, reasoningTokens: 6, webSearchRequests: 2 },
    nano: 7_000_000,
    attribution: { project: 'alpha', session: 's3', agentName: 'main', tags: { team: 'x' } },
  }),
];

describe('commit', () => {
  it('inserts new events and reads them back exactly as given', () => {
    const stats = ledger.commit(batch({ events: SIX.map((e) => stored(e)) }));
    expect(stats).toEqual({ inserted: 6, updated: 0, unchanged: 0 });
    // events() orders by ts then id; SIX is already in ts order.
    expect(ledger.events()).toEqual(SIX);
  });

  it('is idempotent: re-committing the same events inserts 0 and changes no total', () => {
    ledger.commit(batch({ events: SIX.map((e) => stored(e)) }));
    const before = ledger.aggregate('day');
    const generation = ledger.generation();
    const again = ledger.commit(batch({ events: SIX.map((e) => stored(e)) }));
    expect(again).toEqual({ inserted: 0, updated: 0, unchanged: 6 });
    expect(ledger.aggregate('day')).toEqual(before);
    // 2100 input tokens = 100+200+300+400+500+600; 15M nano = 1M+5M+2M+7M (e3, e5 unpriced)
    expect(before.totals.events).toBe(6);
    expect(before.totals.usage.inputTokens).toBe(2100);
    expect(before.totals.costNano).toBe(15_000_000);
    expect(ledger.generation()).toBe(generation);
  });

  it('keeps the largest streamed snapshot: a larger one updates usage and cost, a smaller one does not', () => {
    const snap = (output: number, input: number, nano: number) =>
      stored(
        ev({
          id: 'cc:msg_1|req_1',
          ts: '2026-01-05T10:00:00Z',
          usage: { inputTokens: input, outputTokens: output },
          nano,
        }),
      );
    expect(ledger.commit(batch({ events: [snap(25, 100, 675_000)] }))).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    // output 25 → 250: larger
    expect(ledger.commit(batch({ events: [snap(250, 100, 4_050_000)] }))).toEqual({
      inserted: 0,
      updated: 1,
      unchanged: 0,
    });
    let [e] = ledger.events();
    expect(e?.usage.outputTokens).toBe(250);
    expect(e?.cost.nanoUsd).toBe(4_050_000);
    // output 100 < 250: an earlier snapshot arriving late changes nothing
    expect(ledger.commit(batch({ events: [snap(100, 100, 1_800_000)] }))).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 1,
    });
    [e] = ledger.events();
    expect(e?.usage.outputTokens).toBe(250);
    expect(e?.cost.nanoUsd).toBe(4_050_000);
    // same output, more input (100 → 150): larger
    expect(ledger.commit(batch({ events: [snap(250, 150, 4_200_000)] })).updated).toBe(1);
    // same output, less input (150 → 120): not larger
    expect(ledger.commit(batch({ events: [snap(250, 120, 4_110_000)] })).unchanged).toBe(1);
    [e] = ledger.events();
    expect(e?.usage).toEqual({ ...emptyUsage(), inputTokens: 150, outputTokens: 250 });
    expect(e?.cost.nanoUsd).toBe(4_200_000);
    expect(ledger.aggregate('day').totals.events).toBe(1);
  });

  it('takes attribution from the best-ranked copy, whatever order the copies arrive in', () => {
    const id = 'cc:msg_sub|req_sub';
    // A parent's progress echo (rank 3) arrives first: agent unknown.
    const echo = stored(
      ev({
        id,
        ts: '2026-01-05T10:00:01Z',
        usage: { inputTokens: 20, outputTokens: 2 },
        attribution: { session: 's', agentName: 'subagent', agentPath: 'main/?' },
      }),
      { rank: 3, file: 'logs/s.jsonl', line: 7 },
    );
    // The sub-agent's own file (rank 0) knows the agent; its usage is the same (not larger).
    const own = stored(
      ev({
        id,
        ts: '2026-01-05T10:00:00Z',
        usage: { inputTokens: 20, outputTokens: 2 },
        attribution: {
          session: 's',
          agentName: 'Explore',
          agentType: 'Explore',
          agentId: 'ag1',
          agentPath: 'main/ag1',
          tags: { via: 'file' },
        },
      }),
      { rank: 0, file: 'logs/s/subagents/agent-ag1.jsonl', line: 1 },
    );
    // A main-thread copy (rank 2) after that is worse than rank 0.
    const mainCopy = stored(
      ev({
        id,
        ts: '2026-01-05T10:00:02Z',
        usage: { inputTokens: 20, outputTokens: 2 },
        attribution: { session: 's', agentName: 'main', agentPath: 'main' },
      }),
      { rank: 2, file: 'logs/a.jsonl', line: 1 },
    );
    ledger.commit(batch({ events: [echo] }));
    expect(ledger.commit(batch({ events: [own] }))).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(ledger.commit(batch({ events: [mainCopy] }))).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
    const [e] = ledger.events();
    expect(e?.attribution).toEqual(own.event.attribution);
    expect(e?.ts).toBe(Date.parse('2026-01-05T10:00:00Z')); // the attributed copy's time
    expect(ledger.aggregate('agent').groups.map((g) => [g.key, g.events])).toEqual([['Explore', 1]]);
  });

  it('breaks attribution ties by session start, then file, then line', () => {
    const id = 'cc:tie';
    const copy = (agentName: string, origin: Partial<EventOrigin>) =>
      stored(ev({ id, ts: '2026-01-05T10:00:00Z', attribution: { agentName } }), origin);
    const agentName = () => ledger.events()[0]?.attribution.agentName;
    ledger.commit(
      batch({ events: [copy('first', { rank: 1, firstTs: 2_000, file: 'logs/m.jsonl', line: 5 })] }),
    );
    // null firstTs (unknown start) sorts after any known start: worse
    expect(ledger.commit(batch({ events: [copy('nullStart', { rank: 1, firstTs: null })] })).unchanged).toBe(
      1,
    );
    // later session start (3000 > 2000): worse
    expect(ledger.commit(batch({ events: [copy('later', { rank: 1, firstTs: 3_000 })] })).unchanged).toBe(1);
    expect(agentName()).toBe('first');
    // earlier session start (1500 < 2000): better, even from a later file name
    expect(
      ledger.commit(
        batch({ events: [copy('earlier', { rank: 1, firstTs: 1_500, file: 'logs/z.jsonl', line: 9 })] }),
      ).updated,
    ).toBe(1);
    expect(agentName()).toBe('earlier');
    // same start, file 'logs/a…' < 'logs/z…': better
    expect(
      ledger.commit(
        batch({ events: [copy('fileA', { rank: 1, firstTs: 1_500, file: 'logs/a.jsonl', line: 9 })] }),
      ).updated,
    ).toBe(1);
    // same start and file, line 3 < 9: better; then line 4 > 3: worse
    expect(
      ledger.commit(
        batch({ events: [copy('line3', { rank: 1, firstTs: 1_500, file: 'logs/a.jsonl', line: 3 })] }),
      ).updated,
    ).toBe(1);
    expect(
      ledger.commit(
        batch({ events: [copy('line4', { rank: 1, firstTs: 1_500, file: 'logs/a.jsonl', line: 4 })] }),
      ).unchanged,
    ).toBe(1);
    expect(agentName()).toBe('line3');
    // a better rank wins over everything else
    expect(
      ledger.commit(
        batch({ events: [copy('rank0', { rank: 0, firstTs: null, file: 'logs/zz.jsonl', line: 99 })] }),
      ).updated,
    ).toBe(1);
    expect(agentName()).toBe('rank0');
  });

  it('updates usage and attribution independently (larger snapshot from a worse copy)', () => {
    const id = 'cc:indep';
    const best = stored(
      ev({
        id,
        ts: '2026-01-05T10:00:00Z',
        usage: { outputTokens: 10 },
        attribution: { agentName: 'Explore' },
      }),
      { rank: 0 },
    );
    const biggerButWorse = stored(
      ev({
        id,
        ts: '2026-01-05T10:00:09Z',
        usage: { outputTokens: 90 },
        nano: 9,
        attribution: { agentName: 'main' },
      }),
      { rank: 3 },
    );
    ledger.commit(batch({ events: [best] }));
    expect(ledger.commit(batch({ events: [biggerButWorse] })).updated).toBe(1);
    const [e] = ledger.events();
    expect(e?.usage.outputTokens).toBe(90);
    expect(e?.cost.nanoUsd).toBe(9);
    expect(e?.attribution).toEqual({ agentName: 'Explore' });
    expect(e?.ts).toBe(Date.parse('2026-01-05T10:00:00Z'));
  });
});

describe('aggregate in SQL equals core aggregate() in memory', () => {
  beforeEach(() => {
    ledger.commit(batch({ events: SIX.map((e) => stored(e)) }));
  });

  const filters: [string, EventFilter][] = [
    ['no filter', {}],
    ['since/until across a year end', { since: '2025-12-29', until: '2026-01-31' }],
    ['project', { project: 'alpha' }],
    ['since only', { since: '2026-02-01' }],
    ['until only', { until: '2025-12-28' }],
    ['project + since', { project: 'beta', since: '2026-01-02' }],
    ['nothing matches', { since: '2027-01-01' }],
  ];
  for (const by of GROUP_BYS) {
    for (const [name, filter] of filters) {
      it(`by ${by}, ${name}`, () => {
        expect(norm(ledger.aggregate(by, filter))).toEqual(norm(aggregate(SIX, by, filter)));
      });
    }
  }

  const keys = (by: GroupBy, f: EventFilter = {}) =>
    ledger.aggregate(by, f).groups.map((g) => [g.key, g.events, g.costNano, g.unpricedEvents]);

  it('groups into the hand-computed keys', () => {
    // [key, events, cost nano, unpriced events]
    expect(keys('day')).toEqual([
      ['2025-12-28', 1, 1_000_000, 0],
      ['2025-12-29', 1, 5_000_000, 0],
      ['2026-01-01', 1, 0, 1],
      ['2026-01-31', 1, 2_000_000, 0],
      ['2026-02-01', 1, 0, 1],
      ['2026-03-02', 1, 7_000_000, 0],
    ]);
    expect(keys('week')).toEqual([
      ['2025-12-22', 1, 1_000_000, 0], // e1 (Sunday)
      ['2025-12-29', 2, 5_000_000, 1], // e2 (Mon) + e3 (Thu, unpriced)
      ['2026-01-26', 2, 2_000_000, 1], // e4 (Sat) + e5 (Sun, unpriced)
      ['2026-03-02', 1, 7_000_000, 0], // e6
    ]);
    expect(keys('month')).toEqual([
      ['2025-12', 2, 6_000_000, 0], // e1 + e2
      ['2026-01', 2, 2_000_000, 1], // e3 + e4
      ['2026-02', 1, 0, 1], // e5
      ['2026-03', 1, 7_000_000, 0], // e6
    ]);
    // by cost desc, then events desc, then key: 7M, 5M, 3M (e1+e4), then the two unpriced by name
    expect(keys('model')).toEqual([
      ['claude-opus-4-6', 1, 7_000_000, 0],
      ['claude-opus-4-6 (fast)', 1, 5_000_000, 0],
      ['claude-sonnet-4-5', 2, 3_000_000, 0],
      ['mystery-model', 1, 0, 1],
      ['other-unpriced', 1, 0, 1],
    ]);
    // main = e1+e4+e6 = 10M; '(unknown)' sorts before 'Plan' ('(' < 'P')
    expect(keys('agent')).toEqual([
      ['main', 3, 10_000_000, 0],
      ['Explore', 1, 5_000_000, 0],
      ['(unknown)', 1, 0, 1],
      ['Plan', 1, 0, 1],
    ]);
    // alpha = e1+e2+e6 = 13M; (unknown) = e4 = 2M; beta = e3+e5 = 0 (2 unpriced)
    expect(keys('project')).toEqual([
      ['alpha', 3, 13_000_000, 0],
      ['(unknown)', 1, 2_000_000, 0],
      ['beta', 2, 0, 2],
    ]);
    expect(keys('session')).toEqual([
      ['s3', 1, 7_000_000, 0],
      ['s1', 2, 6_000_000, 0],
      ['(unknown)', 1, 2_000_000, 0],
      ['s2', 2, 0, 2],
    ]);
    // since 2025-12-29 until 2026-01-31 keeps e2, e3, e4 (e4 is at 23:59:59.999 on the 31st)
    expect(keys('month', { since: '2025-12-29', until: '2026-01-31' })).toEqual([
      ['2025-12', 1, 5_000_000, 0],
      ['2026-01', 2, 2_000_000, 1],
    ]);
  });

  it('totals every bucket and lists the unpriced models, never counting them as $0 in a group', () => {
    const t = ledger.aggregate('model').totals;
    expect(t.events).toBe(6);
    expect(t.usage).toEqual({
      ...emptyUsage(),
      inputTokens: 2100, // 100+200+300+400+500+600
      outputTokens: 210, // 10+20+30+40+50+60
      cacheReadTokens: 1000,
      cacheWrite5mTokens: 200,
      cacheWrite1hTokens: 50,
      reasoningTokens: 6,
      webSearchRequests: 2,
    });
    expect(t.costNano).toBe(15_000_000);
    expect(t.unpricedEvents).toBe(2);
    expect([...t.unpricedModels].sort()).toEqual(['mystery-model', 'other-unpriced']);
    expect(t.estimatedEvents).toBe(1);
    expect(t.firstTs).toBe(Date.parse('2025-12-28T23:30:00.000Z'));
    expect(t.lastTs).toBe(Date.parse('2026-03-02T08:00:00.000Z'));
    const weekOfE2 = ledger.aggregate('week').groups.find((g) => g.key === '2025-12-29');
    expect(weekOfE2?.unpricedModels).toEqual(['mystery-model']);
  });

  it('filters events() by session and by file prefix', () => {
    expect(
      ledger
        .events({ session: 's2' })
        .map((e) => e.id)
        .sort(),
    ).toEqual(['e3', 'e5']);
    expect(ledger.events({ under: ['logs/'] }).length).toBe(6);
    expect(ledger.events({ under: ['elsewhere/'] })).toEqual([]);
  });
});

describe('aggregate property: SQL and memory agree on random events', () => {
  const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-6', 'x-unpriced', 'y-unpriced'];
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const tsArb = fc.integer({ min: Date.UTC(2024, 11, 20), max: Date.UTC(2026, 2, 10) });
  const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const eventArb = fc.record({
    ts: tsArb,
    model: fc.constantFrom(...MODELS),
    fast: fc.boolean(),
    input: fc.nat(100_000),
    output: fc.nat(10_000),
    cacheRead: fc.nat(100_000),
    nano: fc.nat(50_000_000),
    estimated: fc.boolean(),
    project: maybe(fc.constantFrom('p1', 'p2')),
    session: maybe(fc.constantFrom('s1', 's2', 's3')),
    agentName: maybe(fc.constantFrom('main', 'Explore')),
  });
  const filterArb = fc.record({
    since: maybe(tsArb.map(day)),
    until: maybe(tsArb.map(day)),
    project: maybe(fc.constantFrom('p1', 'p2')),
  });

  it('for every GroupBy and filter', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 30 }), filterArb, (specs, rawFilter) => {
        const events = specs.map((s, i) => {
          const attribution: Attribution = {};
          if (s.project) attribution.project = s.project;
          if (s.session) attribution.session = s.session;
          if (s.agentName) attribution.agentName = s.agentName;
          const e = ev({
            id: `p${i}`,
            ts: new Date(s.ts).toISOString(),
            model: s.model,
            usage: { inputTokens: s.input, outputTokens: s.output, cacheReadTokens: s.cacheRead },
            nano: s.model.endsWith('unpriced') ? null : s.nano,
            estimated: s.estimated,
            attribution,
          });
          if (s.fast) e.speed = 'fast';
          return e;
        });
        const filter: EventFilter = {};
        if (rawFilter.since) filter.since = rawFilter.since;
        if (rawFilter.until) filter.until = rawFilter.until;
        if (rawFilter.project) filter.project = rawFilter.project;
        const l = openSqliteLedger(join(dir, `property-${run++}.db`));
        try {
          l.commit(batch({ events: events.map((e) => stored(e)) }));
          for (const by of GROUP_BYS)
            expect(norm(l.aggregate(by, filter))).toEqual(norm(aggregate(events, by, filter)));
        } finally {
          l.close();
        }
      }),
      { numRuns: 40, seed: 20260105 },
    );
  });
});

describe('problems', () => {
  const p = (file: string, line: number, reason: string): Problem => ({ file, line, reason });

  it('are stored, listed by file and line, and replaced per file when that file is re-read', () => {
    ledger.commit(
      batch({
        problems: [p('logs/b.jsonl', 1, 'z'), p('logs/a.jsonl', 5, 'y'), p('logs/a.jsonl', 2, 'x')],
      }),
    );
    expect(ledger.problems()).toEqual([
      p('logs/a.jsonl', 2, 'x'),
      p('logs/a.jsonl', 5, 'y'),
      p('logs/b.jsonl', 1, 'z'),
    ]);
    // a.jsonl read again from the start: its old problems go, b's stay
    ledger.commit(batch({ resetProblemsFor: ['logs/a.jsonl'], problems: [p('logs/a.jsonl', 9, 'w')] }));
    expect(ledger.problems()).toEqual([p('logs/a.jsonl', 9, 'w'), p('logs/b.jsonl', 1, 'z')]);
    // an incremental read (no reset) adds to them
    ledger.commit(batch({ problems: [p('logs/b.jsonl', 7, 'v')] }));
    expect(ledger.problems()).toEqual([
      p('logs/a.jsonl', 9, 'w'),
      p('logs/b.jsonl', 1, 'z'),
      p('logs/b.jsonl', 7, 'v'),
    ]);
    expect(ledger.problems(['logs/b.jsonl'])).toEqual([p('logs/b.jsonl', 1, 'z'), p('logs/b.jsonl', 7, 'v')]);
    // a path filter is a folder or a file, never a bare name prefix: 'logs/b' holds nothing
    expect(ledger.problems(['logs/b'])).toEqual([]);
    expect(ledger.problems(['logs'])).toHaveLength(3);
    // re-read clean: none left for a.jsonl
    ledger.commit(batch({ resetProblemsFor: ['logs/a.jsonl'] }));
    expect(ledger.problems(['logs/a.jsonl'])).toEqual([]);
    expect(ledger.problems(['logs'])).toHaveLength(2);
  });

  it('survive closing and reopening the file', () => {
    ledger.commit(batch({ problems: [p('logs/a.jsonl', 3, 'malformed')] }));
    ledger.close();
    ledger = openSqliteLedger(dbPath);
    expect(ledger.problems()).toEqual([p('logs/a.jsonl', 3, 'malformed')]);
  });
});

describe('links', () => {
  it('are stored per kind and key; a later record for the same key replaces the earlier one', () => {
    ledger.commit(
      batch({
        links: [
          { kind: 'claude-spawn', key: 'toolu_1', data: { toolUseId: 'toolu_1', agentType: 'Explore' } },
          { kind: 'claude-spawn', key: 'toolu_2', data: { toolUseId: 'toolu_2' } },
          { kind: 'claude-result', key: 'toolu_1', data: 'ag1' },
        ],
      }),
    );
    ledger.commit(
      batch({
        links: [{ kind: 'claude-spawn', key: 'toolu_2', data: { toolUseId: 'toolu_2', agentType: 'Plan' } }],
      }),
    );
    const spawns = ledger.links('claude-spawn').sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(spawns).toEqual([
      { kind: 'claude-spawn', key: 'toolu_1', data: { toolUseId: 'toolu_1', agentType: 'Explore' } },
      { kind: 'claude-spawn', key: 'toolu_2', data: { toolUseId: 'toolu_2', agentType: 'Plan' } },
    ]);
    expect(ledger.links('claude-result')).toEqual([{ kind: 'claude-result', key: 'toolu_1', data: 'ag1' }]);
    expect(ledger.links('claude-meta')).toEqual([]);
  });
});

describe('updateAgent', () => {
  it('sets the agent fields on every event of that agent id, and only those', () => {
    const sub = (id: string, agentId: string) =>
      ev({
        id,
        ts: '2026-01-05T10:00:00Z',
        attribution: { session: 's', agentId, agentName: 'subagent', agentPath: `main/${agentId}` },
      });
    ledger.commit(
      batch({
        events: [
          stored(sub('a', 'ag1')),
          stored(sub('b', 'ag1')),
          stored(sub('c', 'ag2')),
          stored(
            ev({
              id: 'd',
              ts: '2026-01-05T10:00:00Z',
              attribution: { agentName: 'main', agentPath: 'main' },
            }),
          ),
        ],
      }),
    );
    expect(ledger.unresolvedAgents().sort()).toEqual(['ag1', 'ag2']);
    const g0 = ledger.generation();
    const changed = ledger.updateAgent('ag1', {
      agentName: 'Explore',
      agentType: 'Explore',
      agentDescription: 'Find the config',
      agentPath: 'main/ag1',
    });
    expect(changed).toBe(2);
    expect(ledger.generation()).toBe(g0 + 1);
    expect(ledger.unresolvedAgents()).toEqual(['ag2']);
    const byId = new Map(ledger.events().map((e) => [e.id, e.attribution]));
    expect(byId.get('a')).toEqual({
      session: 's',
      agentId: 'ag1',
      agentName: 'Explore',
      agentType: 'Explore',
      agentDescription: 'Find the config',
      agentPath: 'main/ag1',
    });
    expect(byId.get('b')?.agentType).toBe('Explore');
    expect(byId.get('c')).toEqual({
      session: 's',
      agentId: 'ag2',
      agentName: 'subagent',
      agentPath: 'main/ag2',
    });
    expect(byId.get('d')).toEqual({ agentName: 'main', agentPath: 'main' });
    expect(ledger.aggregate('agent').groups.map((g) => [g.key, g.events])).toEqual([
      ['Explore', 2],
      ['main', 1],
      ['subagent', 1],
    ]);
    // no event of that agent: nothing changes, generation stays
    expect(ledger.updateAgent('nobody', { agentName: 'X', agentType: 'X' })).toBe(0);
    expect(ledger.generation()).toBe(g0 + 1);
  });
});

describe('generation', () => {
  it('increases on every change and not on a no-op', () => {
    expect(ledger.generation()).toBe(0); // fresh ledger
    const e = ev({
      id: 'g1',
      ts: '2026-01-05T10:00:00Z',
      usage: { outputTokens: 5 },
      nano: 100,
      attribution: { agentId: 'ag' },
    });
    ledger.commit(batch({ events: [stored(e)] })); // insert
    expect(ledger.generation()).toBe(1);
    ledger.commit(batch({ events: [stored(e)] })); // same again: no-op
    expect(ledger.generation()).toBe(1);
    ledger.commit(batch({ events: [stored({ ...e, usage: { ...e.usage, outputTokens: 6 } })] })); // larger snapshot
    expect(ledger.generation()).toBe(2);
    ledger.commit(batch({ events: [stored(e, { rank: 0 })] })); // better origin (rank 0 < 2)
    expect(ledger.generation()).toBe(3);
    ledger.commit(batch({ problems: [{ file: 'logs/a.jsonl', line: 1, reason: 'bad' }] }));
    expect(ledger.generation()).toBe(4);
    ledger.updateAgent('ag', { agentName: 'Explore', agentType: 'Explore' });
    expect(ledger.generation()).toBe(5);
    ledger.setMeta('some-key', 'v'); // metadata is not data
    expect(ledger.generation()).toBe(5);
    expect(ledger.reprice(() => ({ nanoUsd: 200, priceSource: 'new', estimated: false }))).toBe(1);
    expect(ledger.generation()).toBe(6);
    expect(ledger.reprice(() => ({ nanoUsd: 200, priceSource: 'new', estimated: false }))).toBe(0);
    expect(ledger.generation()).toBe(6);
    ledger.commit(batch({})); // empty batch
    expect(ledger.generation()).toBe(6);
  });

  it('drops cached reports when it moves on (they can never be served again)', () => {
    ledger.setMeta('report-cache:["day"]', '0\n{}');
    ledger.setMeta('other', 'kept');
    ledger.commit(batch({}));
    expect(ledger.getMeta('report-cache:["day"]')).toBe('0\n{}'); // no change, no bump: still there
    ledger.commit(batch({ problems: [{ file: 'logs/a.jsonl', line: 1, reason: 'bad' }] }));
    expect(ledger.getMeta('report-cache:["day"]')).toBeUndefined();
    expect(ledger.getMeta('other')).toBe('kept');
  });
});

describe('reprice', () => {
  it('re-prices every stored event the callback prices, keeps the rest, and reports how many changed', () => {
    ledger.commit(
      batch({
        events: [
          stored(ev({ id: 'r1', ts: '2026-01-05T10:00:00Z', usage: { inputTokens: 100 }, nano: 500 })),
          stored(
            ev({
              id: 'r2',
              ts: '2026-01-05T10:00:00Z',
              model: 'mystery',
              usage: { inputTokens: 7 },
              nano: null,
            }),
          ),
          stored(
            ev({
              id: 'r3',
              ts: '2026-01-05T10:00:00Z',
              source: 'workflow',
              nano: 42,
              estimated: true,
              note: 'blend',
            }),
          ),
        ],
      }),
    );
    // new rates: 10 nano per input token; 'mystery' stays unpriced; workflow estimates are kept (null)
    const price = (e: UsageEvent): EventCost | null => {
      if (e.source !== 'claude-code') return null;
      if (e.model === 'mystery') return { nanoUsd: null, priceSource: 'test-prices', estimated: false };
      return { nanoUsd: e.usage.inputTokens * 10, priceSource: 'override', estimated: false };
    };
    expect(ledger.reprice(price)).toBe(1); // only r1: 500 → 100×10 = 1000
    const costs = new Map(ledger.events().map((e) => [e.id, e.cost]));
    expect(costs.get('r1')).toEqual({ nanoUsd: 1000, priceSource: 'override', estimated: false });
    expect(costs.get('r2')).toEqual({ nanoUsd: null, priceSource: 'test-prices', estimated: false });
    expect(costs.get('r3')).toEqual({
      nanoUsd: 42,
      priceSource: 'test-prices',
      estimated: true,
      note: 'blend',
    });
    const t = ledger.aggregate('day').totals;
    expect(t.costNano).toBe(1042); // 1000 + 42
    expect(t.unpricedModels).toEqual(['mystery']);
    // pricing the unknown model later moves it out of the unpriced list: 7 × 10 = 70
    const withMystery = (e: UsageEvent): EventCost | null =>
      e.source === 'claude-code'
        ? { nanoUsd: e.usage.inputTokens * 10, priceSource: 'override', estimated: false }
        : null;
    expect(ledger.reprice(withMystery)).toBe(1);
    const t2 = ledger.aggregate('day').totals;
    expect(t2.costNano).toBe(1112); // 1000 + 70 + 42
    expect(t2.unpricedEvents).toBe(0);
    expect(t2.unpricedModels).toEqual([]);
  });
});

describe('the SQLite file', () => {
  it('is in WAL mode, created with its folder, and keeps data and file states across reopen', () => {
    const files: FileState[] = [
      {
        path: 'logs/a.jsonl',
        size: 1234,
        mtimeMs: 1_767_000_000_123.456,
        identity: '2049:77',
        headHash: '512:abc',
        offset: 1200,
        lines: 9,
        firstTs: null,
      },
    ];
    ledger.commit(batch({ events: SIX.map((e) => stored(e)), files }));
    expect(existsSync(`${dbPath}-wal`)).toBe(true);
    const raw = new Database(dbPath, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect((raw.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(6);
    } finally {
      raw.close();
    }
    ledger.close();
    ledger = openSqliteLedger(dbPath);
    expect(ledger.fileStates()).toEqual(new Map([['logs/a.jsonl', files[0]]]));
    expect(ledger.events()).toEqual(SIX);
    // a later state of the same file replaces the stored one
    const grown = { ...files[0]!, size: 2000, offset: 1990, lines: 15, firstTs: 1_767_000_000_000 };
    ledger.commit(batch({ files: [grown] }));
    expect(ledger.fileStates().get('logs/a.jsonl')).toEqual(grown);
  });

  it('serves reports read-only while another connection holds it open for writing', () => {
    ledger.commit(batch({ events: SIX.map((e) => stored(e)) }));
    const reader = openSqliteLedger(dbPath, { readonly: true });
    try {
      expect(norm(reader.aggregate('week'))).toEqual(norm(aggregate(SIX, 'week')));
      ledger.commit(
        batch({
          events: [stored(ev({ id: 'late', ts: '2026-03-03T00:00:00Z', usage: { inputTokens: 1 } }))],
        }),
      );
      expect(reader.aggregate('week').totals.events).toBe(7);
    } finally {
      reader.close();
    }
  });
});

describe('events round trip', () => {
  it('sorts by time then id', () => {
    const same = '2026-01-05T10:00:00Z';
    ledger.commit(
      batch({
        events: [
          stored(ev({ id: 'b', ts: same })),
          stored(ev({ id: 'a', ts: same })),
          stored(ev({ id: 'c', ts: '2026-01-04T00:00:00Z' })),
        ],
      }),
    );
    expect(ledger.events().map((e) => e.id)).toEqual(['c', 'a', 'b']);
  });
});

describe('schema migrations', () => {
  it('a version-2 ledger (events WITHOUT ROWID) keeps every event and column through migration 3', () => {
    const file = join(tempDir(), 'v2.db');
    const old = new Database(file);
    old.exec(MIGRATIONS[0]!);
    old.exec(MIGRATIONS[1]!);
    old.pragma('user_version = 2');
    old
      .prepare(
        `INSERT INTO events (id, ts, source, provider, model, input_tokens, cache_read_tokens, cache_write_5m_tokens,
           cache_write_1h_tokens, output_tokens, reasoning_tokens, web_search_requests, cost_nano, price_source,
           estimated, session, run, agent_name, tags, attr_rank, attr_file, attr_line, unsplit_tokens)
         VALUES ('e1', 1700000000000, 'claude-code', 'anthropic', 'claude-sonnet-4-5', 10, 20, 30, 40, 50, 5, 1,
           123456, 'genai-prices@0.1.8', 0, 's1', 'r1', 'main', '{"k":"v"}', 2, '/logs/a.jsonl', 7, 60)`,
      )
      .run();
    old.close();
    const ledger = openSqliteLedger(file);
    const [e] = ledger.events();
    expect(e).toMatchObject({
      id: 'e1',
      ts: 1700000000000,
      model: 'claude-sonnet-4-5',
      usage: {
        inputTokens: 10,
        cacheReadTokens: 20,
        cacheWrite5mTokens: 30,
        cacheWrite1hTokens: 40,
        outputTokens: 50,
        reasoningTokens: 5,
        webSearchRequests: 1,
        unsplitTokens: 60,
      },
      cost: { nanoUsd: 123456, priceSource: 'genai-prices@0.1.8', estimated: false },
      attribution: { session: 's1', run: 'r1', agentName: 'main', tags: { k: 'v' } },
    });
    ledger.close();
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const sql = (raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").get() as { sql: string })
      .sql;
    expect(sql).not.toContain('WITHOUT ROWID');
    const indexes = raw
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL",
      )
      .all();
    expect(indexes.map((r) => (r as { name: string }).name).sort()).toEqual([
      'events_agent_id',
      'events_run',
      'events_session',
      'events_ts',
    ]);
    raw.close();
  });
});

describe('positional insert values', () => {
  it('eventValues gives exactly the named parameters, in INSERT_COLUMNS order', () => {
    const se: StoredEvent = {
      event: {
        id: 'x1',
        ts: 1_700_000_000_123,
        source: 'meter',
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        speed: 'fast',
        usage: {
          inputTokens: 1,
          cacheReadTokens: 2,
          cacheWrite5mTokens: 3,
          cacheWrite1hTokens: 4,
          outputTokens: 5,
          reasoningTokens: 6,
          unsplitTokens: 7,
          webSearchRequests: 8,
        },
        cost: { nanoUsd: 9, priceSource: 'p', estimated: true, note: 'n' },
        attribution: {
          project: 'a',
          session: 'b',
          run: 'c',
          workflow: 'd',
          agentPath: 'e',
          agentName: 'f',
          agentType: 'g',
          agentId: 'h',
          agentDescription: 'i',
          stage: 'j',
          task: 'k',
          user: 'l',
          feature: 'm',
          tags: { t: 'u' },
          status: 'o',
        },
      },
      origin: { rank: 3, firstTs: 10, file: '/f', line: 11 },
    };
    const named = eventParams(se);
    expect(eventValues(se)).toEqual(INSERT_COLUMNS.map((c) => named[c]));
    expect(INSERT_COLUMNS).toHaveLength(Object.keys(named).length);
  });
});
