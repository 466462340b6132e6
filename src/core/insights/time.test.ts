import { describe, expect, it } from 'vitest';
import type { UsageEvent } from './deps.js';
import { localDay, periodOverPeriod, projectMonthEnd } from './time.js';

let seq = 0;
function ev(iso: string, nano: number | null, agent?: string): UsageEvent {
  return {
    id: `t${++seq}`,
    ts: Date.parse(iso),
    source: 'meter',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    usage: {
      inputTokens: 0,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      unsplitTokens: 0,
      webSearchRequests: 0,
    },
    cost: { nanoUsd: nano, priceSource: 'test', estimated: false },
    attribution: agent ? { agentName: agent } : {},
  };
}

const HOUR = 3_600_000;

describe('periodOverPeriod', () => {
  // 2026-03-01 is a Sunday: the ISO weeks are W1 03-02, W2 03-09, W3 03-16, W4 03-23 (now: 03-25).
  // planner: 1,000,000 → 1,300,000 (+30%) → 1,690,000 (+30%) → 100,000 so far; 2 calls a week,
  //   so the cost per call rises 500,000 → 650,000 → 845,000, and an unpriced call in W2.
  // coder: 1,200,000 every week, in 4, 3, then 2 calls: per call 300,000 → 400,000 (+33%) → 600,000 (+50%).
  // tester: 1,000,000, nothing, 2,000,000.
  const events = [
    ev('2026-03-02T09:00:00Z', 500_000, 'planner'),
    ev('2026-03-04T09:00:00Z', 500_000, 'planner'),
    ev('2026-03-09T09:00:00Z', 650_000, 'planner'),
    ev('2026-03-10T09:00:00Z', 650_000, 'planner'),
    ev('2026-03-10T10:00:00Z', null, 'planner'),
    ev('2026-03-16T09:00:00Z', 845_000, 'planner'),
    ev('2026-03-22T23:59:59Z', 845_000, 'planner'),
    ev('2026-03-24T09:00:00Z', 100_000, 'planner'),
    ...[2, 3, 4, 5].map((d) => ev(`2026-03-0${d}T12:00:00Z`, 300_000, 'coder')),
    ...[9, 10, 11].map((d) => ev(`2026-03-${d < 10 ? `0${d}` : d}T12:00:00Z`, 400_000, 'coder')),
    ...[17, 18].map((d) => ev(`2026-03-${d}T12:00:00Z`, 600_000, 'coder')),
    ev('2026-03-06T12:00:00Z', 1_000_000, 'tester'),
    ev('2026-03-20T12:00:00Z', 2_000_000, 'tester'),
  ];
  const nowMs = Date.parse('2026-03-25T12:00:00Z');

  it('lists every week per agent with changes and flags the ongoing creep', () => {
    const r = periodOverPeriod(events, { period: 'week', nowMs });
    expect(r.periods).toEqual(['2026-03-02', '2026-03-09', '2026-03-16', '2026-03-23']);
    // planner 4,090,000, coder 3,600,000, tester 3,000,000
    expect(r.slices.map((s) => [s.key, s.totalNano])).toEqual([
      ['planner', 4_090_000],
      ['coder', 3_600_000],
      ['tester', 3_000_000],
    ]);
    const [planner, coder, tester] = r.slices;
    expect(planner!.rows).toEqual([
      {
        period: '2026-03-02',
        costNano: 1_000_000,
        events: 2,
        pricedEvents: 2,
        unpricedEvents: 0,
        perCallNano: 500_000,
        changePct: null,
        partial: false,
      },
      // (1,300,000 − 1,000,000) / 1,000,000 = +30%; the unpriced call is counted, not priced
      {
        period: '2026-03-09',
        costNano: 1_300_000,
        events: 3,
        pricedEvents: 2,
        unpricedEvents: 1,
        perCallNano: 650_000,
        changePct: 30,
        partial: false,
      },
      {
        period: '2026-03-16',
        costNano: 1_690_000,
        events: 2,
        pricedEvents: 2,
        unpricedEvents: 0,
        perCallNano: 845_000,
        changePct: ((1_690_000 - 1_300_000) / 1_300_000) * 100,
        partial: false,
      },
      // the week of "now": shown, flagged partial, and not read as a drop
      {
        period: '2026-03-23',
        costNano: 100_000,
        events: 1,
        pricedEvents: 1,
        unpricedEvents: 0,
        perCallNano: 100_000,
        changePct: ((100_000 - 1_690_000) / 1_690_000) * 100,
        partial: true,
      },
    ]);
    // +30% and +30%: 2 consecutive rises above 20%; the per-call cost rose 30% twice too (> 10%)
    expect(planner!.flags).toEqual([
      {
        kind: 'cost',
        periods: 2,
        from: '2026-03-02',
        to: '2026-03-16',
        detail: 'cost up more than 20% in each of 2 consecutive periods (2026-03-02 → 2026-03-16)',
      },
      {
        kind: 'per-call',
        periods: 2,
        from: '2026-03-02',
        to: '2026-03-16',
        detail: 'cost per call up more than 10% in each of 2 consecutive periods (2026-03-02 → 2026-03-16)',
      },
    ]);
    // coder: flat cost (0%), per call +33% then +50% → per-call flag only
    expect(coder!.rows.map((w) => [w.costNano, w.perCallNano, w.changePct])).toEqual([
      [1_200_000, 300_000, null],
      [1_200_000, 400_000, 0],
      [1_200_000, 600_000, 0],
      [0, null, -100],
    ]);
    expect(coder!.flags.map((f) => [f.kind, f.periods])).toEqual([['per-call', 2]]);
    // tester: 1,000,000 → 0 (−100%) → 2,000,000 (a rise from $0 is not a percentage): no flag
    expect(tester!.rows.map((w) => [w.costNano, w.changePct])).toEqual([
      [1_000_000, null],
      [0, -100],
      [2_000_000, null],
      [0, -100],
    ]);
    expect(tester!.flags).toEqual([]);
    // total: 3,200,000 → 2,500,000 → 4,890,000 → 100,000
    expect(r.total.rows.map((w) => w.costNano)).toEqual([3_200_000, 2_500_000, 4_890_000, 100_000]);
    expect(r.total.totalNano).toBe(10_690_000);
    // −21.875% then +95.6%: one rise, no streak
    expect(r.total.flags).toEqual([]);
  });

  it('flags only an ongoing creep: without "now" the last week is complete, and a drop', () => {
    const r = periodOverPeriod(events, { period: 'week' });
    expect(r.slices[0]!.rows.every((w) => !w.partial)).toBe(true);
    expect(r.slices[0]!.flags).toEqual([]);
  });

  it('takes the thresholds from the options', () => {
    // 3 rises needed: planner has 2
    expect(periodOverPeriod(events, { period: 'week', nowMs, creepPeriods: 3 }).slices[0]!.flags).toEqual([]);
    // +30% is not above 30%; the per-call rises (+30%) are above 25%
    const r = periodOverPeriod(events, { period: 'week', nowMs, creepPct: 30, perCallCreepPct: 25 });
    expect(r.slices[0]!.flags.map((f) => f.kind)).toEqual(['per-call']);
  });

  it('fills gaps, and groups by another dimension on request', () => {
    const r = periodOverPeriod([ev('2026-03-01T10:00:00Z', 1, 'a'), ev('2026-03-03T10:00:00Z', 2, 'b')], {
      period: 'day',
      dimension: 'model',
    });
    expect(r.periods).toEqual(['2026-03-01', '2026-03-02', '2026-03-03']);
    expect(r.slices.map((s) => [s.key, s.rows.map((d) => d.costNano)])).toEqual([
      ['claude-sonnet-4-5', [1, 0, 2]],
    ]);
  });

  it('runs months, sprints and time zones', () => {
    const months = periodOverPeriod([ev('2026-01-31T23:00:00Z', 1), ev('2026-03-01T00:00:00Z', 1)], {
      period: 'month',
    });
    expect(months.periods).toEqual(['2026-01', '2026-02', '2026-03']);
    // two-week sprints from Monday 2026-01-05: 01-04 is in the sprint before (from 2025-12-22)
    const sprints = periodOverPeriod([ev('2026-01-04T12:00:00Z', 1), ev('2026-01-20T12:00:00Z', 1)], {
      period: { sprintStartMs: Date.UTC(2026, 0, 5), days: 14 },
    });
    expect(sprints.periods).toEqual(['2025-12-22', '2026-01-05', '2026-01-19']);
    // Sunday 23:30 UTC is Monday 00:30 at UTC+1: a week later
    const sunday = [ev('2026-03-08T23:30:00Z', 1)];
    expect(periodOverPeriod(sunday, { period: 'week' }).periods).toEqual(['2026-03-02']);
    expect(periodOverPeriod(sunday, { period: 'week', timeZone: () => HOUR }).periods).toEqual([
      '2026-03-09',
    ]);
    expect(localDay(Date.parse('2026-03-01T23:30:00Z'), () => HOUR)).toBe('2026-03-02');
    expect(() => periodOverPeriod(sunday, { period: { sprintStartMs: 0, days: 0 } })).toThrow(RangeError);
  });

  it('is empty without events (and ignores events after now)', () => {
    expect(periodOverPeriod([], { period: 'week' })).toEqual({
      periods: [],
      total: { key: 'total', totalNano: 0, rows: [], flags: [] },
      slices: [],
    });
    const later = periodOverPeriod([ev('2026-04-01T00:00:00Z', 5)], { period: 'day', nowMs });
    expect(later.periods).toEqual([]);
  });

  it('keeps unpriced-only periods at $0 known cost with the events counted', () => {
    const r = periodOverPeriod([ev('2026-03-02T00:00:00Z', null, 'a')], { period: 'day' });
    expect(r.total.rows).toEqual([
      {
        period: '2026-03-02',
        costNano: 0,
        events: 1,
        pricedEvents: 0,
        unpricedEvents: 1,
        perCallNano: null,
        changePct: null,
        partial: false,
      },
    ]);
  });
});

describe('projectMonthEnd', () => {
  // now: Friday 2026-03-20 12:00 UTC; March has 31 days, so 11.5 days are left.
  const nowMs = Date.parse('2026-03-20T12:00:00Z');
  // The 7 full days 03-13 … 03-19: 1, 2, 0, 3, 1, 2, 5 million = 14,000,000, mean 2,000,000.
  const window = [
    ev('2026-03-13T10:00:00Z', 1_000_000),
    ev('2026-03-14T10:00:00Z', 2_000_000),
    ev('2026-03-16T10:00:00Z', 3_000_000),
    ev('2026-03-17T10:00:00Z', 1_000_000),
    ev('2026-03-17T11:00:00Z', null),
    ev('2026-03-18T10:00:00Z', 2_000_000),
    ev('2026-03-19T23:59:59Z', 5_000_000),
  ];
  const events = [
    ev('2026-02-27T10:00:00Z', 9_000_000), // last month: neither month-to-date nor in the window
    ev('2026-03-01T00:00:00Z', 4_000_000),
    ...window,
    ev('2026-03-20T08:00:00Z', 500_000), // today so far
    ev('2026-03-20T13:00:00Z', 7_000_000), // after "now": ignored
  ];

  it('adds the last 7 full days’ mean over the days left to the month so far', () => {
    const p = projectMonthEnd(events, { nowMs });
    expect(p).toEqual({
      month: '2026-03',
      // 4,000,000 + 14,000,000 + 500,000
      monthToDateNano: 18_500_000,
      unpricedEvents: 1,
      window: [
        { day: '2026-03-13', costNano: 1_000_000 },
        { day: '2026-03-14', costNano: 2_000_000 },
        { day: '2026-03-15', costNano: 0 },
        { day: '2026-03-16', costNano: 3_000_000 },
        { day: '2026-03-17', costNano: 1_000_000 },
        { day: '2026-03-18', costNano: 2_000_000 },
        { day: '2026-03-19', costNano: 5_000_000 },
      ],
      dailyMeanNano: 2_000_000,
      // deviations −1, 0, −2, 1, −1, 0, 3 million: √(16e12 / 7) = 1,511,857.89…
      dailyStdevNano: 1_511_858,
      remainingDays: 11.5,
      // 18,500,000 + 2,000,000 × 11.5
      projectedNano: 41_500_000,
      // the cheapest day (0) and the dearest (5,000,000) for 11.5 days
      lowNano: 18_500_000,
      highNano: 76_000_000,
      estimated: true,
    });
  });

  it('does not dilute the mean with days before the first event', () => {
    // the ledger starts 03-18: a 2-day window of 2,000,000 and 4,000,000, mean 3,000,000
    const p = projectMonthEnd(
      [ev('2026-03-18T10:00:00Z', 2_000_000), ev('2026-03-19T10:00:00Z', 4_000_000)],
      {
        nowMs,
      },
    );
    expect(p.window.map((d) => d.day)).toEqual(['2026-03-18', '2026-03-19']);
    // 6,000,000 + 3,000,000 × 11.5; range 6,000,000 + 2,000,000 × 11.5 … + 4,000,000 × 11.5
    expect([p.projectedNano, p.lowNano, p.highNano]).toEqual([40_500_000, 29_000_000, 52_000_000]);
  });

  it('projects a slice, and a custom window', () => {
    const tagged = [ev('2026-03-19T10:00:00Z', 1_000_000, 'a'), ev('2026-03-19T10:00:00Z', 8_000_000, 'b')];
    const p = projectMonthEnd([...tagged, ev('2026-03-01T10:00:00Z', 1_000_000, 'a')], {
      nowMs,
      slice: { agent: 'a' },
      windowDays: 2,
    });
    // a's window: 03-18 (0) and 03-19 (1,000,000), mean 500,000; month so far 2,000,000
    expect([p.monthToDateNano, p.dailyMeanNano, p.projectedNano]).toEqual([2_000_000, 500_000, 7_750_000]);
  });

  it('works in local time', () => {
    // now 2026-03-31 23:00 UTC is 2026-04-01 01:00 at UTC+2: April, 30 days − 1 hour = 719/24 days left
    const tz = () => 2 * HOUR;
    const p = projectMonthEnd(
      [ev('2026-03-31T22:30:00Z', 1_000_000), ev('2026-03-31T10:00:00Z', 3_000_000)],
      { nowMs: Date.parse('2026-03-31T23:00:00Z'), timeZone: tz },
    );
    expect(p.month).toBe('2026-04');
    // 22:30 UTC is 00:30 local on April 1st: month to date; 10:00 UTC is March 31st: the window
    expect(p.monthToDateNano).toBe(1_000_000);
    expect(p.window).toEqual([{ day: '2026-03-31', costNano: 3_000_000 }]);
    expect(p.remainingDays).toBe(719 / 24);
    // 1,000,000 + 3,000,000 × 719 / 24 = 1,000,000 + 89,875,000
    expect(p.projectedNano).toBe(90_875_000);
  });

  it('has no projection without a full day of history', () => {
    const p = projectMonthEnd([ev('2026-03-20T08:00:00Z', 500_000)], { nowMs });
    expect(p).toMatchObject({
      monthToDateNano: 500_000,
      window: [],
      projectedNano: null,
      lowNano: null,
      highNano: null,
    });
    expect(projectMonthEnd([], { nowMs })).toMatchObject({
      monthToDateNano: 0,
      projectedNano: null,
      remainingDays: 11.5,
    });
  });
});
