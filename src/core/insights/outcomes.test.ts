import { describe, expect, it } from 'vitest';
import type { UsageEvent } from './deps.js';
import { type Outcome, outcomeEconomics } from './outcomes.js';

let seq = 0;
function ev(p: { run?: string; agent: string; nano: number | null; attempt?: number }): UsageEvent {
  return {
    id: `o${++seq}`,
    ts: Date.UTC(2026, 2, 1),
    source: 'meter',
    provider: 'anthropic',
    model: p.nano === null ? 'mystery-model' : 'claude-sonnet-4-5',
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
    cost: { nanoUsd: p.nano, priceSource: 'test', estimated: false },
    attribution: {
      agentName: p.agent,
      ...(p.run ? { run: p.run } : {}),
      ...(p.attempt ? { tags: { attempt: String(p.attempt) } } : {}),
    },
  };
}

// r1 (failed):  planner 1,000,000 + coder 2,000,000                         = 3,000,000
// r2 (success): planner 1,000,000 + coder 1,500,000 + coder retry 500,000  = 3,000,000
// r3 (success): planner 2,000,000 + tester 1,000,000 + an unpriced coder call = 3,000,000
// r4 (no outcome): planner 4,000,000; no run: planner 7,000,000
const events = [
  ev({ run: 'r1', agent: 'planner', nano: 1_000_000 }),
  ev({ run: 'r1', agent: 'coder', nano: 2_000_000 }),
  ev({ run: 'r2', agent: 'planner', nano: 1_000_000 }),
  ev({ run: 'r2', agent: 'coder', nano: 1_500_000, attempt: 1 }),
  ev({ run: 'r2', agent: 'coder', nano: 500_000, attempt: 2 }),
  ev({ run: 'r3', agent: 'planner', nano: 2_000_000 }),
  ev({ run: 'r3', agent: 'tester', nano: 1_000_000 }),
  ev({ run: 'r3', agent: 'coder', nano: null }),
  ev({ run: 'r4', agent: 'planner', nano: 4_000_000 }),
  ev({ agent: 'planner', nano: 7_000_000 }),
];

const outcomes: Outcome[] = [
  { run: 'r1', success: true }, // replaced by the later verdict below
  { run: 'r1', success: false, units: 0, score: 0.2 },
  { run: 'r2', success: true, units: 3, score: 0.8, valueUsd: 0.01 },
  { run: 'r3', success: true, units: 2 },
  { run: 'r5', success: true }, // no event in the ledger
];

describe('outcomeEconomics', () => {
  const r = outcomeEconomics(events, outcomes, { valuePerSuccessUsd: 0.005 });

  it('charges failed runs and retries to the successes', () => {
    expect(r.overall).toEqual({
      runs: 3,
      successes: 2,
      failures: 1,
      events: 8,
      unpricedEvents: 1,
      // r1 + r2 + r3 = 3,000,000 × 3; r4 (no outcome) and the run-less call are not in it
      costNano: 9_000_000,
      failedCostNano: 3_000_000,
      retryCostNano: 500_000,
      // 9,000,000 / 2 successes
      costPerSuccessNano: 4_500_000,
      // units 0 + 3 + 2 = 5 → 9,000,000 / 5
      units: 5,
      unitsMissing: 0,
      costPerUnitNano: 1_800_000,
      // r2 its own $0.01 = 10,000,000; r3 the default $0.005 = 5,000,000
      valueNano: 15_000_000,
      valueMissing: 0,
      // (15,000,000 − 9,000,000) / 9,000,000 = 2/3
      roi: 6_000_000 / 9_000_000,
      // (0.2 + 0.8) / 2
      meanScore: 0.5,
      scoredRuns: 2,
    });
  });

  it('reports runs without an outcome, run-less spend, stray and duplicate outcomes apart', () => {
    expect(r.noOutcome).toEqual({ runs: 1, events: 1, unpricedEvents: 0, costNano: 4_000_000 });
    expect(r.noRun).toEqual({ runs: 0, events: 1, unpricedEvents: 0, costNano: 7_000_000 });
    expect(r.outcomesWithoutEvents).toEqual(['r5']);
    expect(r.duplicateOutcomes).toEqual(['r1']);
  });

  it('gives each agent its own spend against the successes of the runs it took part in', () => {
    const rows = Object.fromEntries(r.agents.map((a) => [a.agent, a]));
    // coder and planner tie at 4,000,000: by name
    expect(r.agents.map((a) => a.agent)).toEqual(['coder', 'planner', 'tester']);
    // planner: r1 1,000,000 (failed) + r2 1,000,000 + r3 2,000,000 = 4,000,000 over 2 successes;
    // units 5 → 800,000; value 15,000,000 → ROI (15 − 4) / 4 = 2.75
    expect(rows.planner).toMatchObject({
      runs: 3,
      successes: 2,
      events: 3,
      costNano: 4_000_000,
      failedCostNano: 1_000_000,
      costPerSuccessNano: 2_000_000,
      costPerUnitNano: 800_000,
      valueNano: 15_000_000,
      roi: 2.75,
    });
    // coder: r1 2,000,000 + r2 1,500,000 + 500,000 (retry) + r3 unpriced = 4,000,000, 4 calls
    expect(rows.coder).toMatchObject({
      runs: 3,
      successes: 2,
      events: 4,
      unpricedEvents: 1,
      costNano: 4_000_000,
      failedCostNano: 2_000_000,
      retryCostNano: 500_000,
      costPerSuccessNano: 2_000_000,
      roi: 2.75,
    });
    // tester: only r3, 1,000,000 for one success worth 5,000,000 → ROI 4; 2 units → 500,000
    expect(rows.tester).toMatchObject({
      runs: 1,
      successes: 1,
      failures: 0,
      costNano: 1_000_000,
      costPerSuccessNano: 1_000_000,
      costPerUnitNano: 500_000,
      valueNano: 5_000_000,
      roi: 4,
      meanScore: null,
    });
  });

  it('has no ROI when no value is given', () => {
    const plain = outcomeEconomics(
      events,
      outcomes.slice(1, 4).map(({ valueUsd: _v, ...o }) => o),
    );
    expect(plain.overall.valueNano).toBeNull();
    expect(plain.overall.roi).toBeNull();
    expect(plain.overall.valueMissing).toBe(2);
    expect(plain.overall.costPerSuccessNano).toBe(4_500_000);
  });

  it('has no ROI when a success has no value and there is no default', () => {
    // r2 says $0.01, r3 says nothing
    const partial = outcomeEconomics(events, outcomes.slice(1, 4));
    expect(partial.overall.valueMissing).toBe(1);
    expect(partial.overall.valueNano).toBeNull();
    expect(partial.overall.roi).toBeNull();
  });

  it('counts a missing units figure as 0 units and says so', () => {
    // r3 without units: 3 units (r2) + 0 → 9,000,000 / 3
    const o = outcomeEconomics(events, [outcomes[1]!, outcomes[2]!, { run: 'r3', success: true }]);
    expect(o.overall.units).toBe(3);
    expect(o.overall.unitsMissing).toBe(1);
    expect(o.overall.costPerUnitNano).toBe(3_000_000);
  });

  it('has no cost per success without a success, and an ROI of −100% with a value', () => {
    // r1 failed, 3,000,000 spent, nothing gained
    const o = outcomeEconomics(events, [{ run: 'r1', success: false }], { valuePerSuccessUsd: 1 });
    expect(o.overall.costPerSuccessNano).toBeNull();
    expect(o.overall.costPerUnitNano).toBeNull();
    expect(o.overall.valueNano).toBe(0);
    expect(o.overall.roi).toBe(-1);
    // r2 (3 calls, 3,000,000), r3 (3 calls, one unpriced, 3,000,000), r4 (1 call, 4,000,000)
    expect(o.noOutcome).toEqual({ runs: 3, events: 7, unpricedEvents: 1, costNano: 10_000_000 });
  });

  it('rounds the cost per success half up to whole nano-dollars', () => {
    // 10 nano over 4 successes = 2.5 → 3
    const tiny = [1, 2, 3, 4].map((i) => ev({ run: `t${i}`, agent: 'a', nano: i === 1 ? 10 : 0 }));
    const o = outcomeEconomics(
      tiny,
      [1, 2, 3, 4].map((i) => ({ run: `t${i}`, success: true })),
    );
    expect(o.overall.costPerSuccessNano).toBe(3);
  });

  it('is empty without events, and lists outcomes it could not match', () => {
    const o = outcomeEconomics([], [{ run: 'x', success: true }]);
    expect(o.overall).toMatchObject({
      runs: 0,
      successes: 0,
      costNano: 0,
      costPerSuccessNano: null,
      roi: null,
    });
    expect(o.agents).toEqual([]);
    expect(o.outcomesWithoutEvents).toEqual(['x']);
  });

  it('never prices unpriced spend: an all-unpriced run costs nothing known', () => {
    const o = outcomeEconomics([ev({ run: 'u', agent: 'a', nano: null })], [{ run: 'u', success: true }], {
      valuePerSuccessUsd: 1,
    });
    expect(o.overall).toMatchObject({
      costNano: 0,
      unpricedEvents: 1,
      successes: 1,
      costPerSuccessNano: null,
      valueNano: 1_000_000_000,
      roi: null,
    });
  });
});
