import { describe, expect, it } from 'vitest';
import { createPriceBook } from '../../prices/price-book.js';
import type { PriceBook, UsageBuckets, UsageEvent } from './deps.js';
import { measuredSavings, routingCandidates, splitAt, whatIf } from './whatif.js';

// Round stub rates, in pico-dollars per token (= $ per million tokens × 1,000,000):
//   big:   $10 in, $50 out, $1 cache read, $12.50 5m write, $20 1h write
//   mid:   $5 in, $25 out
//   small: $1 in, $5 out, $0.10 cache read, $1.25 5m write, $2 1h write (small2: the same)
const rates = (input: number, output: number, cacheRead: number, w5: number, w1: number) => ({
  base: { input, output, cacheRead, cacheWrite5m: w5, cacheWrite1h: w1, webSearch: 0 },
  tiers: [],
});
const CARDS: Record<string, ReturnType<typeof rates>> = {
  big: rates(10_000_000, 50_000_000, 1_000_000, 12_500_000, 20_000_000),
  mid: rates(5_000_000, 25_000_000, 500_000, 6_250_000, 10_000_000),
  small: rates(1_000_000, 5_000_000, 100_000, 1_250_000, 2_000_000),
  small2: rates(1_000_000, 5_000_000, 100_000, 1_250_000, 2_000_000),
};
const stub: PriceBook = {
  version: 'stub',
  quote: (req) => {
    const card = CARDS[req.model];
    return card
      ? { matchedModel: req.model, provider: 'stub', card, source: 'stub', estimated: false }
      : null;
  },
};

const T0 = Date.UTC(2026, 2, 10, 12);
let seq = 0;
function ev(p: {
  model?: string;
  nano: number | null;
  agent?: string;
  stage?: string;
  run?: string;
  ts?: number;
  tags?: Record<string, string>;
  usage?: Partial<UsageBuckets>;
}): UsageEvent {
  return {
    id: `w${++seq}`,
    ts: p.ts ?? T0,
    source: 'meter',
    provider: 'anthropic',
    model: p.model ?? 'big',
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
      ...(p.stage ? { stage: p.stage } : {}),
      ...(p.run ? { run: p.run } : {}),
      ...(p.tags ? { tags: p.tags } : {}),
    },
  };
}

describe('whatIf (stub book, round rates)', () => {
  // e1 on big: 1,000 in × 10,000,000 + 200 out × 50,000,000 = 2e10 pico = 20,000,000 nano
  //    on small: 1,000 × 1,000,000 + 200 × 5,000,000 = 2e9 pico = 2,000,000 nano
  // e2 on big: 10,000 cache reads × 1,000,000 + 1,000 5m writes × 12,500,000 + 100 out × 50,000,000
  //    = 1e10 + 1.25e10 + 5e9 = 2.75e10 pico = 27,500,000 nano
  //    on small: 10,000 × 100,000 + 1,000 × 1,250,000 + 100 × 5,000,000 = 2.75e9 pico = 2,750,000 nano
  const events = [
    ev({ agent: 'planner', nano: 20_000_000, usage: { inputTokens: 1_000, outputTokens: 200 } }),
    ev({
      agent: 'planner',
      nano: 27_500_000,
      usage: { cacheReadTokens: 10_000, cacheWrite5mTokens: 1_000, outputTokens: 100 },
    }),
    ev({ agent: 'planner', model: 'mystery', nano: null, usage: { inputTokens: 5_000 } }),
    ev({ agent: 'coder', nano: 99_000_000, usage: { inputTokens: 9_900 } }),
  ];

  it('re-prices the slice with its real buckets and leaves unpriced events out of both sides', () => {
    const w = whatIf(events, { agent: 'planner' }, 'small', stub);
    expect(w).toEqual({
      slice: { agent: 'planner' },
      label: 'agent=planner',
      targetModel: 'small',
      events: 3,
      comparedEvents: 2,
      // 20,000,000 + 27,500,000
      actualNano: 47_500_000,
      // 2,000,000 + 2,750,000
      counterfactualNano: 4_750_000,
      savingsNano: 42_750_000,
      // 42,750,000 / 47,500,000
      savingsShare: 0.9,
      unpricedActual: 1,
      unpricedTarget: 0,
      fromModels: ['big', 'mystery'],
      estimated: true,
    });
  });

  it('reports a dearer target as negative savings', () => {
    // small → big: e on small 100 in, 10 out = 1e8 + 5e7 = 150,000 nano; on big 1e9 + 5e8 = 1,500,000
    const w = whatIf(
      [ev({ model: 'small', nano: 150_000, usage: { inputTokens: 100, outputTokens: 10 } })],
      {},
      'big',
      stub,
    );
    expect([w.actualNano, w.counterfactualNano, w.savingsNano, w.savingsShare]).toEqual([
      150_000, 1_500_000, -1_350_000, -9,
    ]);
  });

  it('prices tokens of unknown kind at the default 85% input blend', () => {
    // 1,000 unsplit tokens on small: 1,000 × (850 × 1,000,000 + 150 × 5,000,000) / 1,000 = 1.6e9 pico
    const w = whatIf([ev({ nano: 16_000_000, usage: { unsplitTokens: 1_000 } })], {}, 'small', stub);
    expect(w.counterfactualNano).toBe(1_600_000);
    expect(w.savingsNano).toBe(14_400_000);
  });

  it('counts events the target cannot price and compares nothing for them', () => {
    const w = whatIf(events, { agent: 'planner' }, 'no-such-model', stub, 'anthropic');
    expect(w).toMatchObject({
      targetProvider: 'anthropic',
      events: 3,
      comparedEvents: 0,
      actualNano: 0,
      counterfactualNano: 0,
      savingsNano: 0,
      savingsShare: 0,
      unpricedActual: 1,
      unpricedTarget: 2,
      estimated: true,
    });
  });

  it('is empty for a slice that matches nothing, and for all-unpriced slices', () => {
    expect(whatIf(events, { agent: 'nobody' }, 'small', stub)).toMatchObject({
      events: 0,
      comparedEvents: 0,
      actualNano: 0,
      fromModels: [],
      estimated: true,
    });
    expect(whatIf([], {}, 'small', stub).events).toBe(0);
    expect(whatIf([events[2]!], {}, 'small', stub)).toMatchObject({
      events: 1,
      comparedEvents: 0,
      unpricedActual: 1,
    });
  });
});

describe('whatIf (the real price book)', () => {
  const book = createPriceBook();
  const t = Date.UTC(2026, 2, 10, 12);

  it('uses the published per-MTok prices of the models', () => {
    // The rates the expectations below are computed from ($/MTok as pico per token):
    const card = (m: string) => book.quote({ model: m, provider: 'anthropic', time: t })?.card;
    expect(card('claude-opus-4-1')?.base).toMatchObject({
      input: 15_000_000,
      output: 75_000_000,
      cacheRead: 1_500_000,
      cacheWrite5m: 18_750_000,
    });
    expect(card('claude-haiku-4-5')?.base).toMatchObject({
      input: 1_000_000,
      output: 5_000_000,
      cacheRead: 100_000,
      cacheWrite5m: 1_250_000,
    });
    expect(card('claude-sonnet-4-5')?.base).toMatchObject({
      input: 3_000_000,
      output: 15_000_000,
      cacheRead: 300_000,
      cacheWrite5m: 3_750_000,
    });
    // Sonnet 4.5 above 200k input tokens: $6 in, $22.50 out
    expect(card('claude-sonnet-4-5')?.tiers[0]).toMatchObject({
      aboveInputTokens: 200_000,
      rates: { input: 6_000_000, output: 22_500_000 },
    });
  });

  it('re-prices Opus 4.1 calls at Haiku 4.5 and Sonnet 4.5, long-context tier included', () => {
    // a: 2,000 in, 1,000 out, 100,000 cache reads, 10,000 5m writes (112,000 input-side: base tier)
    //    Opus:   2,000 × 15e6 + 1,000 × 75e6 + 100,000 × 1.5e6 + 10,000 × 18.75e6 = 4.425e11 pico = 442,500,000
    //    Haiku:  2,000 × 1e6 + 1,000 × 5e6 + 100,000 × 1e5 + 10,000 × 1.25e6 = 2.95e10 pico = 29,500,000
    //    Sonnet: 2,000 × 3e6 + 1,000 × 15e6 + 100,000 × 3e5 + 10,000 × 3.75e6 = 8.85e10 pico = 88,500,000
    // b: 250,000 in, 2,000 out (above 200k)
    //    Opus (no tier): 250,000 × 15e6 + 2,000 × 75e6 = 3.9e12 pico = 3,900,000,000
    //    Haiku:  250,000 × 1e6 + 2,000 × 5e6 = 2.6e11 pico = 260,000,000
    //    Sonnet at the >200k tier: 250,000 × 6e6 + 2,000 × 22.5e6 = 1.545e12 pico = 1,545,000,000
    const a = ev({
      model: 'claude-opus-4-1',
      agent: 'reviewer',
      ts: t,
      nano: 442_500_000,
      usage: {
        inputTokens: 2_000,
        outputTokens: 1_000,
        cacheReadTokens: 100_000,
        cacheWrite5mTokens: 10_000,
      },
    });
    const b = ev({
      model: 'claude-opus-4-1',
      agent: 'reviewer',
      ts: t,
      nano: 3_900_000_000,
      usage: { inputTokens: 250_000, outputTokens: 2_000 },
    });
    const haiku = whatIf([a, b], { agent: 'reviewer' }, 'claude-haiku-4-5', book, 'anthropic');
    // actual 442,500,000 + 3,900,000,000 = 4,342,500,000; Haiku 29,500,000 + 260,000,000 = 289,500,000
    expect([haiku.actualNano, haiku.counterfactualNano, haiku.savingsNano]).toEqual([
      4_342_500_000, 289_500_000, 4_053_000_000,
    ]);
    const sonnet = whatIf([a, b], { agent: 'reviewer' }, 'claude-sonnet-4-5', book);
    // Sonnet 88,500,000 + 1,545,000,000 = 1,633,500,000; savings 2,709,000,000
    expect([sonnet.counterfactualNano, sonnet.savingsNano]).toEqual([1_633_500_000, 2_709_000_000]);
    expect(sonnet.estimated).toBe(true);
  });
});

describe('routingCandidates', () => {
  // classifier: 25 calls on big, 2,000 in / 20 out: 2e10 + 1e9 = 2.1e10 pico = 21,000,000 each → 525,000,000
  //   small: 2e9 + 1e8 = 2,100,000 each → 52,500,000 (saves 472,500,000)
  //   mid: 1e10 + 5e8 = 10,500,000 each → 262,500,000 (saves 262,500,000)
  //   signature: 25 calls ≥ 20; 20/2,000 = 0.01 < 0.1; 20 out < 400; no tool counts → score 3
  // writer: 2 calls on big, 1,000 in / 4,000 out: 1e10 + 2e11 = 210,000,000 each → 420,000,000
  //   signature: 2 calls; ratio 4; 4,000 out → score 0: dear, but not mechanical
  // fanout: 20 workflow agents on big, 1,000 unsplit tokens, 3 tool calls each:
  //   big 1,000 × (850 × 1e7 + 150 × 5e7) / 1,000 = 1.6e10 pico = 16,000,000 each → 320,000,000
  //   small 1.6e9 pico = 1,600,000 each → 32,000,000 (saves 288,000,000)
  //   mid 1,000 × (850 × 5e6 + 150 × 25e6) / 1,000 = 8e9 pico → 160,000,000 (saves 160,000,000)
  //   signature: 20 calls ≥ 20; token signals unavailable (no split); 3 tools/call ≥ 1 → score 2
  // tiny: 1 call on small, 150,000 nano: 0.01% of the spend, never considered
  // total 525,000,000 + 420,000,000 + 320,000,000 + 150,000 = 1,265,150,000
  const classifier = Array.from({ length: 25 }, () =>
    ev({
      agent: 'classifier',
      stage: 'classify',
      nano: 21_000_000,
      usage: { inputTokens: 2_000, outputTokens: 20 },
    }),
  );
  const writer = Array.from({ length: 2 }, () =>
    ev({
      agent: 'writer',
      stage: 'write',
      nano: 210_000_000,
      usage: { inputTokens: 1_000, outputTokens: 4_000 },
    }),
  );
  const fanout = Array.from({ length: 20 }, () =>
    ev({ agent: 'fanout', nano: 16_000_000, usage: { unsplitTokens: 1_000 }, tags: { toolCalls: '3' } }),
  );
  const tiny = [
    ev({ agent: 'tiny', model: 'small', nano: 150_000, usage: { inputTokens: 100, outputTokens: 10 } }),
  ];
  const events = [...classifier, ...writer, ...fanout, ...tiny];

  it('ranks high-spend mechanical slices by their best target’s savings', () => {
    const r = routingCandidates(events, stub, { targets: ['mid', 'small'], dimensions: ['agent'] });
    expect(r.totalNano).toBe(1_265_150_000);
    // classifier 41.5%, writer 33.2%, fanout 25.3% pass 5%; tiny does not
    expect(r.consideredSlices).toBe(3);
    expect(r.availableSignals).toEqual(['low-output-ratio', 'many-calls', 'short-outputs', 'tool-heavy']);
    expect(r.estimated).toBe(true);
    expect(
      r.candidates.map((c) => [c.key, c.best.targetModel, c.best.savingsNano, c.signature.score]),
    ).toEqual([
      ['classifier', 'small', 472_500_000, 3],
      ['fanout', 'small', 288_000_000, 2],
    ]);
    const [c, f] = r.candidates;
    expect(c!.costNano).toBe(525_000_000);
    expect(c!.spendShare).toBe(525_000_000 / 1_265_150_000);
    // every target tried, best first
    expect(c!.targets.map((t) => [t.targetModel, t.savingsNano])).toEqual([
      ['small', 472_500_000],
      ['mid', 262_500_000],
    ]);
    expect(f!.targets.map((t) => [t.targetModel, t.savingsNano])).toEqual([
      ['small', 288_000_000],
      ['mid', 160_000_000],
    ]);
    // the workflow slice cannot show token signals: unavailable, not "not mechanical"
    expect(f!.signature.signals.map((s) => [s.name, s.available, s.fired, s.value])).toEqual([
      ['many-calls', true, true, 20],
      ['low-output-ratio', false, false, null],
      ['short-outputs', false, false, null],
      ['tool-heavy', true, true, 3],
    ]);
    expect(c!.signature.signals.map((s) => [s.name, s.fired, s.value])).toEqual([
      ['many-calls', true, 25],
      ['low-output-ratio', true, 0.01],
      ['short-outputs', true, 20],
      ['tool-heavy', false, null],
    ]);
  });

  it('tries agent, stage and task slices by default (the same calls may show under two names)', () => {
    const r = routingCandidates(events, stub, { targets: ['small'] });
    // agents classifier/writer/fanout (tiny too small) + stages classify/write; no task is named
    expect(r.consideredSlices).toBe(5);
    // classifier and classify tie on savings and score: by name ('classifier' < 'classify')
    expect(r.candidates.map((c) => `${c.dimension}:${c.key}`)).toEqual([
      'agent:classifier',
      'stage:classify',
      'agent:fanout',
    ]);
    expect(r.candidates[1]!.slice).toEqual({ stage: 'classify' });
  });

  it('keeps the caller’s order of preference when targets save the same', () => {
    const r = routingCandidates(classifier, stub, { targets: ['small2', 'small'], dimensions: ['agent'] });
    expect(r.candidates[0]!.best.targetModel).toBe('small2');
  });

  it('applies the spend and signal thresholds from the options', () => {
    // writer passes with 0 signals required; fanout (25.3%) fails a 30% spend floor
    const r = routingCandidates(events, stub, {
      targets: ['small'],
      dimensions: ['agent'],
      minSignals: 0,
      minSpendShare: 0.3,
    });
    expect(r.candidates.map((c) => c.key)).toEqual(['classifier', 'writer']);
  });

  it('offers nothing when no target is cheaper, nothing is priced, or there are no events', () => {
    expect(routingCandidates(events, stub, { targets: ['big'], dimensions: ['agent'] }).candidates).toEqual(
      [],
    );
    const unpriced = classifier.map((e) => ({ ...e, cost: { ...e.cost, nanoUsd: null } }));
    expect(routingCandidates(unpriced, stub, { targets: ['small'] })).toMatchObject({
      candidates: [],
      consideredSlices: 0,
      totalNano: 0,
    });
    expect(routingCandidates([], stub, { targets: ['small'] }).candidates).toEqual([]);
  });
});

describe('measuredSavings', () => {
  const change = Date.UTC(2026, 2, 1);
  const day = 86_400_000;
  // before (on big): 3 calls × 21,000,000 in runs r1 (2 calls) and r2 (1 call)
  // after (on small): 4 calls × 2,100,000 in runs r3 and r4 (2 each), an unpriced call in r5,
  //   and a priced 2,100,000 call with no run
  const ledger = [
    ev({ agent: 'classifier', run: 'r1', nano: 21_000_000, ts: change - 3 * day }),
    ev({ agent: 'classifier', run: 'r1', nano: 21_000_000, ts: change - 3 * day }),
    ev({ agent: 'classifier', run: 'r2', nano: 21_000_000, ts: change - day }),
    ev({ agent: 'writer', run: 'r2', nano: 500_000_000, ts: change - day }),
    ev({ agent: 'classifier', model: 'small', run: 'r3', nano: 2_100_000, ts: change }),
    ev({ agent: 'classifier', model: 'small', run: 'r3', nano: 2_100_000, ts: change }),
    ev({ agent: 'classifier', model: 'small', run: 'r4', nano: 2_100_000, ts: change + day }),
    ev({ agent: 'classifier', model: 'small', run: 'r4', nano: 2_100_000, ts: change + day }),
    ev({ agent: 'classifier', model: 'mystery', run: 'r5', nano: null, ts: change + day }),
    ev({ agent: 'classifier', model: 'small', nano: 2_100_000, ts: change + 2 * day }),
  ];
  const { before, after } = splitAt(ledger, change);

  it('splits at the change: before is strictly earlier', () => {
    expect([before.length, after.length]).toEqual([4, 6]);
  });

  it('compares the cost per call', () => {
    const m = measuredSavings(before, after, { agent: 'classifier' });
    // before 63,000,000 / 3 = 21,000,000; after 10,500,000 / 5 = 2,100,000 (the unpriced call left out)
    expect(m.before).toEqual({
      units: 3,
      costNano: 63_000_000,
      perUnitNano: 21_000_000,
      excluded: 0,
      noRun: 0,
    });
    expect(m.after).toEqual({
      units: 5,
      costNano: 10_500_000,
      perUnitNano: 2_100_000,
      excluded: 1,
      noRun: 0,
    });
    expect(m.savingsPerUnitNano).toBe(18_900_000);
    // 18,900,000 / 21,000,000
    expect(m.savingsShare).toBe(0.9);
    // the 5 after-calls at the before rate: 63,000,000 × 5 / 3 = 105,000,000, minus 10,500,000
    expect(m.savingsNano).toBe(94_500_000);
    expect(m.estimated).toBe(false);
    expect(m.label).toBe('agent=classifier');
  });

  it('compares the cost per run, leaving out runs with an unpriced call and calls without a run', () => {
    const m = measuredSavings(before, after, { agent: 'classifier' }, 'run');
    // before: r1 42,000,000 + r2 21,000,000 (the writer is outside the slice) over 2 runs = 31,500,000
    expect(m.before).toEqual({
      units: 2,
      costNano: 63_000_000,
      perUnitNano: 31_500_000,
      excluded: 0,
      noRun: 0,
    });
    // after: r3 4,200,000 + r4 4,200,000 over 2 runs; r5 left out (unpriced); 1 call without a run
    expect(m.after).toEqual({ units: 2, costNano: 8_400_000, perUnitNano: 4_200_000, excluded: 1, noRun: 1 });
    expect(m.savingsPerUnitNano).toBe(27_300_000);
    // (63,000,000 × 2 − 8,400,000 × 2) / (63,000,000 × 2) = 109,200,000 / 126,000,000
    expect(m.savingsShare).toBe(109_200_000 / 126_000_000);
    // 63,000,000 × 2 / 2 − 8,400,000
    expect(m.savingsNano).toBe(54_600_000);
  });

  it('has no figure when a side is empty', () => {
    const m = measuredSavings(before, [], { agent: 'classifier' });
    expect(m.after.units).toBe(0);
    expect(m.after.perUnitNano).toBeNull();
    expect([m.savingsPerUnitNano, m.savingsShare, m.savingsNano]).toEqual([null, null, null]);
    expect(measuredSavings([], [], { agent: 'nobody' }).savingsNano).toBeNull();
  });

  it('rounds the per-call saving once, from the exact difference', () => {
    // before 10 nano / 3 calls = 3.33…, after 2 nano / 1 call: (10 − 6) / 3 = 1.33… → 1
    const b = [ev({ nano: 3 }), ev({ nano: 3 }), ev({ nano: 4 })];
    const m = measuredSavings(b, [ev({ nano: 2 })], {});
    expect(m.before.perUnitNano).toBe(3);
    expect(m.savingsPerUnitNano).toBe(1);
    // 10 × 1 / 3 = 3.33 → 3, minus 2
    expect(m.savingsNano).toBe(1);
  });
});
