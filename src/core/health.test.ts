import { describe, expect, it } from 'vitest';
import {
  checkRunHealth,
  DEFAULT_HEALTH,
  type Finding,
  isDoneState,
  isErrorState,
  median,
  type StageHistory,
  stagesOf,
} from './health.js';
import type { RunAgent, RunSummary } from './run.js';

// src/core is pure (no I/O): the runs here are built in memory in the shape the workflow source
// produces (see src/sources/workflow.ts). The file-based checks live in src/sources, src/ingest and
// test/workflow-cli.test.ts.

type AgentSpec = Omit<RunAgent, 'index'>;

/** An agent row; `state` defaults to 'done'. */
const ag = (stage: string, tokens: number, more: Partial<AgentSpec> = {}): AgentSpec => ({
  stage,
  tokens,
  state: 'done',
  ...more,
});

/** `n` agents of one stage with the same token count. */
const many = (n: number, stage: string, tokens: number, more: Partial<AgentSpec> = {}): AgentSpec[] =>
  Array.from({ length: n }, () => ag(stage, tokens, more));

/** A run whose `totalTokens` is the agents' sum unless given. */
function mkRun(agents: AgentSpec[], extra: Partial<RunSummary> = {}): RunSummary {
  const rows = agents.map((a, index) => ({ ...a, index }));
  return {
    id: 'wf_test',
    source: 'workflow',
    file: 'wf_test.json',
    ts: 1_000,
    phases: [],
    agents: rows,
    reportedTotalTokens: rows.reduce((n, a) => n + a.tokens, 0),
    ...extra,
  };
}

const kinds = (fs: Finding[]) => fs.map((f) => f.kind);

describe('median', () => {
  it('is 0 for no values, the middle one for an odd count, the mean of the two middle ones for an even count', () => {
    expect(median([])).toBe(0);
    expect(median([3, 1, 2])).toBe(2); // sorted 1,2,3
    expect(median([4, 1, 3, 2])).toBe(2.5); // sorted 1,2,3,4 → (2+3)/2
    expect(median([1588, 16000])).toBe(8794); // (1588+16000)/2
  });

  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
});

describe('states', () => {
  it('knows error and done states whatever their case; anything else is neither', () => {
    for (const s of ['error', 'ERROR', 'failed', 'Timeout', 'cancelled', 'killed'])
      expect(isErrorState(s)).toBe(true);
    for (const s of ['done', 'Completed', 'success', 'finished']) expect(isDoneState(s)).toBe(true);
    for (const s of ['running', 'queued', '', undefined]) {
      expect(isErrorState(s)).toBe(false);
      expect(isDoneState(s)).toBe(false);
    }
    expect(isDoneState('error')).toBe(false);
    expect(isErrorState('done')).toBe(false);
  });
});

describe('stagesOf', () => {
  it('lists the phases in run order first (even empty ones), then stages only agents name, with summed tokens', () => {
    const run = mkRun([ag('Verify', 10), ag('Extra', 5), ag('Scope', 1), ag('Verify', 20)], {
      phases: ['Scope', 'Verify', 'Empty'],
    });
    expect(stagesOf(run).map((s) => [s.name, s.agents.length, s.tokens])).toEqual([
      ['Scope', 1, 1],
      ['Verify', 2, 30], // 10 + 20
      ['Empty', 0, 0],
      ['Extra', 1, 5],
    ]);
  });
});

describe('checkRunHealth: the seed fixtures', () => {
  it("broken Verify (the seed's wf_health-broken-verify): errors and cheap, both high, exactly as the seed printed them", () => {
    // Verify 6 × 1588 = 9528 (all 'error'), Fetch 5 × 16000 = 80000 → total 89528.
    // Stage means 1588 and 16000 → median (1588+16000)/2 = 8794; 25% of it = 2198.5 > 1588 → cheap.
    const run = mkRun([...many(6, 'Verify', 1588, { state: 'error' }), ...many(5, 'Fetch', 16000)]);
    const h = checkRunHealth(run);
    expect(h.findings).toEqual([
      { stage: 'Verify', kind: 'errors', severity: 'high', detail: "6/6 agents in state 'error'" },
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 1588 tok/agent over 6 agents < 25% of run median 8794',
      },
    ]);
    expect(h).toMatchObject({
      degraded: true,
      invariantOk: true,
      agentTokens: 89528,
      totalTokens: 89528,
      unattributedTokens: 0,
      statusAgreement: 'no-status',
    });
  });

  it('cheap Verify without any error state (wf_health-cheap-verify): cheap alone makes it degraded', () => {
    // Verify 6 × 1500, Fetch 5 × 16000: median (1500+16000)/2 = 8750, 25% = 2187.5 > 1500.
    const h = checkRunHealth(mkRun([...many(6, 'Verify', 1500), ...many(5, 'Fetch', 16000)]));
    expect(h.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 1500 tok/agent over 6 agents < 25% of run median 8750',
      },
    ]);
    expect(h.degraded).toBe(true);
  });

  it('healthy (wf_health-healthy): no findings', () => {
    // means 8000 and 16000: median 12000, 25% = 3000 ≤ 8000.
    const h = checkRunHealth(mkRun([...many(6, 'Verify', 8000), ...many(5, 'Fetch', 16000)]));
    expect(h.findings).toEqual([]);
    expect(h.degraded).toBe(false);
    expect(h.invariantOk).toBe(true);
  });

  it('one errored agent of two (wf_ledger-basic) is enough to degrade the run', () => {
    const run = mkRun([ag('Scope', 100), ag('Verify', 600), ag('Verify', 300, { state: 'error' })], {
      phases: ['Scope', 'Verify'],
      status: 'completed',
    });
    const h = checkRunHealth(run);
    expect(h.findings).toEqual([
      { stage: 'Verify', kind: 'errors', severity: 'high', detail: "1/2 agents in state 'error'" },
    ]);
    expect(h.degraded).toBe(true);
    expect(h.statusAgreement).toBe('says-completed-is-degraded');
  });
});

describe('checkRunHealth: the cheap-stage rule', () => {
  // Stage means Fetch 8000, Write 8000, Verify m: median of the three = 8000, 25% of it = 2000.
  const base = [...many(5, 'Fetch', 8000), ...many(5, 'Write', 8000)];

  it('a mean of exactly 25% of the median is NOT cheap', () => {
    const h = checkRunHealth(mkRun([...base, ...many(5, 'Verify', 2000)]));
    expect(h.findings).toEqual([]);
    expect(h.degraded).toBe(false);
  });

  it('a mean just below 25% of the median is cheap', () => {
    // Verify 4 × 2000 + 1999 = 9999 → mean 1999.8 < 2000; printed rounded: 2000.
    const h = checkRunHealth(mkRun([...base, ...many(4, 'Verify', 2000), ag('Verify', 1999)]));
    expect(h.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 2000 tok/agent over 5 agents < 25% of run median 8000',
      },
    ]);
    expect(h.degraded).toBe(true);
  });

  it('a stage with fewer than 5 agents is never cheap by default; cheapMinAgents 3 makes it so', () => {
    // Verify 4 × 100: mean 100 < 2000, but only 4 agents.
    const run = mkRun([...base, ...many(4, 'Verify', 100)]);
    expect(checkRunHealth(run).findings).toEqual([]);
    const h = checkRunHealth(run, { ...DEFAULT_HEALTH, cheapMinAgents: 3 });
    expect(h.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 100 tok/agent over 4 agents < 25% of run median 8000',
      },
    ]);
    // 4 is the boundary: a minimum of 4 still looks at a 4-agent stage, 5 does not
    expect(kinds(checkRunHealth(run, { ...DEFAULT_HEALTH, cheapMinAgents: 4 }).findings)).toEqual(['cheap']);
    expect(checkRunHealth(run, { ...DEFAULT_HEALTH, cheapMinAgents: 5 }).findings).toEqual([]);
  });

  it('cheapRatio moves the threshold and names itself in the detail', () => {
    // Verify mean 2000; 30% of 8000 = 2400 > 2000 → cheap.
    const h = checkRunHealth(mkRun([...base, ...many(5, 'Verify', 2000)]), {
      ...DEFAULT_HEALTH,
      cheapRatio: 0.3,
    });
    expect(h.findings.map((f) => f.detail)).toEqual([
      'mean 2000 tok/agent over 5 agents < 30% of run median 8000',
    ]);
  });

  it('phases without agents do not pull the median down', () => {
    // Populated means: Fetch 8000, Verify 1000 → median 4500, 25% = 1125 > 1000 → cheap.
    // (Counting the empty 'Plan' as mean 0 would give median 1000 and 25% = 250: not cheap.)
    const run = mkRun([...many(5, 'Fetch', 8000), ...many(5, 'Verify', 1000)], {
      phases: ['Plan', 'Fetch', 'Verify'],
    });
    expect(checkRunHealth(run).findings.map((f) => f.detail)).toEqual([
      'mean 1000 tok/agent over 5 agents < 25% of run median 4500',
    ]);
  });
});

describe('checkRunHealth: errors', () => {
  it('counts each error state of a stage, in the order first seen, keeping the state as logged', () => {
    const run = mkRun([
      ag('Verify', 10, { state: 'error' }),
      ag('Verify', 10, { state: 'timeout' }),
      ag('Verify', 10, { state: 'error' }),
      ag('Verify', 10, { state: 'done' }),
      ag('Fetch', 10, { state: 'ERROR' }),
    ]);
    expect(checkRunHealth(run).findings).toEqual([
      {
        stage: 'Verify',
        kind: 'errors',
        severity: 'high',
        detail: "2/4 agents in state 'error', 1/4 agents in state 'timeout'",
      },
      { stage: 'Fetch', kind: 'errors', severity: 'high', detail: "1/1 agents in state 'ERROR'" },
    ]);
  });

  it('running or unknown states are not errors', () => {
    const run = mkRun([ag('A', 10, { state: 'running' }), ag('B', 10, { state: undefined })]);
    expect(checkRunHealth(run).findings).toEqual([]);
  });
});

describe('checkRunHealth: the invariant', () => {
  it('no agent rows: fails, and the reported total is all unattributed', () => {
    const h = checkRunHealth(mkRun([], { reportedTotalTokens: 500, phases: ['Plan'] }));
    expect(h).toMatchObject({
      invariantOk: false,
      invariantDetail: 'no agent rows',
      agentTokens: 0,
      totalTokens: 500,
      unattributedTokens: 500,
      degraded: false,
    });
  });

  it('no agent rows and a reported 0 (the seed wf_no-agents) still fails', () => {
    const h = checkRunHealth(mkRun([], { reportedTotalTokens: 0 }));
    expect(h.invariantOk).toBe(false);
    expect(h.invariantDetail).toBe('no agent rows');
  });

  it('agents short of the reported total: the gap is unattributed', () => {
    // 3000 + 3000 + 3000 = 9000 vs 10000 → 1000 unattributed
    const h = checkRunHealth(
      mkRun([ag('Plan', 3000), ag('Build', 3000), ag('Build', 3000)], { reportedTotalTokens: 10_000 }),
    );
    expect(h).toMatchObject({
      invariantOk: false,
      invariantDetail: 'agents add up to 9000, the run reports 10000',
      agentTokens: 9000,
      totalTokens: 10_000,
      unattributedTokens: 1000,
      degraded: false,
    });
    expect(h.findings).toEqual([]);
  });

  it('agents over the reported total (the seed wf_ledger-mismatch): negative unattributed', () => {
    // 100 + 600 + 300 = 1000 vs 999
    const h = checkRunHealth(
      mkRun([ag('Scope', 100), ag('Verify', 600), ag('Verify', 300)], { reportedTotalTokens: 999 }),
    );
    expect(h.invariantOk).toBe(false);
    expect(h.invariantDetail).toBe('agents add up to 1000, the run reports 999');
    expect(h.totalTokens).toBe(999);
    expect(h.unattributedTokens).toBe(-1);
  });

  it('no reported total: fails (nothing to check against); the total is the agents’ sum', () => {
    const h = checkRunHealth(mkRun([ag('A', 40), ag('B', 60)], { reportedTotalTokens: undefined }));
    expect(h).toMatchObject({
      invariantOk: false,
      invariantDetail: 'the run reports no totalTokens to check against',
      totalTokens: 100,
      agentTokens: 100,
      unattributedTokens: 0,
    });
  });

  it('a single 0-token agent and a reported 0 (the seed wf_bad-token-type) holds: 0 == 0', () => {
    const h = checkRunHealth(mkRun([ag('X', 0)], { reportedTotalTokens: 0 }));
    expect(h.invariantOk).toBe(true);
    expect(h.invariantDetail).toBeUndefined();
  });
});

describe('checkRunHealth: medium and low findings never degrade a run', () => {
  it('retries, a 0-token completed agent, agentCount and totalToolCalls disagreements', () => {
    // Fetch: 3000 (attempt 2) + 3000 (attempt 3); Verify: 4000 (attempt 1) + 0 (done).
    // toolCalls 3 + 3 + 4 + 2 = 12 vs 20 reported; 4 agent rows vs agentCount 5.
    const run = mkRun(
      [
        ag('Fetch', 3000, { toolCalls: 3, attempt: 2 }),
        ag('Fetch', 3000, { toolCalls: 3, attempt: 3 }),
        ag('Verify', 4000, { toolCalls: 4, attempt: 1 }),
        ag('Verify', 0, { toolCalls: 2 }),
      ],
      { status: 'completed', agentCount: 5, totalToolCalls: 20, phases: ['Fetch', 'Verify'] },
    );
    const h = checkRunHealth(run);
    expect(h.findings).toEqual([
      { stage: 'Fetch', kind: 'retries', severity: 'low', detail: '2/2 agents retried (up to attempt 3)' },
      {
        stage: 'Verify',
        kind: 'zero-tokens',
        severity: 'medium',
        detail: '1/2 completed agents logged 0 tokens',
      },
      {
        stage: null,
        kind: 'agent-count',
        severity: 'medium',
        detail: 'agentCount says 5, the telemetry has 4 agent rows',
      },
      {
        stage: null,
        kind: 'tool-calls',
        severity: 'low',
        detail: 'totalToolCalls says 20, the agents add up to 12',
      },
    ]);
    expect(h.degraded).toBe(false);
    expect(h.invariantOk).toBe(true);
    expect(h.statusAgreement).toBe('agrees');
  });

  it('0 tokens only counts for agents that completed (a running or errored one is not "zero-tokens")', () => {
    const run = mkRun([
      ag('A', 0, { state: 'running' }),
      ag('A', 0, { state: 'completed' }),
      ag('A', 0, { state: 'success' }),
      ag('A', 5),
    ]);
    expect(checkRunHealth(run).findings).toEqual([
      { stage: 'A', kind: 'zero-tokens', severity: 'medium', detail: '2/4 completed agents logged 0 tokens' },
    ]);
  });

  it('an unreadable token count (already a problem) is not also a "logged 0 tokens" finding', () => {
    const run = mkRun([ag('A', 0, { state: 'done', invalidTokens: true }), ag('A', 0, { state: 'done' })]);
    expect(checkRunHealth(run).findings).toEqual([
      { stage: 'A', kind: 'zero-tokens', severity: 'medium', detail: '1/2 completed agents logged 0 tokens' },
    ]);
  });

  it('totalToolCalls is only checked when every agent logged toolCalls, and agreeing counts say nothing', () => {
    const partial = mkRun([ag('A', 1, { toolCalls: 1 }), ag('A', 1)], { totalToolCalls: 7 });
    expect(checkRunHealth(partial).findings).toEqual([]);
    const agreeing = mkRun([ag('A', 1, { toolCalls: 3 }), ag('A', 1, { toolCalls: 4 })], {
      totalToolCalls: 7, // 3 + 4
      agentCount: 2,
    });
    expect(checkRunHealth(agreeing).findings).toEqual([]);
  });

  it('attempt 1 (or none) is not a retry', () => {
    expect(checkRunHealth(mkRun([ag('A', 1, { attempt: 1 }), ag('A', 1)])).findings).toEqual([]);
  });
});

describe('checkRunHealth: what the run says versus what it shows', () => {
  const errored = [ag('Fetch', 5000), ag('Verify', 4000), ag('Verify', 1000, { state: 'failed' })];
  const healthy = [ag('Fetch', 5000), ag('Verify', 4000), ag('Verify', 1000)];
  const cases: [string, AgentSpec[], Partial<RunSummary>, string][] = [
    ['completed, a stage errored', errored, { status: 'completed' }, 'says-completed-is-degraded'],
    ['success, a stage errored', errored, { status: 'success' }, 'says-completed-is-degraded'],
    ['failed, healthy and adding up', healthy, { status: 'failed' }, 'says-failed-looks-healthy'],
    ['FAILED (any case), healthy', healthy, { status: 'FAILED' }, 'says-failed-looks-healthy'],
    // a failed run whose agents do not add up is not "healthy"
    ['failed, invariant broken', healthy, { status: 'failed', reportedTotalTokens: 12_000 }, 'agrees'],
    ['failed, degraded', errored, { status: 'failed' }, 'agrees'],
    ['completed, healthy', healthy, { status: 'completed' }, 'agrees'],
    // 'running' is neither done nor failed
    ['running, degraded', errored, { status: 'running' }, 'agrees'],
    ['no status, degraded', errored, {}, 'no-status'],
  ];
  it.each(cases)('%s', (_name, agents, extra, expected) => {
    expect(checkRunHealth(mkRun(agents, extra)).statusAgreement).toBe(expected);
  });

  it("the run's own status never changes the verdict", () => {
    expect(checkRunHealth(mkRun(errored, { status: 'completed' })).degraded).toBe(true);
    expect(checkRunHealth(mkRun(healthy, { status: 'failed' })).degraded).toBe(false);
  });
});

describe('checkRunHealth: the history rule', () => {
  // Fetch 5 × 8000 = 40000, Verify 5 × 1600 = 8000. Within the run: means 8000 and 1600, median 4800,
  // 25% = 1200 ≤ 1600 → not cheap. Against a history median of 40000: 25% = 10000 > 8000.
  const run = mkRun([...many(5, 'Fetch', 8000), ...many(5, 'Verify', 1600)], { workflow: 'W' });
  const hist = (verify: number[], fetch = verify.map(() => 40_000)): StageHistory =>
    new Map([
      ['Fetch', fetch],
      ['Verify', verify],
    ]);

  it('without history the run is healthy', () => {
    expect(checkRunHealth(run).findings).toEqual([]);
  });

  it('four earlier runs at 40000: a Verify of 8000 is below its history (high)', () => {
    const h = checkRunHealth(run, DEFAULT_HEALTH, hist([40_000, 40_000, 40_000, 40_000]));
    expect(h.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'below-history',
        severity: 'high',
        detail: '8000 tok < 25% of its median 40000 over the last 4 healthy runs',
      },
    ]);
    expect(h.degraded).toBe(true);
  });

  it('three earlier runs are enough, two are not', () => {
    expect(checkRunHealth(run, DEFAULT_HEALTH, hist([40_000, 40_000, 40_000])).findings).toEqual([
      {
        stage: 'Verify',
        kind: 'below-history',
        severity: 'high',
        detail: '8000 tok < 25% of its median 40000 over the last 3 healthy runs',
      },
    ]);
    expect(checkRunHealth(run, DEFAULT_HEALTH, hist([40_000, 40_000])).findings).toEqual([]);
    // …unless historyMinRuns says 2 will do
    const two = checkRunHealth(run, { ...DEFAULT_HEALTH, historyMinRuns: 2 }, hist([40_000, 40_000]));
    expect(kinds(two.findings)).toEqual(['below-history']);
  });

  it('exactly 25% of the history median is not below it; one token less is', () => {
    // 25% of 32000 = 8000 = the run's Verify → not below
    expect(checkRunHealth(run, DEFAULT_HEALTH, hist([32_000, 32_000, 32_000])).findings).toEqual([]);
    // 25% of 32004 = 8001 > 8000 → below
    expect(
      checkRunHealth(run, DEFAULT_HEALTH, hist([32_004, 32_004, 32_004])).findings.map((f) => f.detail),
    ).toEqual(['8000 tok < 25% of its median 32004 over the last 3 healthy runs']);
  });

  it('uses the median of the history, not the mean', () => {
    // [10000, 20000, 30000, 1000000]: median (20000+30000)/2 = 25000, 25% = 6250 ≤ 8000 → no finding
    // (the mean, 265000, would give 66250 > 8000)
    expect(checkRunHealth(run, DEFAULT_HEALTH, hist([10_000, 20_000, 30_000, 1_000_000])).findings).toEqual(
      [],
    );
    // [20000, 40000, 40000, 50000]: median 40000 → 10000 > 8000 → finding with median 40000
    expect(
      checkRunHealth(run, DEFAULT_HEALTH, hist([20_000, 40_000, 40_000, 50_000])).findings.map(
        (f) => f.detail,
      ),
    ).toEqual(['8000 tok < 25% of its median 40000 over the last 4 healthy runs']);
  });
});
