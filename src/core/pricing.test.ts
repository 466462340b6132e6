import { describe, expect, it } from 'vitest';
import { costOf, type RateCard, ratesFor, ratesFromPerMTok, scaleCard } from './pricing.js';
import { emptyUsage, type UsageBuckets } from './usage.js';

function usage(p: Partial<UsageBuckets>): UsageBuckets {
  return { ...emptyUsage(), ...p };
}

// Claude Sonnet 4.5's published prices, typed in by hand ($/MTok):
// base  input 3, output 15, cache read 0.3, 5m write 3.75, 1h write 6, web search $10/1k
// >200k input 6, output 22.5, cache read 0.6, 5m write 7.5, 1h write 12
const SONNET: RateCard = {
  base: ratesFromPerMTok({
    input: 3,
    output: 15,
    cacheRead: 0.3,
    cacheWrite5m: 3.75,
    cacheWrite1h: 6,
    webSearchPerThousand: 10,
  }),
  tiers: [
    {
      aboveInputTokens: 200_000,
      rates: ratesFromPerMTok({
        input: 6,
        output: 22.5,
        cacheRead: 0.6,
        cacheWrite5m: 7.5,
        cacheWrite1h: 12,
        webSearchPerThousand: 10,
      }),
    },
  ],
};

describe('ratesFromPerMTok', () => {
  it('converts every field to pico-dollars per token', () => {
    expect(SONNET.base).toEqual({
      input: 3_000_000,
      output: 15_000_000,
      cacheRead: 300_000,
      cacheWrite5m: 3_750_000,
      cacheWrite1h: 6_000_000,
      // $10 per 1,000 searches = $0.01 per search = 1e10 pico
      webSearch: 10_000_000_000,
    });
  });

  it('falls back to the input rate for missing cache rates, and 1h writes to the 5m rate', () => {
    expect(ratesFromPerMTok({ input: 2, output: 8 })).toEqual({
      input: 2_000_000,
      output: 8_000_000,
      cacheRead: 2_000_000,
      cacheWrite5m: 2_000_000,
      cacheWrite1h: 2_000_000,
      webSearch: 0,
    });
    expect(ratesFromPerMTok({ input: 2, output: 8, cacheWrite5m: 2.5 }).cacheWrite1h).toBe(2_500_000);
  });
});

describe('costOf', () => {
  it('prices every bucket at its own base rate', () => {
    const u = usage({
      inputTokens: 1000,
      outputTokens: 500,
      cacheReadTokens: 2000,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 100,
      webSearchRequests: 1,
    });
    // 1000×$3 + 500×$15 + 2000×$0.3 + 100×$3.75 + 100×$6 (per MTok) = 3000+7500+600+375+600 = 12,075 µ$
    // + 1 web search × $0.01 = 10,000 µ$  → 22,075 µ$ = 22,075,000 nano
    expect(costOf(u, SONNET)).toBe(22_075_000);
  });

  it('does not count reasoning tokens twice (they are inside output)', () => {
    // 1000 output × $15/MTok = 15,000 µ$ whatever the reasoning part is
    expect(costOf(usage({ outputTokens: 1000, reasoningTokens: 800 }), SONNET)).toBe(15_000_000);
  });

  it('uses base rates at exactly 200,000 input tokens', () => {
    // 200,000 cache reads × $0.3 = 60,000 µ$ ; 1,000 output × $15 = 15,000 µ$ → 75,000 µ$
    expect(costOf(usage({ cacheReadTokens: 200_000, outputTokens: 1000 }), SONNET)).toBe(75_000_000);
  });

  it('prices the WHOLE request (output included) at the tier once total input is above 200,000', () => {
    // 1 uncached + 200,000 cache reads = 200,001 > 200,000 → tier
    // 1×$6 + 200,000×$0.6 + 1,000 output×$22.5 = 6 + 120,000 + 22,500 = 142,506 µ$
    expect(costOf(usage({ inputTokens: 1, cacheReadTokens: 200_000, outputTokens: 1000 }), SONNET)).toBe(
      142_506_000,
    );
  });

  it('counts cache writes (5m and 1h) toward the tier threshold', () => {
    // 150,000 + 60,000 writes = 210,000 input → tier: 150,000×$7.5 + 60,000×$12 = 1,125,000 + 720,000 µ$
    expect(costOf(usage({ cacheWrite5mTokens: 150_000, cacheWrite1hTokens: 60_000 }), SONNET)).toBe(
      1_845_000_000,
    );
    // the same 210,000 tokens as uncached input: 210,000 × $6 = 1,260,000 µ$
    expect(costOf(usage({ inputTokens: 210_000 }), SONNET)).toBe(1_260_000_000);
  });

  it('300k input of which 250k cache reads + 1k output costs $0.4725', () => {
    // tier: 50,000×$6 + 250,000×$0.6 + 1,000×$22.5 = 300,000 + 150,000 + 22,500 µ$ = $0.4725
    const u = usage({ inputTokens: 50_000, cacheReadTokens: 250_000, outputTokens: 1000 });
    expect(costOf(u, SONNET)).toBe(472_500_000);
  });

  it('rounds the request total once, half up, to nano-dollars', () => {
    const card: RateCard = { base: ratesFromPerMTok({ input: 0.000001, output: 0 }), tiers: [] };
    // 1,500 tokens × 1 pico = 1,500 pico = 1.5 nano → 2 ; 1,499 → 1
    expect(costOf(usage({ inputTokens: 1500 }), card)).toBe(2);
    expect(costOf(usage({ inputTokens: 1499 }), card)).toBe(1);
    // 1 cache read at $0.3/MTok = 300,000 pico = 300 nano exactly
    expect(costOf(usage({ cacheReadTokens: 1 }), SONNET)).toBe(300);
  });

  it('prices tokens of unknown kind at the input-share blend (85% input by default)', () => {
    // 1,000 unsplit × (0.85 × $3 + 0.15 × $15)/MTok = 1,000 × $4.80/MTok = 4,800 µ$
    expect(costOf(usage({ unsplitTokens: 1000 }), SONNET)).toBe(4_800_000);
    // share 0.5: 1,000 × (0.5 × $3 + 0.5 × $15) = 1,000 × $9/MTok = 9,000 µ$
    expect(costOf(usage({ unsplitTokens: 1000 }), SONNET, 0.5)).toBe(9_000_000);
    // added to the exact buckets: 1,000 input × $3 = 3,000 µ$ + 4,800 µ$
    expect(costOf(usage({ inputTokens: 1000, unsplitTokens: 1000 }), SONNET)).toBe(7_800_000);
  });

  it('is zero for empty usage', () => {
    expect(costOf(emptyUsage(), SONNET)).toBe(0);
  });
});

describe('ratesFor', () => {
  it('picks the highest tier whose threshold the total input is above', () => {
    const r = (n: number) => ratesFromPerMTok({ input: n, output: n });
    const card: RateCard = {
      base: r(1),
      tiers: [
        { aboveInputTokens: 100, rates: r(2) },
        { aboveInputTokens: 1000, rates: r(3) },
      ],
    };
    expect(ratesFor(card, usage({ inputTokens: 100 }))).toBe(card.base);
    expect(ratesFor(card, usage({ inputTokens: 101 }))).toBe(card.tiers[0]!.rates);
    expect(ratesFor(card, usage({ inputTokens: 1000 }))).toBe(card.tiers[0]!.rates);
    // 600 reads + 300 5m writes + 100 1h writes + 1 input = 1,001 > 1,000
    expect(
      ratesFor(
        card,
        usage({ inputTokens: 1, cacheReadTokens: 600, cacheWrite5mTokens: 300, cacheWrite1hTokens: 100 }),
      ),
    ).toBe(card.tiers[1]!.rates);
    // output does not count toward the threshold
    expect(ratesFor(card, usage({ inputTokens: 50, outputTokens: 100_000 }))).toBe(card.base);
  });
});

describe('scaleCard', () => {
  it('multiplies every rate of every tier and keeps the thresholds', () => {
    const fast = scaleCard(SONNET, 6);
    expect(fast.base).toEqual({
      input: 18_000_000,
      output: 90_000_000,
      cacheRead: 1_800_000,
      cacheWrite5m: 22_500_000,
      cacheWrite1h: 36_000_000,
      webSearch: 60_000_000_000,
    });
    expect(fast.tiers).toHaveLength(1);
    expect(fast.tiers[0]!.aboveInputTokens).toBe(200_000);
    // tier input $6 × 6 = $36/MTok
    expect(fast.tiers[0]!.rates.input).toBe(36_000_000);
    expect(fast.tiers[0]!.rates.output).toBe(135_000_000);
    // the original is not modified
    expect(SONNET.base.input).toBe(3_000_000);
  });

  it('scaled costs are the factor times the base cost for integer rates', () => {
    const u = usage({
      inputTokens: 1000,
      outputTokens: 500,
      cacheReadTokens: 2000,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 100,
      webSearchRequests: 1,
    });
    // 6 × 22,075,000 (see costOf above)
    expect(costOf(u, scaleCard(SONNET, 6))).toBe(132_450_000);
    // factor 1.5 on $0.3/MTok = $0.45/MTok = 450,000 pico
    expect(scaleCard(SONNET, 1.5).base.cacheRead).toBe(450_000);
  });
});
