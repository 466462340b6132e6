import { describe, expect, it } from 'vitest';
import {
  DIMENSIONS,
  describeSlice,
  dimensionValue,
  divRound,
  divRoundBig,
  groupKey,
  inSlice,
  intTag,
  mulDivRound,
  ratioAbove,
  ratioAtLeast,
  sumOf,
} from './common.js';
import type { Attribution, UsageEvent } from './deps.js';

function ev(attribution: Attribution, nano: number | null = 1, ts = 1_000): UsageEvent {
  return {
    id: `e${ts}`,
    ts,
    source: 'meter',
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
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
    speed: 'fast',
    cost: { nanoUsd: nano, priceSource: 'test', estimated: false },
    attribution,
  };
}

describe('dimensions and slices', () => {
  const e = ev({
    agentName: 'planner',
    stage: 'plan',
    task: 't1',
    run: 'r1',
    project: 'p',
    session: 's',
    workflow: 'w',
    user: 'u',
    feature: 'f',
    tags: { template: 'tpl' },
  });

  it('reads every dimension from its field', () => {
    expect(DIMENSIONS.map((d) => dimensionValue(e, d))).toEqual([
      'planner',
      'plan',
      't1',
      // model without the speed mode: a slice names the model, not `model (fast)`
      'claude-haiku-4-5',
      'anthropic',
      'r1',
      'p',
      's',
      'w',
      'u',
      'f',
      'tpl',
    ]);
  });

  it('groups events without the dimension under a placeholder, never dropping them', () => {
    const bare = ev({});
    expect(groupKey(bare, 'agent')).toBe('(unknown)');
    expect(groupKey(bare, 'template')).toBe('(none)');
    expect(groupKey(e, 'template')).toBe('tpl');
  });

  it('matches every named dimension and the half-open time bounds', () => {
    expect(inSlice(e, {})).toBe(true);
    expect(inSlice(e, { agent: 'planner', stage: 'plan' })).toBe(true);
    expect(inSlice(e, { agent: 'planner', stage: 'build' })).toBe(false);
    // an event without the dimension is outside a slice that names it
    expect(inSlice(ev({}), { agent: 'planner' })).toBe(false);
    expect(inSlice(e, { fromMs: 1_000, toMs: 1_001 })).toBe(true);
    expect(inSlice(e, { toMs: 1_000 })).toBe(false);
    expect(inSlice(e, { fromMs: 1_001 })).toBe(false);
  });

  it('describes a slice in words', () => {
    expect(describeSlice({})).toBe('(all)');
    expect(describeSlice({ stage: 'plan', agent: 'planner' })).toBe('agent=planner stage=plan');
    expect(describeSlice({ fromMs: 0 })).toBe('from=1970-01-01T00:00:00.000Z');
  });

  it('sums priced events and counts unpriced ones apart', () => {
    // 5 + 7 = 12 priced; the unpriced one is counted, not added as $0
    expect(sumOf([ev({}, 5), ev({}, null), ev({}, 7)])).toEqual({
      costNano: 12,
      events: 3,
      pricedEvents: 2,
      unpricedEvents: 1,
    });
  });

  it('reads integer tags only', () => {
    expect(intTag(ev({ tags: { toolCalls: '12' } }), 'toolCalls')).toBe(12);
    expect(intTag(ev({ tags: { toolCalls: 'many' } }), 'toolCalls')).toBeUndefined();
    expect(intTag(ev({ tags: { toolCalls: '-1' } }), 'toolCalls')).toBeUndefined();
    expect(intTag(ev({}), 'toolCalls')).toBeUndefined();
  });
});

describe('exact arithmetic', () => {
  it('rounds half up (towards +∞ on a tie) and refuses to divide by 0', () => {
    expect(divRound(10, 4)).toBe(3); // 2.5 → 3
    expect(divRound(-10, 4)).toBe(-2); // -2.5 → -2
    expect(divRound(-11, 4)).toBe(-3); // -2.75 → -3
    expect(divRound(9, 3)).toBe(3);
    expect(divRound(10, 0)).toBeNull();
    expect(divRoundBig(7n, -2n)).toBe(-3); // -3.5 → -3
    expect(mulDivRound(7, 3, 2)).toBe(11); // 10.5 → 11
  });

  it('keeps every digit where a float product would not', () => {
    // (2^53 − 1) × 3 / 3: the product is past 2^53, the answer is not
    expect(mulDivRound(9_007_199_254_740_991, 3, 3)).toBe(9_007_199_254_740_991);
    // $5,000,000 of nano-dollars × 1,000,001 calls / 1,000,001
    expect(mulDivRound(5_000_000_000_000_000, 1_000_001, 1_000_001)).toBe(5_000_000_000_000_000);
  });

  it('compares shares with thresholds exactly', () => {
    expect(ratioAbove(4, 10, 1, 1, 0.4)).toBe(false); // 40% is not above 40%
    expect(ratioAtLeast(4, 10, 1, 1, 0.4)).toBe(true);
    expect(ratioAbove(4_000_001, 10_000_000, 1, 1, 0.4)).toBe(true);
    // per call: 600/2 = 300 vs 1.2 × 1000/4 = 300 → not above; 601/2 is
    expect(ratioAbove(600, 2, 1000, 4, 1.2)).toBe(false);
    expect(ratioAbove(601, 2, 1000, 4, 1.2)).toBe(true);
  });
});
