import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEMO_EVENTS, DEMO_NANO, XSS_AGENT } from '../../test/helpers/demo-ledger.js';
import { aggregate, emptyTally, type GroupBy, mergeTally, type Tally } from './aggregate.js';
import { breakdown, NO_RUN_KEY, runKeyOf } from './breakdown.js';
import type { UsageEvent } from './event.js';
import { emptyUsage } from './usage.js';

// vitest.config.ts sets TZ=UTC.

const sorted = (t: Tally): Tally => ({ ...t, unpricedModels: [...t.unpricedModels].sort() });
const sum = (tallies: Tally[]) => {
  const t = emptyTally('total');
  for (const x of tallies) mergeTally(t, x);
  return sorted(t);
};

describe('breakdown', () => {
  it('the demo ledger: the hand-made costs are the price book’s', () => {
    expect(Object.fromEntries(DEMO_EVENTS.map((e) => [e.id, e.cost.nanoUsd]))).toEqual(DEMO_NANO);
  });

  it('days, agents and models equal aggregate() by day, agent and model', () => {
    const b = breakdown(DEMO_EVENTS);
    const by = (g: GroupBy) => aggregate(DEMO_EVENTS, g).groups.map(sorted);
    expect(b.days.map(sorted)).toEqual(by('day'));
    expect(b.agents.map(sorted)).toEqual(by('agent'));
    expect(b.models.map(sorted)).toEqual(by('model'));
    expect(sorted(b.totals)).toEqual(sorted(aggregate(DEMO_EVENTS, 'day').totals));
  });

  it('the demo ledger, by hand', () => {
    const b = breakdown(DEMO_EVENTS);
    expect(b.totals.costNano).toBe(1_186_000_000);
    expect(b.days.map((d) => [d.key, d.events, d.costNano])).toEqual([
      ['2026-03-01', 2, 930_000_000],
      ['2026-03-02', 2, 80_000_000],
      ['2026-03-04', 3, 176_000_000],
    ]);
    expect(b.agents.map((a) => [a.key, a.costNano])).toEqual([
      ['planner', 600_000_000],
      ['coder', 410_000_000],
      ['verifier', 144_000_000],
      ['searcher', 32_000_000],
      [XSS_AGENT, 0],
    ]);
    // Cells: agents costliest first, then days.
    expect(b.cells.map((c) => [c.agent, c.day, c.tally.costNano])).toEqual([
      ['planner', '2026-03-01', 600_000_000],
      ['coder', '2026-03-01', 330_000_000],
      ['coder', '2026-03-02', 80_000_000],
      ['verifier', '2026-03-04', 144_000_000],
      ['searcher', '2026-03-04', 32_000_000],
      [XSS_AGENT, '2026-03-02', 0],
    ]);
    expect(b.flows.map((f) => [f.run, f.agent, f.model, f.tally.costNano, f.tally.events])).toEqual([
      ['session:s1', 'planner', 'claude-sonnet-4-5', 600_000_000, 1],
      ['session:s1', 'coder', 'claude-sonnet-4-5', 330_000_000, 1],
      ['wf_test-001', 'verifier', 'claude-sonnet-4-6', 144_000_000, 1],
      ['session:s1', 'coder', 'claude-haiku-4-5', 80_000_000, 1],
      ['wf_test-001', 'searcher', 'claude-haiku-4-5', 32_000_000, 2],
      ['session:s2', XSS_AGENT, 'my-finetune', 0, 1],
    ]);
    expect(Object.fromEntries(b.runLabels)).toEqual({
      'session:s1': 'session s1',
      'session:s2': 'session s2',
      'wf_test-001': 'deep-research · wf_test-001',
    });
  });

  it('applies the report filter', () => {
    const b = breakdown(DEMO_EVENTS, { since: '2026-03-02', until: '2026-03-02' });
    expect(b.totals.events).toBe(2);
    expect(b.days.map((d) => d.key)).toEqual(['2026-03-02']);
    expect(b.flows).toHaveLength(2);
  });

  it('run keys and labels: run, else session, else none; long ids short unless two look alike', () => {
    const ev = (
      id: string,
      attribution: UsageEvent['attribution'],
      source: UsageEvent['source'] = 'claude-code',
    ) =>
      ({
        id,
        ts: 0,
        source,
        provider: 'x',
        model: 'm',
        usage: emptyUsage(),
        cost: { nanoUsd: 1, priceSource: 't', estimated: false },
        attribution,
      }) satisfies UsageEvent;
    const events = [
      ev('1', { session: 'aaaaaaaa-1111' }),
      ev('2', { session: 'aaaaaaaa-2222' }),
      ev('3', { session: 'bbbbbbbb-1111-2222' }),
      ev('4', { run: '4bf92f3577b34da6a3ce929d0e0e4736' }, 'otlp'),
      ev('5', { run: 'nightly-42' }, 'meter'),
      ev('6', { run: '/logs/run/wf_x.json' }, 'workflow'),
      ev('7', {}),
    ];
    expect(events.map(runKeyOf)).toEqual([
      'session:aaaaaaaa-1111',
      'session:aaaaaaaa-2222',
      'session:bbbbbbbb-1111-2222',
      '4bf92f3577b34da6a3ce929d0e0e4736',
      'nightly-42',
      '/logs/run/wf_x.json',
      NO_RUN_KEY,
    ]);
    expect([...breakdown(events).runLabels.values()]).toEqual([
      'session aaaaaaaa-1111',
      'session aaaaaaaa-2222',
      'session bbbbbbbb…',
      'trace 4bf92f35…',
      'run nightly-42',
      'wf_x.json',
      NO_RUN_KEY,
    ]);
  });

  it('property: every list adds up to the totals and equals aggregate()', () => {
    const event = fc.record({
      day: fc.integer({ min: 0, max: 5 }),
      agent: fc.option(fc.constantFrom('a', 'b', 'c"<', 'd'), { nil: undefined }),
      model: fc.constantFrom('m1', 'm2', 'm3'),
      run: fc.option(fc.constantFrom('r1', 'r2'), { nil: undefined }),
      session: fc.option(fc.constantFrom('s1', 's2'), { nil: undefined }),
      nano: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
      tokens: fc.integer({ min: 0, max: 1e6 }),
      estimated: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (specs) => {
        const events: UsageEvent[] = specs.map((s, i) => ({
          id: String(i),
          ts: Date.UTC(2026, 0, 1 + s.day, 12),
          source: 'claude-code',
          provider: 'x',
          model: s.model,
          usage: { ...emptyUsage(), inputTokens: s.tokens },
          cost: { nanoUsd: s.nano, priceSource: 't', estimated: s.estimated },
          attribution: {
            ...(s.agent ? { agentName: s.agent } : {}),
            ...(s.run ? { run: s.run } : {}),
            ...(s.session ? { session: s.session } : {}),
          },
        }));
        const b = breakdown(events);
        const total = sorted(aggregate(events, 'day').totals);
        expect(sorted(b.totals)).toEqual(total);
        for (const list of [
          b.days,
          b.agents,
          b.models,
          b.cells.map((c) => c.tally),
          b.flows.map((f) => f.tally),
        ]) {
          const s = sum(list);
          expect({ ...s, key: 'total' }).toEqual(total);
        }
        expect(b.agents.map(sorted)).toEqual(aggregate(events, 'agent').groups.map(sorted));
      }),
    );
  });
});
