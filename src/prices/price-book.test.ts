import { describe, expect, it } from 'vitest';
import { costOf, priceEvent } from '../core/pricing.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { parsePriceOverrides } from './overrides.js';
import { createPriceBook, GENAI_PRICES_SOURCE } from './price-book.js';

const usage = (p: Partial<UsageBuckets>): UsageBuckets => ({ ...emptyUsage(), ...p });
const T = Date.parse('2026-01-09T10:00:00Z');

// Real @pydantic/genai-prices data, no overrides.
const book = createPriceBook();

function quote(model: string, time = T, speed?: string) {
  const q = book.quote({ model, provider: 'anthropic', time, ...(speed ? { speed } : {}) });
  if (!q) throw new Error(`no quote for ${model}`);
  return q;
}

describe('createPriceBook on the bundled genai-prices data', () => {
  it('identifies its data', () => {
    expect(book.version).toBe(GENAI_PRICES_SOURCE);
    expect(GENAI_PRICES_SOURCE).toBe('genai-prices@0.1.8');
    expect(createPriceBook({ overridesVersion: 'abc123' }).version).toBe('genai-prices@0.1.8+abc123');
  });

  it('quotes claude-sonnet-4-5 with its published rates and the >200k tier', () => {
    const q = quote('claude-sonnet-4-5');
    expect(q.matchedModel).toBe('claude-sonnet-4-5');
    expect(q.provider).toBe('anthropic');
    expect(q.source).toBe('genai-prices@0.1.8');
    expect(q.estimated).toBe(false);
    // $3 / $15 / $0.30 / $3.75 / $6 per MTok; web search $10/1k = 1e10 pico per search
    expect(q.card.base).toEqual({
      input: 3_000_000,
      output: 15_000_000,
      cacheRead: 300_000,
      cacheWrite5m: 3_750_000,
      cacheWrite1h: 6_000_000,
      webSearch: 10_000_000_000,
    });
    expect(q.card.tiers).toHaveLength(1);
    expect(q.card.tiers[0]!.aboveInputTokens).toBe(200_000);
    // >200k: $6 / $22.50 / $0.60 / $7.50 / $12
    expect(q.card.tiers[0]!.rates).toEqual({
      input: 6_000_000,
      output: 22_500_000,
      cacheRead: 600_000,
      cacheWrite5m: 7_500_000,
      cacheWrite1h: 12_000_000,
      webSearch: 10_000_000_000,
    });
  });

  it('100k 1h cache writes on claude-sonnet-4-5 cost $0.60 exactly', () => {
    // 100,000 × $6/MTok = $0.60
    expect(costOf(usage({ cacheWrite1hTokens: 100_000 }), quote('claude-sonnet-4-5').card)).toBe(600_000_000);
  });

  it('100k cache writes without a TTL split (5m rate) cost $0.375', () => {
    // 100,000 × $3.75/MTok = $0.375
    expect(costOf(usage({ cacheWrite5mTokens: 100_000 }), quote('claude-sonnet-4-5').card)).toBe(375_000_000);
  });

  it('300k input with 250k cache reads + 1k output is priced at the tier: $0.4725', () => {
    // 50,000 × $6 + 250,000 × $0.60 + 1,000 × $22.50 (per MTok) = $0.30 + $0.15 + $0.0225
    const u = usage({ inputTokens: 50_000, cacheReadTokens: 250_000, outputTokens: 1000 });
    expect(costOf(u, quote('claude-sonnet-4-5').card)).toBe(472_500_000);
  });

  it('matches dated model ids to the family entry', () => {
    const q = quote('claude-sonnet-4-20250514');
    expect(q.matchedModel).toBe('claude-sonnet-4-0');
    // claude-sonnet-4-0 has no >200k tier in this data: 300k input × $3 = $0.90
    expect(q.card.tiers).toEqual([]);
    expect(costOf(usage({ inputTokens: 300_000 }), q.card)).toBe(900_000_000);
    expect(quote('claude-haiku-4-5-20251001').matchedModel).toBe('claude-haiku-4-5');
    expect(quote('claude-sonnet-4-5-20250929').matchedModel).toBe('claude-sonnet-4-5');
  });

  it('uses the price valid at the time of the call', () => {
    // claude-opus-4-6: until 2026-03-12 input $5 / $10 above 200k; from 2026-03-13 a flat $5
    const u = usage({ inputTokens: 300_000 });
    // 300,000 × $10 = $3.00
    expect(costOf(u, quote('claude-opus-4-6', Date.parse('2026-03-10T06:00:00Z')).card)).toBe(3_000_000_000);
    // 300,000 × $5 = $1.50
    expect(costOf(u, quote('claude-opus-4-6', Date.parse('2026-03-20T06:00:00Z')).card)).toBe(1_500_000_000);
    // asked again for the first day (cached quote): still the old price
    expect(costOf(u, quote('claude-opus-4-6', Date.parse('2026-03-10T23:00:00Z')).card)).toBe(3_000_000_000);
  });

  it('answers each request for its own model, provider, speed and day when they alternate', () => {
    // The book remembers its last daily quote: every field of the request must be compared.
    const b = createPriceBook();
    const ask = (model: string, time = T, speed?: string, provider: string | undefined = 'anthropic') =>
      b.quote({ model, time, ...(provider ? { provider } : {}), ...(speed ? { speed } : {}) });
    const sonnet = ask('claude-sonnet-4-5');
    expect(ask('claude-sonnet-4-5')).toBe(sonnet);
    expect(ask('claude-haiku-4-5')?.matchedModel).toBe('claude-haiku-4-5');
    expect(ask('claude-sonnet-4-5')).toBe(sonnet);
    expect(ask('claude-sonnet-4-5', T, 'fast')?.estimated).toBe(true);
    expect(ask('claude-sonnet-4-5')?.estimated).toBe(false);
    expect(ask('no-such-model-xyz')).toBeNull();
    // Another provider is another request (the data then matches the model without the provider).
    const viaOther = ask('claude-sonnet-4-5', T, undefined, 'openai');
    expect(viaOther?.matchedModel).toBe('claude-sonnet-4-5');
    expect(viaOther).not.toBe(sonnet);
    expect(ask('claude-sonnet-4-5', T, undefined, 'openai')).toBe(viaOther);
    expect(ask('claude-sonnet-4-5')).toBe(sonnet);
    const opus = (day: string) =>
      costOf(usage({ inputTokens: 300_000 }), ask('claude-opus-4-6', Date.parse(day))!.card);
    expect(opus('2026-03-10T06:00:00Z')).toBe(3_000_000_000);
    expect(opus('2026-03-20T06:00:00Z')).toBe(1_500_000_000);
    expect(opus('2026-03-10T07:00:00Z')).toBe(3_000_000_000);
  });

  it('has no quote for an unknown model', () => {
    expect(book.quote({ model: 'no-such-model-xyz', provider: 'anthropic', time: T })).toBeNull();
    expect(book.quote({ model: 'no-such-model-xyz', time: T })).toBeNull();
  });

  it('prices fast mode at standard rates when no fast price is known, and says it is an estimate', () => {
    const std = quote('claude-opus-4-6');
    const fast = quote('claude-opus-4-6', T, 'fast');
    expect(fast.card).toEqual(std.card);
    expect(fast.estimated).toBe(true);
    expect(fast.note).toMatch(/fast/);
    expect(std.estimated).toBe(false);
    expect(std.note).toBeUndefined();
  });
});

describe('priceEvent with the real price book', () => {
  it('unknown models are unpriced (null), never $0', () => {
    const c = priceEvent(
      book,
      'no-such-model-xyz',
      'anthropic',
      T,
      usage({ inputTokens: 1000, outputTokens: 10 }),
    );
    expect(c.nanoUsd).toBeNull();
    expect(c.priceSource).toBe('genai-prices@0.1.8');
    expect(c.estimated).toBe(false);
    expect(c.note).toBe('unpriced: unknown model');
  });

  it('prices a known model exactly', () => {
    // claude-haiku-4-5: 1,000 × $1 + 200 × $5 + 3,000 reads × $0.10 + 400 5m writes × $1.25 + 500 1h writes × $2
    // = 1,000 + 1,000 + 300 + 500 + 1,000 = 3,800 µ$
    const c = priceEvent(
      book,
      'claude-haiku-4-5-20251001',
      'anthropic',
      T,
      usage({
        inputTokens: 1000,
        outputTokens: 200,
        cacheReadTokens: 3000,
        cacheWrite5mTokens: 400,
        cacheWrite1hTokens: 500,
      }),
    );
    expect(c).toEqual({ nanoUsd: 3_800_000, priceSource: 'genai-prices@0.1.8', estimated: false });
  });

  it('a fast call without a fast price is an estimate with a note', () => {
    // claude-opus-4-6 standard: 1,000 × $5 + 100 × $25 = 7,500 µ$
    const c = priceEvent(
      book,
      'claude-opus-4-6',
      'anthropic',
      T,
      usage({ inputTokens: 1000, outputTokens: 100 }),
      'fast',
    );
    expect(c.nanoUsd).toBe(7_500_000);
    expect(c.estimated).toBe(true);
    expect(c.note).toMatch(/fast/);
  });
});

describe('createPriceBook with overrides', () => {
  const overrides = parsePriceOverrides({
    models: {
      'my-finetune-*': { input_mtok: 2, output_mtok: 8 },
      'claude-sonnet-4-5': { input_mtok: 1, output_mtok: 2 },
      'claude-opus-4-6': { fast: { multiplier: 6 } },
      'claude-opus-4-5': { fast: { input_mtok: 30, output_mtok: 150 } },
    },
  });
  const ob = createPriceBook({ overrides, overridesVersion: 'o1' });

  it('prices models the data does not know', () => {
    const q = ob.quote({ model: 'my-finetune-v3', provider: 'acme', time: T });
    expect(q?.matchedModel).toBe('my-finetune-*');
    expect(q?.source).toBe('override');
    expect(q?.provider).toBe('acme');
    // 1,000 × $2 + 1,000 × $8 = 10,000 µ$
    expect(costOf(usage({ inputTokens: 1000, outputTokens: 1000 }), q!.card)).toBe(10_000_000);
    const c = priceEvent(ob, 'my-finetune-v3', 'acme', T, usage({ inputTokens: 1000, outputTokens: 1000 }));
    expect(c).toEqual({ nanoUsd: 10_000_000, priceSource: 'override', estimated: false });
  });

  it('an override replaces the data for a known model', () => {
    // 1,000 × $1 + 1,000 × $2 = 3,000 µ$ (data would say 3,000 + 15,000)
    const c = priceEvent(
      ob,
      'claude-sonnet-4-5',
      'anthropic',
      T,
      usage({ inputTokens: 1000, outputTokens: 1000 }),
    );
    expect(c.nanoUsd).toBe(3_000_000);
    expect(c.priceSource).toBe('override');
  });

  it('fast with {multiplier: 6} is 6× the standard rates and not an estimate', () => {
    const fast = ob.quote({ model: 'claude-opus-4-6', provider: 'anthropic', time: T, speed: 'fast' });
    const std = ob.quote({ model: 'claude-opus-4-6', provider: 'anthropic', time: T });
    expect(fast?.estimated).toBe(false);
    expect(fast?.note).toBeUndefined();
    expect(fast?.source).toBe('override');
    // $5 × 6 = $30/MTok input, $25 × 6 = $150 output, 1h write $10 × 6 = $60
    expect(fast?.card.base.input).toBe(30_000_000);
    expect(fast?.card.base.output).toBe(150_000_000);
    expect(fast?.card.base.cacheWrite1h).toBe(60_000_000);
    // the standard quote is untouched: genai-prices data, $5 input
    expect(std?.source).toBe('genai-prices@0.1.8');
    expect(std?.card.base.input).toBe(5_000_000);
    // (1,000 × $5 + 100 × $25) × 6 = 7,500 µ$ × 6 = 45,000 µ$
    const u = usage({ inputTokens: 1000, outputTokens: 100 });
    expect(priceEvent(ob, 'claude-opus-4-6', 'anthropic', T, u, 'fast')).toEqual({
      nanoUsd: 45_000_000,
      priceSource: 'override',
      estimated: false,
    });
    expect(priceEvent(ob, 'claude-opus-4-6', 'anthropic', T, u).nanoUsd).toBe(7_500_000);
  });

  it('fast with explicit rates uses those rates', () => {
    // 1,000 × $30 + 100 × $150 = 30,000 + 15,000 µ$
    const c = priceEvent(
      ob,
      'claude-opus-4-5',
      'anthropic',
      T,
      usage({ inputTokens: 1000, outputTokens: 100 }),
      'fast',
    );
    expect(c).toEqual({ nanoUsd: 45_000_000, priceSource: 'override', estimated: false });
  });

  it('a fast-only override does not price an unknown model', () => {
    const b = createPriceBook({
      overrides: parsePriceOverrides({ models: { 'ghost-*': { fast: { multiplier: 2 } } } }),
    });
    expect(b.quote({ model: 'ghost-1', time: T, speed: 'fast' })).toBeNull();
    expect(priceEvent(b, 'ghost-1', 'x', T, usage({ inputTokens: 1 }), 'fast').nanoUsd).toBeNull();
  });
});
