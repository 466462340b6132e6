import { describe, expect, it } from 'vitest';
import { sortedUnpriced } from '../../test/helpers/aggregate.js';
import {
  aggregate,
  dayOf,
  GROUP_BYS,
  groupKeyOf,
  matchesFilter,
  mergeAggregates,
  monthOf,
  sortGroups,
  UNKNOWN_KEY,
  weekOf,
} from './aggregate.js';
import type { Attribution, UsageEvent } from './event.js';
import { emptyUsage, type UsageBuckets } from './usage.js';

// vitest.config.ts sets TZ=UTC: local days are UTC days here.
const at = (iso: string) => Date.parse(iso);

let seq = 0;
function ev(p: {
  ts: string;
  model?: string;
  speed?: string;
  nano?: number | null;
  estimated?: boolean;
  attribution?: Attribution;
  usage?: Partial<UsageBuckets>;
}): UsageEvent {
  const e: UsageEvent = {
    id: `e${++seq}`,
    ts: at(p.ts),
    source: 'claude-code',
    provider: 'anthropic',
    model: p.model ?? 'claude-sonnet-4-5',
    usage: { ...emptyUsage(), ...p.usage },
    cost: {
      nanoUsd: p.nano === undefined ? 0 : p.nano,
      priceSource: 'test',
      estimated: p.estimated ?? false,
    },
    attribution: p.attribution ?? {},
  };
  if (p.speed) e.speed = p.speed;
  return e;
}

describe('groupKeyOf', () => {
  const e = ev({
    ts: '2026-01-04T23:59:59.999Z',
    model: 'claude-opus-4-6',
    attribution: { session: 's1', project: 'p1', agentName: 'Explore' },
  });

  it('covers every GroupBy', () => {
    expect([...GROUP_BYS].sort()).toEqual(['agent', 'day', 'model', 'month', 'project', 'session', 'week']);
    expect(groupKeyOf(e, 'day')).toBe('2026-01-04');
    // 2026-01-01 is a Thursday, so Sunday 2026-01-04 is in the ISO week that starts Monday 2025-12-29
    expect(groupKeyOf(e, 'week')).toBe('2025-12-29');
    expect(groupKeyOf(e, 'month')).toBe('2026-01');
    expect(groupKeyOf(e, 'session')).toBe('s1');
    expect(groupKeyOf(e, 'project')).toBe('p1');
    expect(groupKeyOf(e, 'model')).toBe('claude-opus-4-6');
    expect(groupKeyOf(e, 'agent')).toBe('Explore');
  });

  it('names the speed in the model key', () => {
    expect(
      groupKeyOf(ev({ ts: '2026-01-05T00:00:00Z', model: 'claude-opus-4-6', speed: 'fast' }), 'model'),
    ).toBe('claude-opus-4-6 (fast)');
  });

  it('groups events without the dimension under (unknown)', () => {
    const bare = ev({ ts: '2026-01-05T00:00:00Z' });
    expect(UNKNOWN_KEY).toBe('(unknown)');
    expect(groupKeyOf(bare, 'session')).toBe('(unknown)');
    expect(groupKeyOf(bare, 'project')).toBe('(unknown)');
    expect(groupKeyOf(bare, 'agent')).toBe('(unknown)');
  });
});

describe('weekOf: the Monday of the ISO week', () => {
  it.each([
    // Monday is its own week start
    ['2026-01-05T00:00:00Z', '2026-01-05'],
    // the following Sunday, last millisecond, still belongs to that week
    ['2026-01-11T23:59:59.999Z', '2026-01-05'],
    // Friday 2021-01-01 → Monday 2020-12-28 (crosses the year)
    ['2021-01-01T12:00:00Z', '2020-12-28'],
    // Thursday 2024-02-29 (leap day) → Monday 2024-02-26
    ['2024-02-29T08:00:00Z', '2024-02-26'],
    // Tuesday 2024-03-05 → Monday 2024-03-04 (crosses the month back over a leap February)
    ['2024-03-05T08:00:00Z', '2024-03-04'],
    // Saturday 2024-03-02 → Monday 2024-02-26
    ['2024-03-02T08:00:00Z', '2024-02-26'],
  ])('%s → %s', (iso, monday) => {
    expect(weekOf(at(iso))).toBe(monday);
  });

  it('day and month keys are zero-padded', () => {
    expect(dayOf(at('2026-03-07T01:02:03Z'))).toBe('2026-03-07');
    expect(monthOf(at('2026-03-07T01:02:03Z'))).toBe('2026-03');
    expect(monthOf(at('2025-12-31T23:59:59.999Z'))).toBe('2025-12');
  });
});

describe('matchesFilter', () => {
  const first = ev({ ts: '2026-01-09T00:00:00.000Z', attribution: { project: 'alpha' } });
  const last = ev({ ts: '2026-01-10T23:59:59.999Z', attribution: { project: 'beta' } });
  const before = ev({ ts: '2026-01-08T23:59:59.999Z', attribution: { project: 'alpha' } });
  const after = ev({ ts: '2026-01-11T00:00:00.000Z', attribution: { project: 'alpha' } });

  it('since and until are inclusive whole days', () => {
    const f = { since: '2026-01-09', until: '2026-01-10' };
    expect(matchesFilter(first, f)).toBe(true);
    expect(matchesFilter(last, f)).toBe(true);
    expect(matchesFilter(before, f)).toBe(false);
    expect(matchesFilter(after, f)).toBe(false);
    // a single day
    expect(matchesFilter(first, { since: '2026-01-09', until: '2026-01-09' })).toBe(true);
    expect(matchesFilter(last, { since: '2026-01-09', until: '2026-01-09' })).toBe(false);
    // open ends
    expect(matchesFilter(before, { until: '2026-01-10' })).toBe(true);
    expect(matchesFilter(after, { since: '2026-01-09' })).toBe(true);
  });

  it('project must match exactly; events without a project never match a project filter', () => {
    expect(matchesFilter(first, { project: 'alpha' })).toBe(true);
    expect(matchesFilter(last, { project: 'alpha' })).toBe(false);
    expect(matchesFilter(ev({ ts: '2026-01-09T00:00:00Z' }), { project: 'alpha' })).toBe(false);
    expect(matchesFilter(first, { project: 'alpha', since: '2026-01-10' })).toBe(false);
  });
});

describe('aggregate', () => {
  // Inserted deliberately out of order.
  const events = [
    ev({
      ts: '2026-01-11T10:00:00Z',
      model: 'm-b',
      nano: 300,
      usage: { inputTokens: 10, outputTokens: 1 },
      attribution: { project: 'alpha' },
    }),
    ev({
      ts: '2026-01-09T10:00:00Z',
      model: 'm-a',
      nano: 100,
      usage: { inputTokens: 20, cacheReadTokens: 5 },
      attribution: { project: 'alpha' },
    }),
    ev({
      ts: '2026-01-10T10:00:00Z',
      model: 'm-a',
      nano: 250,
      estimated: true,
      usage: { outputTokens: 7, cacheWrite1hTokens: 3 },
      attribution: { project: 'beta' },
    }),
    ev({ ts: '2026-01-09T12:00:00Z', model: 'm-x', nano: null, usage: { inputTokens: 1000 } }),
    ev({ ts: '2026-01-09T13:00:00Z', model: 'm-x', nano: null, usage: { inputTokens: 1 } }),
    ev({ ts: '2026-01-09T14:00:00Z', model: 'm-y', nano: null }),
  ];

  it('groups by day chronologically and totals equal the sum of groups', () => {
    const r = aggregate(events, 'day');
    expect(r.groups.map((g) => g.key)).toEqual(['2026-01-09', '2026-01-10', '2026-01-11']);
    const d9 = r.groups[0]!;
    // 2026-01-09: one priced (100 nano) + three unpriced events, two models unpriced
    expect(d9.events).toBe(4);
    expect(d9.costNano).toBe(100);
    expect(d9.unpricedEvents).toBe(3);
    expect(d9.unpricedModels).toEqual(['m-x', 'm-y']);
    expect(d9.usage.inputTokens).toBe(1021); // 20 + 1000 + 1
    expect(d9.firstTs).toBe(at('2026-01-09T10:00:00Z'));
    expect(d9.lastTs).toBe(at('2026-01-09T14:00:00Z'));

    // totals: 6 events, 100 + 250 + 300 = 650 nano priced, 3 unpriced, 1 estimated
    expect(r.totals.key).toBe('total');
    expect(r.totals.events).toBe(6);
    expect(r.totals.costNano).toBe(650);
    expect(r.totals.unpricedEvents).toBe(3);
    expect(r.totals.estimatedEvents).toBe(1);
    expect(r.totals.usage).toEqual({
      ...emptyUsage(),
      inputTokens: 1031, // 10 + 20 + 1000 + 1
      cacheReadTokens: 5,
      cacheWrite1hTokens: 3,
      outputTokens: 8, // 1 + 7
    });
    expect(r.totals.firstTs).toBe(at('2026-01-09T10:00:00Z'));
    expect(r.totals.lastTs).toBe(at('2026-01-11T10:00:00Z'));

    const sum = (f: (g: (typeof r.groups)[number]) => number) => r.groups.reduce((n, g) => n + f(g), 0);
    expect(sum((g) => g.events)).toBe(r.totals.events);
    expect(sum((g) => g.costNano)).toBe(r.totals.costNano);
    expect(sum((g) => g.unpricedEvents)).toBe(r.totals.unpricedEvents);
    expect(sum((g) => g.usage.inputTokens)).toBe(r.totals.usage.inputTokens);
    expect(sum((g) => g.usage.outputTokens)).toBe(r.totals.usage.outputTokens);
  });

  it('sorts non-time groups by cost, then events, then key', () => {
    const r = aggregate(events, 'model');
    // m-a: 100 + 250 = 350 ; m-b: 300 ; m-x: 0 (2 events) ; m-y: 0 (1 event)
    expect(r.groups.map((g) => [g.key, g.costNano, g.events])).toEqual([
      ['m-a', 350, 2],
      ['m-b', 300, 1],
      ['m-x', 0, 2],
      ['m-y', 0, 1],
    ]);
    const byProject = aggregate(events, 'project');
    // alpha 400, beta 250, (unknown) 0
    expect(byProject.groups.map((g) => [g.key, g.costNano])).toEqual([
      ['alpha', 400],
      ['beta', 250],
      ['(unknown)', 0],
    ]);
  });

  it('breaks full ties by key, ascending', () => {
    const tied = [
      ev({ ts: '2026-01-09T00:00:00Z', model: 'zeta', nano: 5 }),
      ev({ ts: '2026-01-09T00:00:00Z', model: 'alpha', nano: 5 }),
      ev({ ts: '2026-01-09T00:00:00Z', model: 'mid', nano: 5 }),
    ];
    expect(aggregate(tied, 'model').groups.map((g) => g.key)).toEqual(['alpha', 'mid', 'zeta']);
  });

  it('sorts week and month keys chronologically, not by cost', () => {
    const r = aggregate(
      [
        ev({ ts: '2026-02-02T00:00:00Z', nano: 1 }),
        ev({ ts: '2026-01-05T00:00:00Z', nano: 1000 }),
        ev({ ts: '2025-12-31T00:00:00Z', nano: 10 }),
      ],
      'week',
    );
    // 2025-12-31 (Wed) → 2025-12-29 ; 2026-01-05 (Mon) ; 2026-02-02 (Mon)
    expect(r.groups.map((g) => g.key)).toEqual(['2025-12-29', '2026-01-05', '2026-02-02']);
    const m = sortGroups(aggregate(events, 'month').groups, 'month');
    expect(m.map((g) => g.key)).toEqual(['2026-01']);
  });

  it('applies the filter to totals and groups alike', () => {
    const r = aggregate(events, 'day', { since: '2026-01-10', project: 'alpha' });
    // only the 2026-01-11 alpha event (300 nano) passes
    expect(r.totals.events).toBe(1);
    expect(r.totals.costNano).toBe(300);
    expect(r.groups.map((g) => g.key)).toEqual(['2026-01-11']);
  });

  it('an empty input gives empty totals', () => {
    const r = aggregate([], 'agent');
    expect(r.groups).toEqual([]);
    expect(r.totals.events).toBe(0);
    expect(r.totals.costNano).toBe(0);
  });
});

describe('mergeAggregates', () => {
  const events = [
    ev({ ts: '2026-01-09T10:00:00Z', model: 'm-a', nano: 100, usage: { inputTokens: 20 } }),
    ev({ ts: '2026-01-10T10:00:00Z', model: 'm-a', nano: 250, estimated: true, usage: { outputTokens: 7 } }),
    ev({ ts: '2026-01-09T12:00:00Z', model: 'm-x', nano: null, usage: { inputTokens: 1000 } }),
    ev({ ts: '2026-01-11T08:00:00Z', model: 'm-y', nano: null, attribution: { project: 'beta' } }),
    ev({ ts: '2026-01-10T23:00:00Z', model: 'm-b', nano: 5, attribution: { project: 'alpha' } }),
  ];

  it('of disjoint parts equals one aggregate of all their events, for every grouping', () => {
    for (const by of GROUP_BYS) {
      const parts = [aggregate(events.slice(0, 2), by), aggregate(events.slice(2), by)];
      expect(sortedUnpriced(mergeAggregates(parts, by)), by).toEqual(sortedUnpriced(aggregate(events, by)));
    }
    // Hand-checked: day 2026-01-10 joins an event of each part.
    const byDay = mergeAggregates(
      [aggregate(events.slice(0, 2), 'day'), aggregate(events.slice(2), 'day')],
      'day',
    );
    expect(byDay.groups.map((g) => [g.key, g.events, g.costNano])).toEqual([
      ['2026-01-09', 2, 100],
      ['2026-01-10', 2, 255],
      ['2026-01-11', 1, 0],
    ]);
    expect(byDay.totals.unpricedModels.sort()).toEqual(['m-x', 'm-y']);
    expect(byDay.totals.estimatedEvents).toBe(1);
  });

  it('of no parts is empty', () => {
    const r = mergeAggregates([], 'model');
    expect(r.totals.events).toBe(0);
    expect(r.groups).toEqual([]);
  });
});
