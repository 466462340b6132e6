import { describe, expect, it } from 'vitest';
import type { UsageBuckets, UsageEvent } from './deps.js';
import { distillationCandidates, sunsettingCandidates } from './lifecycle.js';

let seq = 0;
function ev(p: {
  iso?: string;
  nano: number | null;
  agent?: string;
  run?: string;
  usage?: Partial<UsageBuckets>;
  tags?: Record<string, string>;
}): UsageEvent {
  return {
    id: `l${++seq}`,
    ts: Date.parse(p.iso ?? '2026-03-10T12:00:00Z'),
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
      ...p.usage,
    },
    cost: { nanoUsd: p.nano, priceSource: 'test', estimated: false },
    attribution: {
      ...(p.agent ? { agentName: p.agent } : {}),
      ...(p.run ? { run: p.run } : {}),
      ...(p.tags ? { tags: p.tags } : {}),
    },
  };
}

describe('sunsettingCandidates', () => {
  // now 2026-03-31 12:00 UTC, 30-day window (2026-03-01 12:00, 2026-03-31 12:00]
  const nowMs = Date.parse('2026-03-31T12:00:00Z');
  // deep-research: 15,000,000 on 03-05 (run rA) and on 03-20 (run rB), + an unpriced call on 03-20
  // coder: 20 calls of 3,000,000 on 03-10 … 03-29 (60,000,000, 20 days)
  // pinger: one 100,000 call (0.09%); (unknown): 20,000,000 on one day, but nothing to retire by name
  // old: 50,000,000 on 02-15, outside the window
  // window total: 30,000,000 + 60,000,000 + 100,000 + 20,000,000 = 110,100,000
  const events = [
    ev({ iso: '2026-03-05T10:00:00Z', nano: 15_000_000, agent: 'deep-research', run: 'rA' }),
    ev({ iso: '2026-03-20T10:00:00Z', nano: 15_000_000, agent: 'deep-research', run: 'rB' }),
    ev({ iso: '2026-03-20T11:00:00Z', nano: null, agent: 'deep-research', run: 'rB' }),
    ...Array.from({ length: 20 }, (_, i) =>
      ev({ iso: `2026-03-${String(10 + i).padStart(2, '0')}T09:00:00Z`, nano: 3_000_000, agent: 'coder' }),
    ),
    ev({ iso: '2026-03-15T10:00:00Z', nano: 100_000, agent: 'pinger' }),
    ev({ iso: '2026-03-12T10:00:00Z', nano: 20_000_000 }),
    ev({ iso: '2026-02-15T10:00:00Z', nano: 50_000_000, agent: 'old' }),
  ];

  it('finds high-cost, rarely used agents in the window', () => {
    const r = sunsettingCandidates(events, { nowMs });
    expect(r.windowDays).toBe(30);
    expect(r.totalNano).toBe(110_100_000);
    // deep-research: 30,000,000 of 110,100,000 = 27% ≥ 10%, active on 2 days ≤ 3
    // coder: 54% but active on 20 days; pinger: 0.09%; old: outside the window
    expect(r.candidates).toEqual([
      {
        key: 'deep-research',
        costNano: 30_000_000,
        spendShare: 30_000_000 / 110_100_000,
        calls: 3,
        unpricedEvents: 1,
        activeDays: 2,
        runs: 2,
        perCallNano: 15_000_000,
        lastUsedMs: Date.parse('2026-03-20T11:00:00Z'),
      },
    ]);
  });

  it('takes its thresholds and window from the options', () => {
    // a 10-day window (03-21 12:00, 03-31 12:00]: coder's 03-22 … 03-29 calls only, 8 days, all of it
    const r = sunsettingCandidates(events, { nowMs, windowDays: 10, maxActiveDays: 8 });
    expect(r.totalNano).toBe(24_000_000);
    expect(r.candidates.map((c) => [c.key, c.activeDays, c.spendShare])).toEqual([['coder', 8, 1]]);
    // 27% is below a 30% floor
    expect(sunsettingCandidates(events, { nowMs, minSpendShare: 0.3 }).candidates).toEqual([]);
  });

  it('counts active days in local time', () => {
    // 23:30 and 00:30 UTC are two UTC days but one day at UTC−1
    const two = [
      ev({ iso: '2026-03-05T23:30:00Z', nano: 1, agent: 'a' }),
      ev({ iso: '2026-03-06T00:30:00Z', nano: 1, agent: 'a' }),
    ];
    expect(sunsettingCandidates(two, { nowMs }).candidates[0]!.activeDays).toBe(2);
    expect(sunsettingCandidates(two, { nowMs, timeZone: () => -3_600_000 }).candidates[0]!.activeDays).toBe(
      1,
    );
  });

  it('is empty without events or without priced spend', () => {
    expect(sunsettingCandidates([], { nowMs })).toEqual({ windowDays: 30, totalNano: 0, candidates: [] });
    const unpriced = [ev({ iso: '2026-03-20T10:00:00Z', nano: null, agent: 'a' })];
    expect(sunsettingCandidates(unpriced, { nowMs }).candidates).toEqual([]);
  });
});

describe('distillationCandidates', () => {
  // classifier: 120 calls, 1,000 in / 10 out, 100,000 each → 12,000,000
  // writer: 30 calls, 1,000 in / 3,000 out, 2,000,000 each → 60,000,000
  // router: 110 calls, 500 in / 600 out, 50,000 each → 5,500,000 (no mechanical signal)
  // fetcher: 100 workflow agents, 300 unsplit tokens, 2 tool calls each, 80,000 each → 8,000,000
  // 360 calls, 85,500,000 priced: mean 237,500 a call, so "cheap" is ≤ 118,750
  const events = [
    ...Array.from({ length: 120 }, () =>
      ev({ agent: 'classifier', nano: 100_000, usage: { inputTokens: 1_000, outputTokens: 10 } }),
    ),
    ...Array.from({ length: 30 }, () =>
      ev({ agent: 'writer', nano: 2_000_000, usage: { inputTokens: 1_000, outputTokens: 3_000 } }),
    ),
    ...Array.from({ length: 110 }, () =>
      ev({ agent: 'router', nano: 50_000, usage: { inputTokens: 500, outputTokens: 600 } }),
    ),
    ...Array.from({ length: 100 }, () =>
      ev({ agent: 'fetcher', nano: 80_000, usage: { unsplitTokens: 300 }, tags: { toolCalls: '2' } }),
    ),
  ];

  it('finds very frequent, cheap, mechanical agents', () => {
    const r = distillationCandidates(events);
    expect(r.calls).toBe(360);
    expect(r.totalNano).toBe(85_500_000);
    expect(r.meanPerCallNano).toBe(237_500);
    // classifier: 120 calls (33%), 100,000 ≤ 118,750, output ratio 0.01 and 10-token outputs
    // fetcher: 100 calls (28%), 80,000 ≤ 118,750, 2 tool calls a call (token signals unavailable)
    // writer: 30 calls; router: cheap and frequent but no signal fires
    expect(
      r.candidates.map((c) => [c.key, c.calls, c.callShare, c.costNano, c.perCallNano, c.mechanical]),
    ).toEqual([
      ['classifier', 120, 120 / 360, 12_000_000, 100_000, ['low-output-ratio', 'short-outputs']],
      ['fetcher', 100, 100 / 360, 8_000_000, 80_000, ['tool-heavy']],
    ]);
  });

  it('takes its thresholds from the options', () => {
    // cheap ≤ 0.25 × 237,500 = 59,375: classifier (100,000) and fetcher (80,000) no longer are
    expect(distillationCandidates(events, { cheapRatio: 0.25 }).candidates).toEqual([]);
    // 101 calls needed: fetcher (100) drops out
    expect(distillationCandidates(events, { minCalls: 101 }).candidates.map((c) => c.key)).toEqual([
      'classifier',
    ]);
    // 2 content signals needed: only the classifier has two
    expect(distillationCandidates(events, { minSignals: 2 }).candidates.map((c) => c.key)).toEqual([
      'classifier',
    ]);
    // a share floor of 30%: fetcher (27.8%) drops out
    expect(distillationCandidates(events, { minCallShare: 0.3 }).candidates.map((c) => c.key)).toEqual([
      'classifier',
    ]);
  });

  it('is empty without events, and never calls unpriced spend cheap', () => {
    expect(distillationCandidates([])).toEqual({
      calls: 0,
      totalNano: 0,
      meanPerCallNano: null,
      candidates: [],
    });
    const unpriced = events.map((e) => ({ ...e, cost: { ...e.cost, nanoUsd: null } }));
    expect(distillationCandidates(unpriced).candidates).toEqual([]);
  });
});
