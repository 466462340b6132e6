import { describe, expect, it } from 'vitest';
import {
  addUsage,
  cacheWriteTokens,
  emptyUsage,
  totalInputTokens,
  totalTokens,
  type UsageBuckets,
} from './usage.js';

const u: UsageBuckets = {
  ...emptyUsage(),
  inputTokens: 1,
  cacheReadTokens: 20,
  cacheWrite5mTokens: 300,
  cacheWrite1hTokens: 4000,
  outputTokens: 50_000,
  reasoningTokens: 40_000,
  webSearchRequests: 7,
};

describe('usage buckets', () => {
  it('sums the disjoint buckets without counting reasoning twice', () => {
    expect(cacheWriteTokens(u)).toBe(4300); // 300 + 4000
    expect(totalInputTokens(u)).toBe(4321); // 1 + 20 + 300 + 4000
    expect(totalTokens(u)).toBe(54_321); // 4321 + 50,000 (reasoning is inside output)
  });

  it('counts tokens of unknown kind in totals but not as input', () => {
    const w = { ...emptyUsage(), inputTokens: 10, outputTokens: 5, unsplitTokens: 1000 };
    expect(totalInputTokens(w)).toBe(10);
    expect(totalTokens(w)).toBe(1015); // 10 + 5 + 1000
  });

  it('addUsage adds every bucket in place', () => {
    const a = emptyUsage();
    addUsage(a, u);
    addUsage(a, u);
    expect(a).toEqual({
      ...emptyUsage(),
      inputTokens: 2,
      cacheReadTokens: 40,
      cacheWrite5mTokens: 600,
      cacheWrite1hTokens: 8000,
      outputTokens: 100_000,
      reasoningTokens: 80_000,
      webSearchRequests: 14,
    });
    addUsage(a, { ...emptyUsage(), unsplitTokens: 5 });
    expect(a.unsplitTokens).toBe(5);
    // the added operand is untouched
    expect(u.inputTokens).toBe(1);
  });
});
