import { describe, expect, it } from 'vitest';
import { checkRunHealth, DEFAULT_HEALTH } from './health.js';
import { type ModelRates, type PriceBook, ratesFromPerMTok } from './pricing.js';
import { type RunAgent, type RunSummary, runEvents } from './run.js';
import { historyFor, runView } from './waterfall.js';

// src/core is pure, so the price book here is a small fixed one with the list prices the seed's
// sample run uses: claude-haiku-4-5 $1/$5 per MTok, claude-sonnet-4-6 $3/$15. Every other model is
// unknown (unpriced). The real genai-prices book is exercised in src/ingest and the CLI tests.
const RATES: Record<string, ModelRates> = {
  'claude-haiku-4-5': ratesFromPerMTok({ input: 1, output: 5 }),
  'claude-sonnet-4-6': ratesFromPerMTok({ input: 3, output: 15 }),
};
const book: PriceBook = {
  version: 'test-book',
  quote(req) {
    const rates = RATES[req.model];
    if (!rates) return null;
    return {
      matchedModel: req.model,
      provider: 'anthropic',
      card: { base: rates, tiers: [] },
      source: 'test-book',
      estimated: false,
    };
  },
};

type AgentSpec = Omit<RunAgent, 'index'>;
const ag = (stage: string, tokens: number, more: Partial<AgentSpec> = {}): AgentSpec => ({
  stage,
  tokens,
  state: 'done',
  ...more,
});
const many = (n: number, stage: string, tokens: number, more: Partial<AgentSpec> = {}): AgentSpec[] =>
  Array.from({ length: n }, () => ag(stage, tokens, more));

function mkRun(agents: AgentSpec[], extra: Partial<RunSummary> = {}): RunSummary {
  const rows = agents.map((a, index) => ({ ...a, index }));
  return {
    id: 'wf_test',
    source: 'workflow',
    file: 'wf_test.json',
    ts: Date.UTC(2026, 0, 15),
    phases: [],
    agents: rows,
    reportedTotalTokens: rows.reduce((n, a) => n + a.tokens, 0),
    ...extra,
  };
}

// The seed's sample run (test/fixtures/workflow/sample-run.json), agent by agent.
const SEARCH = [41318, 38402, 45991, 52114, 36547, 39876]; // Σ = 254,248
const VERIFY = [61882, 58341, 64720, 55917, 60238, 57464, 63109, 59672, 56830, 62455, 58974, 61146]; // Σ = 720,748
const sample = mkRun(
  [
    ag('Scope', 31204, { model: 'claude-haiku-4-5', label: 'scope-planner', agentId: 'agent_sample-001' }),
    ...SEARCH.map((t, i) => ag('Search', t, { model: 'claude-haiku-4-5', label: `searcher-${i + 1}` })),
    ...VERIFY.map((t, i) => ag('Verify', t, { model: 'claude-sonnet-4-6', label: `verifier-${i + 1}` })),
  ],
  {
    id: 'wf_sample-001',
    workflow: 'sample-research',
    status: 'completed',
    phases: ['Scope', 'Search', 'Verify'],
  },
);

describe('runView on the seed sample run', () => {
  it('has the totals and the per-stage tokens, shares, agents and costs of the seed, to the nano-dollar', () => {
    const v = runView(sample, runEvents(sample, book));
    expect(sample.reportedTotalTokens).toBe(1_006_200); // 31204 + 254248 + 720748
    expect(v.health.invariantOk).toBe(true);
    expect(v.health.degraded).toBe(false);
    // 85%-input blend, per token: haiku 0.85×$1 + 0.15×$5 = $1.60/MTok = 1600 nano;
    // sonnet 0.85×$3 + 0.15×$15 = $4.80/MTok = 4800 nano.
    // Verify 720748 × 4800 = 3,459,590,400; Search 254248 × 1600 = 406,796,800 (the brief's $0.4068);
    // Scope 31204 × 1600 = 49,926,400 → total 3,916,313,600 nano = $3.92 rounded.
    expect(
      v.stages.map((s) => [s.name, s.tokens, Math.round(s.sharePct * 10) / 10, s.agents, s.costNano]),
    ).toEqual([
      ['Verify', 720_748, 71.6, 12, 3_459_590_400], // 720748/1006200 = 71.63%
      ['Search', 254_248, 25.3, 6, 406_796_800], // 254248/1006200 = 25.27%
      ['Scope', 31_204, 3.1, 1, 49_926_400], // 31204/1006200 = 3.10%
    ]);
    expect(v.costNano).toBe(3_916_313_600);
    expect(v.unpricedAgents).toBe(0);
    expect(v.unpricedModels).toEqual([]);
  });

  it("order 'phase' keeps the run's stage order; 'tokens' (the default) sorts by tokens, descending", () => {
    const events = runEvents(sample, book);
    expect(runView(sample, events, 'phase').stages.map((s) => s.name)).toEqual(['Scope', 'Search', 'Verify']);
    expect(runView(sample, events, 'tokens').stages.map((s) => s.name)).toEqual([
      'Verify',
      'Search',
      'Scope',
    ]);
    expect(runView(sample, events).stages.map((s) => s.name)).toEqual(['Verify', 'Search', 'Scope']);
  });

  it('an input share of 0.5 prices the unsplit tokens half as input, half as output', () => {
    // haiku 0.5×1 + 0.5×5 = $3/MTok = 3000 nano; sonnet 0.5×3 + 0.5×15 = $9/MTok = 9000 nano.
    // Verify 720748 × 9000 = 6,486,732,000; Search 254248 × 3000 = 762,744,000; Scope 31204 × 3000 = 93,612,000
    // → 7,343,088,000
    const v = runView(sample, runEvents(sample, book, 0.5));
    expect(v.stages.map((s) => s.costNano)).toEqual([6_486_732_000, 762_744_000, 93_612_000]);
    expect(v.costNano).toBe(7_343_088_000);
  });
});

describe('runEvents', () => {
  it('one estimated event per agent, the tokens unsplit, attributed to run, stage and agent', () => {
    const run = mkRun(
      [
        ag('Scope', 1000, {
          model: 'claude-haiku-4-5',
          agentId: 'a1',
          label: 'planner',
          agentType: 'general',
          toolCalls: 3,
          attempt: 2,
          startedAt: Date.UTC(2026, 0, 15, 10),
        }),
        ag('Verify', 500, { agentType: 'checker', state: 'error' }),
        ag('Verify', 200, { model: 'mystery-model', agentId: 'a3' }),
      ],
      { workflow: 'W', project: 'proj', session: 'sess' },
    );
    const [a, b, c] = runEvents(run, book);
    expect(a!.id).toBe('wf:wf_test:0');
    expect(a!.ts).toBe(Date.UTC(2026, 0, 15, 10)); // its own start
    expect(a!.source).toBe('workflow');
    expect(a!.provider).toBe('anthropic');
    expect(a!.model).toBe('claude-haiku-4-5');
    expect(a!.usage.unsplitTokens).toBe(1000);
    expect(a!.usage.inputTokens + a!.usage.outputTokens).toBe(0);
    expect(a!.cost.nanoUsd).toBe(1_600_000); // 1000 × 1600 nano
    expect(a!.cost.estimated).toBe(true);
    expect(a!.attribution).toEqual({
      run: 'wf_test',
      stage: 'Scope',
      agentName: 'general', // its type first
      agentPath: 'main/a1',
      workflow: 'W',
      project: 'proj',
      session: 'sess',
      agentId: 'a1',
      agentType: 'general',
      status: 'done',
      tags: { toolCalls: '3', attempt: '2', label: 'planner' },
    });
    // no model: unpriced (never $0), named by its type, placed by its position, at the run's time
    expect(b!.ts).toBe(run.ts);
    expect(b!.model).toBe('unknown');
    expect(b!.provider).toBe('unknown');
    expect(b!.cost.nanoUsd).toBeNull();
    expect(b!.cost.note).toBe('unpriced: the telemetry names no model for this agent');
    expect(b!.attribution.agentName).toBe('checker');
    expect(b!.attribution.agentPath).toBe('main/#1');
    expect(b!.attribution.status).toBe('error');
    // an unknown model: unpriced too, named by its id
    expect(c!.cost.nanoUsd).toBeNull();
    expect(c!.attribution.agentName).toBe('a3');
    expect(c!.usage.unsplitTokens).toBe(200);
  });

  it('fan-out instances of one role are one agent name: verifier-1 … verifier-12 → verifier', () => {
    const names = new Set(runEvents(sample, book).map((e) => e.attribution.agentName));
    expect([...names]).toEqual(['scope-planner', 'searcher', 'verifier']);
  });
});

describe('runView: shares, unpriced agents, empty stages', () => {
  it('shares are of the reported total, so a gap leaves them short of 100%', () => {
    // reported 10000, agents 3000 + 3000 + 3000 = 9000
    const run = mkRun([ag('Plan', 3000), ag('Build', 3000), ag('Build', 3000)], {
      reportedTotalTokens: 10_000,
      phases: ['Plan', 'Build'],
    });
    const v = runView(run, runEvents(run, book));
    expect(v.stages.map((s) => [s.name, s.tokens, s.sharePct])).toEqual([
      ['Build', 6000, 60], // 6000/10000
      ['Plan', 3000, 30],
    ]);
    expect(v.health.unattributedTokens).toBe(1000);
    expect(v.health.invariantOk).toBe(false);
  });

  it('a run of 0 tokens has 0% shares, not NaN', () => {
    const run = mkRun([ag('X', 0)], { reportedTotalTokens: 0 });
    expect(runView(run, runEvents(run, book)).stages).toEqual([
      { name: 'X', tokens: 0, sharePct: 0, costNano: 0, agents: 1, unpricedAgents: 1 },
    ]);
  });

  it('phases without agents are not rows; a run with no agents has no rows and costs nothing', () => {
    const run = mkRun([ag('Build', 100, { model: 'claude-haiku-4-5' })], { phases: ['Plan', 'Build'] });
    expect(runView(run, runEvents(run, book)).stages.map((s) => s.name)).toEqual(['Build']);
    const empty = mkRun([], { reportedTotalTokens: 500, phases: ['Plan'] });
    const v = runView(empty, runEvents(empty, book));
    expect(v.stages).toEqual([]);
    expect(v.costNano).toBe(0);
    expect(v.health.invariantOk).toBe(false);
  });

  it('unpriced agents keep their tokens, add no dollars, and are counted per stage and by model', () => {
    // Fetch: haiku 1000 tok (1,600,000 nano) + no model 500 tok; Verify: 'acme-mystery-9' 2000 tok
    const run = mkRun([
      ag('Fetch', 1000, { model: 'claude-haiku-4-5' }),
      ag('Fetch', 500),
      ag('Verify', 2000, { model: 'acme-mystery-9' }),
    ]);
    const v = runView(run, runEvents(run, book));
    // shares: 2000/3500 = 57.14%, 1500/3500 = 42.86%
    expect(
      v.stages.map((s) => [s.name, s.tokens, s.sharePct.toFixed(2), s.costNano, s.agents, s.unpricedAgents]),
    ).toEqual([
      ['Verify', 2000, '57.14', 0, 1, 1],
      ['Fetch', 1500, '42.86', 1_600_000, 2, 1],
    ]);
    expect(v.costNano).toBe(1_600_000);
    expect(v.unpricedAgents).toBe(2);
    expect(v.unpricedModels).toEqual(['acme-mystery-9', 'unknown']);
    expect(v.health.totalTokens).toBe(3500);
  });

  it('health options reach the checks (cheapMinAgents)', () => {
    // means 8000, 8000, 100 (4 agents): median 8000, 25% = 2000 > 100
    const run = mkRun([...many(5, 'Fetch', 8000), ...many(5, 'Write', 8000), ...many(4, 'Verify', 100)]);
    expect(runView(run, []).health.findings).toEqual([]);
    expect(
      runView(run, [], 'tokens', { ...DEFAULT_HEALTH, cheapMinAgents: 3 }).health.findings.map((f) => f.kind),
    ).toEqual(['cheap']);
  });
});

describe('historyFor', () => {
  // Runs of workflow W, one a day from 2026-01-01: Fetch 5 × 8000 = 40000 and Verify 5 × v.
  const day = (d: number) => Date.UTC(2026, 0, d, 9);
  const wRun = (id: string, d: number, verify: number, extra: Partial<RunSummary> = {}, error = false) =>
    mkRun(
      [
        ...many(5, 'Fetch', 8000),
        ...many(5, 'Verify', verify / 5, error ? { state: 'error' } : {}),
        // an empty phase must not enter the history
      ],
      { id, workflow: 'W', ts: day(d), phases: ['Fetch', 'Verify', 'Empty'], ...extra },
    );
  const healthy = [1, 2, 3, 4].map((d) => wRun(`w-${d}`, d, 40_000));
  const fifth = wRun('w-5', 5, 8000);

  it('collects the stage totals of the earlier healthy runs of the same workflow, in the order given', () => {
    const h = historyFor(fifth, [...healthy, fifth]);
    expect([...h.entries()]).toEqual([
      ['Fetch', [40_000, 40_000, 40_000, 40_000]],
      ['Verify', [40_000, 40_000, 40_000, 40_000]],
    ]);
    const v = runView(fifth, [], 'tokens', DEFAULT_HEALTH, h);
    expect(v.health.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'below-history',
        severity: 'high',
        detail: '8000 tok < 25% of its median 40000 over the last 4 healthy runs',
      },
    ]);
    expect(v.health.degraded).toBe(true);
    // the same run judged on its own is healthy: means 8000 and 1600, median 4800, 25% = 1200 ≤ 1600
    expect(checkRunHealth(fifth).degraded).toBe(false);
  });

  it('leaves out later runs, other workflows, the run itself, degraded runs and runs failing the invariant', () => {
    const pool = [
      wRun('w-1', 1, 40_000),
      wRun('w-2', 2, 40_000),
      wRun('other-wf', 3, 40_000, { workflow: 'Other' }),
      wRun('w-degraded', 3, 40_000, {}, true), // Verify agents in state 'error'
      wRun('w-mismatch', 4, 40_000, { reportedTotalTokens: 79_999 }), // agents add up to 80000
      wRun('w-later', 6, 40_000),
      wRun('w-5', 4, 40_000), // the same id as the run judged
      fifth,
    ];
    const h = historyFor(fifth, pool);
    expect(h.get('Verify')).toEqual([40_000, 40_000]); // w-1 and w-2 only
    // two earlier healthy runs are not enough for the rule
    expect(runView(fifth, [], 'tokens', DEFAULT_HEALTH, h).health.findings).toEqual([]);
  });

  it('a run started at the same instant is not earlier', () => {
    const same = wRun('w-same', 5, 40_000);
    expect(historyFor(fifth, [same]).size).toBe(0);
  });

  it('a run without a workflow name has no history', () => {
    const anon = { ...fifth, workflow: undefined };
    const pool = healthy.map((r) => ({ ...r, workflow: undefined }));
    expect(historyFor(anon, pool).size).toBe(0);
  });

  it('judges the earlier runs with the given options (a run cheap under them is not history)', () => {
    // Earlier runs: Fetch 5 × 8000, Verify 5 × 2000 → means 8000 and 2000, median 5000;
    // by default 25% of 5000 = 1250 ≤ 2000: healthy, so history.
    // With cheapRatio 0.5: 50% of 5000 = 2500 > 2000 → cheap → degraded → not history.
    const earlier = [1, 2, 3].map((d) => wRun(`e-${d}`, d, 10_000));
    expect(historyFor(fifth, earlier).get('Verify')).toEqual([10_000, 10_000, 10_000]);
    expect(historyFor(fifth, earlier, { ...DEFAULT_HEALTH, cheapRatio: 0.5 }).size).toBe(0);
  });
});
