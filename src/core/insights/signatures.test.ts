import { describe, expect, it } from 'vitest';
import type { UsageBuckets, UsageEvent } from './deps.js';
import { signatureOf } from './signatures.js';

function ev(usage: Partial<UsageBuckets>, tags?: Record<string, string>): UsageEvent {
  return {
    id: 's',
    ts: 0,
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
      ...usage,
    },
    cost: { nanoUsd: 1, priceSource: 'test', estimated: false },
    attribution: tags ? { tags } : {},
  };
}

describe('signatureOf', () => {
  it('measures the token signals on split calls only, cache tokens counted as input', () => {
    // split: (100 + 700 cache reads + 200 writes) in, 50 out; and 1,000 in, 150 out → 200 / 2,000 = 0.1
    // (not below 0.1); mean output (50 + 150) / 2 = 100 < 400; the unsplit call is not measured
    const s = signatureOf([
      ev({ inputTokens: 100, cacheReadTokens: 700, cacheWrite1hTokens: 200, outputTokens: 50 }),
      ev({ inputTokens: 1_000, outputTokens: 150 }),
      ev({ unsplitTokens: 5_000 }),
    ]);
    expect(s).toMatchObject({ calls: 3, splitCalls: 2, toolTaggedCalls: 0, score: 1 });
    expect(s.signals.map((x) => [x.name, x.available, x.fired, x.value, x.threshold])).toEqual([
      ['many-calls', true, false, 3, 20],
      ['low-output-ratio', true, false, 0.1, 0.1],
      ['short-outputs', true, true, 100, 400],
      ['tool-heavy', false, false, null, 1],
    ]);
  });

  it('averages tool calls over the calls that carry a count, with custom thresholds', () => {
    // (0 + 3) / 2 = 1.5 tool calls a call; one call says nothing, one says nonsense
    const s = signatureOf(
      [ev({}, { toolCalls: '0' }), ev({}, { toolCalls: '3' }), ev({}), ev({}, { toolCalls: 'lots' })],
      { toolCallsPerCall: 2, manyCalls: 4 },
    );
    expect(s.toolTaggedCalls).toBe(2);
    expect(s.signals.find((x) => x.name === 'tool-heavy')).toMatchObject({
      available: true,
      fired: false,
      value: 1.5,
    });
    expect(s.signals.find((x) => x.name === 'many-calls')).toMatchObject({ fired: true, value: 4 });
    // no input tokens at all: no ratio to speak of
    expect(s.signals.find((x) => x.name === 'low-output-ratio')).toMatchObject({
      available: false,
      value: null,
    });
  });

  it('has nothing to show for no calls', () => {
    const s = signatureOf([]);
    expect(s.score).toBe(0);
    expect(s.signals.filter((x) => x.available).map((x) => x.name)).toEqual(['many-calls']);
  });
});
