import { describe, expect, it } from 'vitest';
import type { UsageBuckets, UsageEvent } from './deps.js';
import { templateAudit } from './templates.js';

let seq = 0;
function ev(
  template: string | undefined,
  nano: number | null,
  agent: string,
  usage: Partial<UsageBuckets> = {},
) {
  const e: UsageEvent = {
    id: `p${++seq}`,
    ts: Date.UTC(2026, 2, 1),
    source: 'meter',
    provider: 'anthropic',
    model: nano === null ? 'mystery-model' : 'claude-sonnet-4-5',
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
    cost: { nanoUsd: nano, priceSource: 'test', estimated: false },
    attribution: { agentName: agent, ...(template ? { tags: { template } } : {}) },
  };
  return e;
}

describe('templateAudit', () => {
  // tpl-a: 5,000,000 + 3,000,000 = 8,000,000; input-side 1,000 + 9,000 cache reads + 10,000 = 20,000
  // tpl-b: 1,500,000 + an unpriced call; tpl-c: 1,500,000 (ties with tpl-b); no template: 500,000
  // total 8,000,000 + 1,500,000 + 1,500,000 + 500,000 = 11,500,000
  const events = [
    ev('tpl-a', 5_000_000, 'planner', { inputTokens: 1_000, cacheReadTokens: 9_000, outputTokens: 100 }),
    ev('tpl-a', 3_000_000, 'coder', { inputTokens: 10_000, outputTokens: 200 }),
    ev('tpl-b', 1_500_000, 'coder'),
    ev('tpl-b', null, 'coder'),
    ev(undefined, 500_000, 'tester'),
    ev('tpl-c', 1_500_000, 'tester'),
  ];

  it('ranks templates by cost and sums the rest', () => {
    const a = templateAudit(events, { top: 2 });
    expect(a.totalNano).toBe(11_500_000);
    expect(a.events).toBe(6);
    expect(a.unpricedEvents).toBe(1);
    expect(a.top).toEqual([
      {
        template: 'tpl-a',
        costNano: 8_000_000,
        share: 8_000_000 / 11_500_000,
        events: 2,
        pricedEvents: 2,
        unpricedEvents: 0,
        perCallNano: 4_000_000,
        inputTokens: 20_000,
        outputTokens: 300,
        // 9,000 of 20,000 input-side tokens were cache reads
        cacheReadShare: 0.45,
        agents: ['coder', 'planner'],
        models: ['claude-sonnet-4-5'],
      },
      {
        // tpl-b and tpl-c tie at 1,500,000: by id; the unpriced call is counted, not priced
        template: 'tpl-b',
        costNano: 1_500_000,
        share: 1_500_000 / 11_500_000,
        events: 2,
        pricedEvents: 1,
        unpricedEvents: 1,
        perCallNano: 1_500_000,
        inputTokens: 0,
        outputTokens: 0,
        cacheReadShare: null,
        agents: ['coder'],
        models: ['claude-sonnet-4-5', 'mystery-model'],
      },
    ]);
    // tpl-c 1,500,000 + (none) 500,000
    expect(a.rest).toEqual({ templates: 2, costNano: 2_000_000, events: 2, unpricedEvents: 0 });
  });

  it('groups calls without a template as (none), ranked like any other', () => {
    const a = templateAudit(events);
    expect(a.top.map((t) => [t.template, t.costNano])).toEqual([
      ['tpl-a', 8_000_000],
      ['tpl-b', 1_500_000],
      ['tpl-c', 1_500_000],
      ['(none)', 500_000],
    ]);
    expect(a.rest).toEqual({ templates: 0, costNano: 0, events: 0, unpricedEvents: 0 });
  });

  it('is empty without events, and shares nothing when all is unpriced', () => {
    expect(templateAudit([])).toEqual({
      totalNano: 0,
      events: 0,
      unpricedEvents: 0,
      top: [],
      rest: { templates: 0, costNano: 0, events: 0, unpricedEvents: 0 },
    });
    const a = templateAudit([ev('x', null, 'a')]);
    expect(a.top[0]).toMatchObject({
      template: 'x',
      costNano: 0,
      share: 0,
      unpricedEvents: 1,
      perCallNano: null,
    });
  });
});
