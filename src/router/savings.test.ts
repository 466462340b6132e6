import { describe, expect, it } from 'vitest';
import type { Attribution, UsageEvent } from '../core/event.js';
import { formatUsd } from '../core/money.js';
import { type PriceBook, type PriceRequest, type RateCard, ratesFromPerMTok } from '../core/pricing.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { attributionOf, MeterContext } from '../meter/context.js';
import { createPriceBook } from '../prices/price-book.js';
import { createRouter, type RoleTable, routeAttributes, savingsEstimate, trafficByRole } from './index.js';

function usage(u: Partial<UsageBuckets>): UsageBuckets {
  return { ...emptyUsage(), ...u };
}

/**
 * Round rates, $/MTok → pico-dollars per token (×1e6):
 * - big:    in 10, out 50, cache read 1,   write 5m 12.5, write 1h 20
 * - small:  in 1,  out 5,  cache read 0.1, write 5m 1.25, write 1h 2
 * - tiered: in 2,  out 10; above 100,000 input tokens: in 4, out 15
 * Anything else is unknown (unpriced).
 */
function stubBook(): PriceBook & { requests: PriceRequest[] } {
  const cards: Record<string, RateCard> = {
    big: {
      base: ratesFromPerMTok({ input: 10, output: 50, cacheRead: 1, cacheWrite5m: 12.5, cacheWrite1h: 20 }),
      tiers: [],
    },
    small: {
      base: ratesFromPerMTok({ input: 1, output: 5, cacheRead: 0.1, cacheWrite5m: 1.25, cacheWrite1h: 2 }),
      tiers: [],
    },
    tiered: {
      base: ratesFromPerMTok({ input: 2, output: 10 }),
      tiers: [{ aboveInputTokens: 100_000, rates: ratesFromPerMTok({ input: 4, output: 15 }) }],
    },
  };
  const requests: PriceRequest[] = [];
  return {
    version: 'stub@1',
    requests,
    quote(req) {
      requests.push(req);
      const card = cards[req.model];
      return card
        ? {
            matchedModel: req.model,
            provider: req.provider ?? 'stub',
            card,
            source: 'stub@1',
            estimated: false,
          }
        : null;
    },
  };
}

const NOW = Date.UTC(2025, 10, 1);

describe('savingsEstimate (stub price book, round rates)', () => {
  const roles: RoleTable = {
    fast: { model: 'small', provider: 'acme' },
    deep: { model: 'big', provider: 'acme' },
    local: { model: 'llama-local' },
  };
  const baseline = { model: 'big', provider: 'acme' };

  it('prices each role at its model and at the baseline, on the same buckets', () => {
    const book = stubBook();
    const est = savingsEstimate(
      [
        {
          role: 'fast',
          calls: 10,
          usage: usage({
            inputTokens: 100_000,
            outputTokens: 20_000,
            cacheReadTokens: 1_000_000,
            cacheWrite5mTokens: 10_000,
          }),
        },
        { role: 'deep', calls: 2, usage: usage({ inputTokens: 1_000, outputTokens: 3_000 }) },
        { role: 'local', calls: 4, usage: usage({ inputTokens: 50 }) },
        { role: 'ghost', calls: 1, usage: usage({ inputTokens: 50 }) },
      ],
      roles,
      baseline,
      book,
      NOW,
    );

    // fast on small:  100,000 × 1e6 + 20,000 × 5e6 + 1,000,000 × 1e5 + 10,000 × 1.25e6
    //               = 1e11 + 1e11 + 1e11 + 1.25e10 = 3.125e11 pico = 312,500,000 nano ($0.3125)
    // fast on big:    100,000 × 1e7 + 20,000 × 5e7 + 1,000,000 × 1e6 + 10,000 × 1.25e7
    //               = 1e12 + 1e12 + 1e12 + 1.25e11 = 3.125e12 pico = 3,125,000,000 nano ($3.125)
    const fast = est.roles[0]!;
    expect(fast).toMatchObject({
      role: 'fast',
      calls: 10,
      routed: { model: 'small', provider: 'acme', nanoUsd: 312_500_000 },
      baseline: { model: 'big', provider: 'acme', nanoUsd: 3_125_000_000 },
      savingsNanoUsd: 2_812_500_000,
    });
    expect(fast.unpriced).toBeUndefined();

    // deep on big, both ways: 1,000 × 1e7 + 3,000 × 5e7 = 1e10 + 1.5e11 = 1.6e11 pico = 160,000,000 nano
    expect(est.roles[1]).toMatchObject({
      role: 'deep',
      routed: { nanoUsd: 160_000_000 },
      baseline: { nanoUsd: 160_000_000 },
      savingsNanoUsd: 0,
    });

    // never $0: unpriced roles are listed with the reason and left out of the total
    // (local's baseline alone is priced: 50 × 1e7 pico = 5e8 pico = 500,000 nano)
    expect(est.roles[2]).toMatchObject({
      role: 'local',
      routed: { model: 'llama-local', nanoUsd: null },
      baseline: { model: 'big', nanoUsd: 500_000 },
      savingsNanoUsd: null,
      unpriced: 'unpriced model "llama-local"',
    });
    expect(est.roles[3]).toMatchObject({ role: 'ghost', routed: null, savingsNanoUsd: null });
    expect(est.unpriced).toEqual([
      { role: 'local', reason: 'unpriced model "llama-local"' },
      { role: 'ghost', reason: 'not a role of the role table' },
    ]);

    // total: fast + deep only. routed 312,500,000 + 160,000,000 = 472,500,000;
    // baseline 3,125,000,000 + 160,000,000 = 3,285,000,000; saved 2,812,500,000 ($2.81)
    expect(est.total).toEqual({
      calls: 12,
      routedNanoUsd: 472_500_000,
      baselineNanoUsd: 3_285_000_000,
      savingsNanoUsd: 2_812_500_000,
    });
    expect(formatUsd(est.total.savingsNanoUsd)).toBe('$2.81');
    expect(est.estimated).toBe(true);
    expect(est.priceVersion).toBe('stub@1');
    // priced at the given time, with the role's provider
    expect(book.requests[0]).toEqual({ model: 'small', provider: 'acme', time: NOW });
    expect(book.requests.every((r) => r.time === NOW)).toBe(true);
  });

  it('merges repeated roles and keeps the traffic order', () => {
    const est = savingsEstimate(
      [
        { role: 'deep', calls: 1, usage: usage({ outputTokens: 1_000 }) },
        { role: 'fast', calls: 1, usage: usage({ outputTokens: 1_000 }) },
        { role: 'deep', calls: 2, usage: usage({ outputTokens: 3_000 }) },
      ],
      roles,
      baseline,
      stubBook(),
      NOW,
    );
    // deep: 4,000 output tokens × 5e7 pico = 2e11 pico = 200,000,000 nano both ways
    expect(est.roles.map((r) => [r.role, r.calls, r.usage.outputTokens, r.routed?.nanoUsd])).toEqual([
      ['deep', 3, 4_000, 200_000_000],
      ['fast', 1, 1_000, 5_000_000], // 1,000 × 5e6 pico = 5e9 pico = 5,000,000 nano
    ]);
  });

  it('a per-role baseline table; a role without a baseline is unpriced', () => {
    const est = savingsEstimate(
      [
        { role: 'fast', calls: 1, usage: usage({ inputTokens: 1_000_000 }) },
        { role: 'deep', calls: 1, usage: usage({ inputTokens: 1_000_000 }) },
      ],
      roles,
      { fast: { model: 'tiered' } },
      stubBook(),
      NOW,
    );
    // fast: small 1,000,000 × 1e6 = 1e12 pico = 1,000,000,000 nano; baseline tiered: one call of 1M input
    // (> 100,000) → tier rate 4e6: 4e12 pico = 4,000,000,000 nano; saved 3,000,000,000
    expect(est.roles[0]).toMatchObject({
      routed: { nanoUsd: 1_000_000_000 },
      baseline: { model: 'tiered', nanoUsd: 4_000_000_000 },
      savingsNanoUsd: 3_000_000_000,
    });
    expect(est.roles[0]!.baseline).not.toHaveProperty('provider');
    expect(est.unpriced).toEqual([{ role: 'deep', reason: 'no baseline for the role' }]);
    expect(est.total).toEqual({
      calls: 1,
      routedNanoUsd: 1_000_000_000,
      baselineNanoUsd: 4_000_000_000,
      savingsNanoUsd: 3_000_000_000,
    });
  });

  it('an unknown baseline model is unpriced too, and both reasons are given', () => {
    const est = savingsEstimate(
      [{ role: 'local', calls: 1, usage: usage({ inputTokens: 1 }) }],
      roles,
      { model: 'mystery' },
      stubBook(),
      NOW,
    );
    expect(est.unpriced).toEqual([
      { role: 'local', reason: 'unpriced model "llama-local"; unpriced baseline model "mystery"' },
    ]);
    expect(est.total).toEqual({ calls: 0, routedNanoUsd: 0, baselineNanoUsd: 0, savingsNanoUsd: 0 });
  });

  it('picks a long-context tier by the mean call, not by the summed volume', () => {
    const tieredRoles: RoleTable = { bulk: { model: 'tiered' }, long: { model: 'tiered' } };
    const est = savingsEstimate(
      [
        // 10 calls, 500,000 input in all: mean 50,000 ≤ 100,000 → base rates
        // 500,000 × 2e6 + 10,000 × 1e7 = 1e12 + 1e11 = 1.1e12 pico = 1,100,000,000 nano
        // (the summed 500,000 would have picked the tier: 2e12 + 1.5e11 = 2,150,000,000 nano)
        { role: 'bulk', calls: 10, usage: usage({ inputTokens: 500_000, outputTokens: 10_000 }) },
        // 2 calls, 300,000 input (cache reads count as input): mean 150,000 > 100,000 → tier rates
        // 200,000 × 4e6 + 100,000 cache reads × 4e6 (no cache price → input) + 2,000 × 1.5e7
        // = 8e11 + 4e11 + 3e10 = 1.23e12 pico = 1,230,000,000 nano
        {
          role: 'long',
          calls: 2,
          usage: usage({ inputTokens: 200_000, cacheReadTokens: 100_000, outputTokens: 2_000 }),
        },
      ],
      tieredRoles,
      { model: 'big' },
      stubBook(),
      NOW,
    );
    expect(est.roles.map((r) => r.routed?.nanoUsd)).toEqual([1_100_000_000, 1_230_000_000]);
    // bulk on big: 500,000 × 1e7 + 10,000 × 5e7 = 5e12 + 5e11 = 5.5e12 pico = 5,500,000,000 nano
    expect(est.roles[0]!.baseline?.nanoUsd).toBe(5_500_000_000);
  });

  it('prices tokens with no input/output split at the 85% input blend, on both sides', () => {
    const est = savingsEstimate(
      [{ role: 'fast', calls: 1, usage: usage({ unsplitTokens: 1_000 }) }],
      roles,
      baseline,
      stubBook(),
      NOW,
    );
    // small: 1,000 × (0.85 × 1e6 + 0.15 × 5e6) = 1,000 × 1.6e6 = 1.6e9 pico = 1,600,000 nano
    // big:   1,000 × (0.85 × 1e7 + 0.15 × 5e7) = 1,000 × 1.6e7 = 1.6e10 pico = 16,000,000 nano
    expect(est.total).toMatchObject({
      routedNanoUsd: 1_600_000,
      baselineNanoUsd: 16_000_000,
      savingsNanoUsd: 14_400_000,
    });
  });

  it('a negative saving when the routed model costs more', () => {
    const est = savingsEstimate(
      [{ role: 'deep', calls: 1, usage: usage({ outputTokens: 1_000 }) }],
      roles,
      { model: 'small' },
      stubBook(),
      NOW,
    );
    // big 1,000 × 5e7 = 5e10 pico = 50,000,000 nano; small 1,000 × 5e6 = 5,000,000 nano
    expect(est.total.savingsNanoUsd).toBe(-45_000_000);
  });
});

describe('savingsEstimate (real prices: claude-haiku-4-5 routed vs claude-opus-4-1 baseline)', () => {
  it('prices the same volume at both models', () => {
    const roles: RoleTable = { fast: { model: 'claude-haiku-4-5', provider: 'anthropic' } };
    const traffic = [
      {
        role: 'fast',
        calls: 100,
        usage: usage({
          inputTokens: 1_000_000,
          outputTokens: 200_000,
          cacheReadTokens: 5_000_000,
          cacheWrite5mTokens: 300_000,
          cacheWrite1hTokens: 100_000,
          webSearchRequests: 10,
        }),
      },
    ];
    const est = savingsEstimate(
      traffic,
      roles,
      { model: 'claude-opus-4-1', provider: 'anthropic' },
      createPriceBook(),
      NOW,
    );
    // Published $/MTok (genai-prices 0.1.8). Web search is $10 per 1,000 requests on both.
    // haiku-4-5: in 1, out 5, cache read 0.10, cache write 5m 1.25, 1h 2
    //   1M × $1 = $1 · 0.2M × $5 = $1 · 5M × $0.10 = $0.50 · 0.3M × $1.25 = $0.375 · 0.1M × $2 = $0.20
    //   · 10 × $0.01 = $0.10  → $3.175 = 3,175,000,000 nano
    // opus-4-1: in 15, out 75, cache read 1.50, cache write 5m 18.75, 1h 30
    //   1M × $15 = $15 · 0.2M × $75 = $15 · 5M × $1.50 = $7.50 · 0.3M × $18.75 = $5.625 · 0.1M × $30 = $3
    //   · $0.10 → $46.225 = 46,225,000,000 nano
    // saved: $43.05 = 43,050,000,000 nano
    expect(est.roles[0]).toMatchObject({
      routed: { model: 'claude-haiku-4-5', nanoUsd: 3_175_000_000 },
      baseline: { model: 'claude-opus-4-1', nanoUsd: 46_225_000_000 },
      savingsNanoUsd: 43_050_000_000,
    });
    expect(est.total).toEqual({
      calls: 100,
      routedNanoUsd: 3_175_000_000,
      baselineNanoUsd: 46_225_000_000,
      savingsNanoUsd: 43_050_000_000,
    });
    expect(est.unpriced).toEqual([]);
    expect(formatUsd(est.total.savingsNanoUsd)).toBe('$43.05');
  });
});

describe('trafficByRole', () => {
  function event(id: string, u: Partial<UsageBuckets>, attribution: Attribution): UsageEvent {
    return {
      id,
      ts: NOW,
      source: 'meter',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      usage: usage(u),
      cost: { nanoUsd: null, priceSource: 'x', estimated: false },
      attribution,
    };
  }

  it('sums the buckets and counts the calls per role tag, sorted by role; untagged events are skipped', () => {
    const traffic = trafficByRole([
      event('1', { inputTokens: 10, outputTokens: 1 }, { tags: { role: 'fast', model: 'm' } }),
      event('2', { inputTokens: 5, cacheReadTokens: 7 }, { tags: { role: 'deep' } }),
      event('3', { inputTokens: 20, webSearchRequests: 2 }, { tags: { role: 'fast' } }),
      event('4', { inputTokens: 1_000 }, {}),
      event('5', { inputTokens: 1_000 }, { tags: { team: 'x' } }),
    ]);
    expect(traffic).toEqual([
      { role: 'deep', calls: 1, usage: usage({ inputTokens: 5, cacheReadTokens: 7 }) },
      { role: 'fast', calls: 2, usage: usage({ inputTokens: 30, outputTokens: 1, webSearchRequests: 2 }) },
    ]);
  });

  it('reads the tags routeAttributes put on metered events, end to end', async () => {
    const router = createRouter({ roles: { fast: { model: 'small' }, deep: { model: 'big' } } });
    const ctx = new MeterContext();
    const events: UsageEvent[] = [];
    const call = (role: string, u: Partial<UsageBuckets>) =>
      ctx.run(routeAttributes(router.route(role)), async () => {
        await Promise.resolve();
        events.push(event(String(events.length), u, attributionOf(ctx.current())));
      });
    await Promise.all([
      call('fast', { outputTokens: 1_000 }),
      call('deep', { outputTokens: 100 }),
      call('fast', { outputTokens: 1_000 }),
    ]);

    const traffic = trafficByRole(events);
    expect(traffic.map((t) => [t.role, t.calls, t.usage.outputTokens])).toEqual([
      ['deep', 1, 100],
      ['fast', 2, 2_000],
    ]);
    const est = savingsEstimate(traffic, router.roles(), { model: 'big' }, stubBook(), NOW);
    // fast: 2,000 × (5e7 − 5e6) = 9e10 pico = 90,000,000 nano saved; deep saves nothing
    expect(est.total.savingsNanoUsd).toBe(90_000_000);
  });
});
