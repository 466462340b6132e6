import { describe, expect, it } from 'vitest';
import { concentration } from './concentration.js';
import type { UsageEvent } from './deps.js';

let seq = 0;
function ev(agent: string | undefined, stage: string | undefined, nano: number | null): UsageEvent {
  return {
    id: `c${++seq}`,
    ts: Date.UTC(2026, 2, 1),
    source: 'meter',
    provider: 'anthropic',
    model: nano === null ? 'mystery-model' : 'claude-haiku-4-5',
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
    attribution: { ...(agent ? { agentName: agent } : {}), ...(stage ? { stage } : {}) },
  };
}

describe('concentration', () => {
  // planner 4,000,000 + 2,000,000 = 6,000,000 (plan), coder 3,000,000 (build), tester 1,000,000
  // (build), and an unpriced planner call: 10,000,000 priced nano in all.
  const events = [
    ev('planner', 'plan', 4_000_000),
    ev('coder', 'build', 3_000_000),
    ev('planner', 'plan', 2_000_000),
    ev('tester', 'build', 1_000_000),
    ev('planner', 'plan', null),
  ];

  it('flags the top agent above 40%, lists every agent and stage above 25%, and computes the HHI', () => {
    const c = concentration(events);
    expect(c.totalNano).toBe(10_000_000);
    expect(c.events).toBe(5);
    expect(c.unpricedEvents).toBe(1);
    expect(c.agents.map((a) => [a.key, a.costNano, a.share, a.events, a.unpricedEvents])).toEqual([
      ['planner', 6_000_000, 0.6, 3, 1],
      ['coder', 3_000_000, 0.3, 1, 0],
      ['tester', 1_000_000, 0.1, 1, 0],
    ]);
    // planner 6,000,000 of 10,000,000 = 60% > 40% → flagged
    expect(c.topAgent).toMatchObject({ key: 'planner', share: 0.6, flagged: true });
    expect(c.tiedWithTop).toEqual([]);
    // stages: plan 6,000,000 (60%), build 3,000,000 + 1,000,000 = 4,000,000 (40%)
    expect(c.stages.map((s) => [s.key, s.costNano])).toEqual([
      ['plan', 6_000_000],
      ['build', 4_000_000],
    ]);
    // above 25%: planner 60%, coder 30% (tester 10% is not); stages plan 60%, build 40%
    expect(c.above.map((r) => `${r.dimension}:${r.key}`)).toEqual([
      'agent:planner',
      'agent:coder',
      'stage:plan',
      'stage:build',
    ]);
    // HHI = 0.6² + 0.3² + 0.1² = 0.36 + 0.09 + 0.01 = 0.46 → 4,600 points
    expect(c.hhi).toBe(0.46);
    expect(c.hhiPoints).toBe(4600);
  });

  it('takes its thresholds from the options', () => {
    // 60% is not above 70%; only planner (60%) is above 50%
    const c = concentration(events, { topAgentShare: 0.7, sliceShare: 0.5 });
    expect(c.topAgent?.flagged).toBe(false);
    expect(c.above.map((r) => `${r.dimension}:${r.key}`)).toEqual(['agent:planner', 'stage:plan']);
  });

  it('does not flag exactly 40%', () => {
    // a 4, b 3, c 3 of 10: a is exactly 40% (not above); b and c 30% (above 25%)
    const c = concentration([ev('a', 's', 4), ev('b', 's', 3), ev('c', 's', 3)]);
    expect(c.topAgent).toMatchObject({ key: 'a', share: 0.4, flagged: false });
    expect(c.above.map((r) => r.key)).toEqual(['a', 'b', 'c', 's']);
    // 0.16 + 0.09 + 0.09 = 0.34 → 3,400
    expect(c.hhi).toBe(0.34);
    expect(c.hhiPoints).toBe(3400);
  });

  it('breaks a tie for the top by name and says who tied', () => {
    // b and a both 5,000,000 of 10,000,000: a first by name, 50% > 40% → flagged
    const c = concentration([ev('b', undefined, 5_000_000), ev('a', undefined, 5_000_000)]);
    expect(c.topAgent).toMatchObject({ key: 'a', share: 0.5, flagged: true });
    expect(c.tiedWithTop).toEqual(['b']);
    // 0.25 + 0.25
    expect(c.hhi).toBe(0.5);
    expect(c.hhiPoints).toBe(5000);
    // the stage-less spend is one (unknown) stage at 100%
    expect(c.stages.map((s) => [s.key, s.share])).toEqual([['(unknown)', 1]]);
  });

  it('gives a single agent an HHI of 1', () => {
    const c = concentration([ev('solo', 'x', 7), ev('solo', 'x', 3)]);
    expect(c.hhi).toBe(1);
    expect(c.hhiPoints).toBe(10_000);
    expect(c.topAgent).toMatchObject({ key: 'solo', costNano: 10, share: 1, flagged: true });
  });

  it('counts spend without an agent as one (unknown) agent', () => {
    // (unknown) 3 of 4 = 75%, named 1 of 4 = 25% (not above 25%): HHI 0.5625 + 0.0625 = 0.625
    const c = concentration([ev(undefined, undefined, 3), ev('named', undefined, 1)]);
    expect(c.agents.map((a) => [a.key, a.share])).toEqual([
      ['(unknown)', 0.75],
      ['named', 0.25],
    ]);
    expect(c.hhi).toBe(0.625);
  });

  it('has no shares for an empty ledger', () => {
    const c = concentration([]);
    expect(c).toEqual({
      totalNano: 0,
      events: 0,
      unpricedEvents: 0,
      agents: [],
      stages: [],
      topAgent: null,
      tiedWithTop: [],
      above: [],
      hhi: null,
      hhiPoints: null,
    });
  });

  it('shares nothing when everything is unpriced (never $0 shares of $0)', () => {
    const c = concentration([ev('a', 's', null), ev('b', 's', null)]);
    expect(c.totalNano).toBe(0);
    expect(c.unpricedEvents).toBe(2);
    expect(c.agents.map((a) => [a.key, a.costNano, a.unpricedEvents, a.share])).toEqual([
      ['a', 0, 1, 0],
      ['b', 0, 1, 0],
    ]);
    expect(c.topAgent).toBeNull();
    expect(c.above).toEqual([]);
    expect(c.hhi).toBeNull();
  });
});
