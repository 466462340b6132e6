import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Attribution, UsageEvent } from '../src/core/event.js';
import { priceEvent } from '../src/core/pricing.js';
import { emptyUsage } from '../src/core/usage.js';
import { createPriceBook } from '../src/prices/price-book.js';
import { openSqliteLedger } from '../src/store/sqlite.js';
import { runCli, runCliJson } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

// Every test runs the BUILT CLI (test/global-setup.ts builds it) on a ledger written here with
// hand-made events priced by the real price book, the way the live meter prices them.
//
// The ledger (all calls at 10:00 UTC, 2026; 2026-03-02, 03-09 and 03-16 are Mondays):
//   planner    claude-opus-4-1   ($15 in / $75 out per MTok), stage plan: 20,000 in + 4,000 out
//              = $0.30 + $0.30 = $0.60 a call
//   classifier claude-sonnet-4-5 ($3 / $15), stage triage, template triage-v1: 10,000 in + 200 out
//              = $0.03 + $0.003 = $0.033 a call
//   writer     claude-sonnet-4-5, stage write: 5,000 in + 2,000 out = $0.015 + $0.03 = $0.045 a call
// Runs:
//   r2 (03-03, failed):   planner ×1 + classifier ×10 = $0.60 + $0.33 = $0.93
//   r1 (03-10, success):  planner ×2 + classifier ×10 = $1.20 + $0.33 = $1.53 (3 units)
//   r3 (03-17, success):  planner ×1 (a retry: tags.attempt 2) + writer ×2 = $0.60 + $0.09 = $0.69 (2 units)
// Totals: planner 4 × $0.60 = $2.40, classifier 20 × $0.033 = $0.66, writer $0.09 → $3.15.
// "Now" is Wednesday 2026-03-18 12:00 UTC.

const NOW = '2026-03-18T12:00:00Z';
const book = createPriceBook();

let home: string;
let ledgerFile: string;

function call(
  id: string,
  day: string,
  model: string,
  input: number,
  output: number,
  a: Attribution,
): UsageEvent {
  const ts = Date.parse(`${day}T10:00:00Z`);
  const usage = { ...emptyUsage(), inputTokens: input, outputTokens: output };
  return {
    id,
    ts,
    source: 'meter',
    provider: 'anthropic',
    model,
    usage,
    cost: priceEvent(book, model, 'anthropic', ts, usage),
    attribution: a,
  };
}

function buildLedger(file: string): void {
  const events: UsageEvent[] = [];
  const planner = (id: string, day: string, run: string, tags?: Record<string, string>) =>
    events.push(
      call(id, day, 'claude-opus-4-1', 20_000, 4_000, {
        run,
        agentName: 'planner',
        stage: 'plan',
        ...(tags ? { tags } : {}),
      }),
    );
  const classifier = (day: string, run: string) => {
    for (let i = 0; i < 10; i++)
      events.push(
        call(`${run}-c${i}`, day, 'claude-sonnet-4-5', 10_000, 200, {
          run,
          agentName: 'classifier',
          stage: 'triage',
          tags: { template: 'triage-v1' },
        }),
      );
  };
  planner('r2-p1', '2026-03-03', 'r2');
  classifier('2026-03-03', 'r2');
  planner('r1-p1', '2026-03-10', 'r1');
  planner('r1-p2', '2026-03-10', 'r1');
  classifier('2026-03-10', 'r1');
  planner('r3-p1', '2026-03-17', 'r3', { attempt: '2' });
  for (const id of ['r3-w1', 'r3-w2'])
    events.push(
      call(id, '2026-03-17', 'claude-sonnet-4-5', 5_000, 2_000, {
        run: 'r3',
        agentName: 'writer',
        stage: 'write',
      }),
    );

  const ledger = openSqliteLedger(file);
  try {
    ledger.commit({
      events: events.map((event, i) => ({ event, origin: { rank: 0, firstTs: null, file: '', line: i } })),
      files: [],
      resetProblemsFor: [],
      problems: [],
      links: [],
    });
  } finally {
    ledger.close();
  }
}

const cli = (args: string[]) => runCli(args, { home, env: { TZ: 'UTC' } });
const cliJson = <T>(args: string[]) => runCliJson<T>(args, { home, env: { TZ: 'UTC' } });

beforeEach(() => {
  home = tempDir();
  ledgerFile = join(home, 'ledger.db');
  buildLedger(ledgerFile);
});
afterEach(() => removeTempDirs());

const CSV = [
  'run,success,units,value_usd,notes', // 1
  'r1,yes,3,,first try', // 2
  'r2,no,0,,timed out', // 3
  'r3,true,2,,', // 4
  'r9,1,1,,a run the ledger has never seen', // 5
  'r4,maybe,1,,', // 6: rejected
].join('\n');

interface ImportJson {
  imported: number;
  runs: number;
  newOrChanged: number;
  unchanged: number;
  rejected: number;
  problems: { file: string; line: number; reason: string }[];
  files: { file: string; format: string; records: number; ignoredFields: string[] }[];
}

describe('outcomes import', () => {
  it('imports CSV, reports the malformed line with file:line, and a re-import changes nothing', async () => {
    writeFileSync(join(home, 'outcomes.csv'), CSV);
    const first = await cli(['outcomes', 'import', 'outcomes.csv', '--ledger', ledgerFile]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      'imported 4 outcome(s) from outcomes.csv: 4 new or changed, 0 already known',
    );
    expect(first.stdout).toContain('1 line(s) rejected');
    expect(first.stdout).toContain('outcomes.csv: ignored column(s) "notes"');
    expect(first.stderr).toContain('outcomes.csv:6: success must be true/false, 1/0 or yes/no; got "maybe"');

    const again = await cliJson<ImportJson>([
      'outcomes',
      'import',
      'outcomes.csv',
      '--ledger',
      ledgerFile,
      '--json',
    ]);
    expect(again).toMatchObject({ imported: 4, runs: 4, newOrChanged: 0, unchanged: 4, rejected: 1 });
    expect(again.problems).toEqual([
      { file: 'outcomes.csv', line: 6, reason: 'success must be true/false, 1/0 or yes/no; got "maybe"' },
    ]);
    expect(again.files[0]).toMatchObject({ format: 'csv', records: 5, ignoredFields: ['notes'] });

    const list = await cliJson<{ outcomes: { run: string; success: boolean; units?: number }[] }>([
      'outcomes',
      'list',
      '--ledger',
      ledgerFile,
      '--json',
    ]);
    expect(list.outcomes.map((o) => [o.run, o.success, o.units])).toEqual([
      ['r1', true, 3],
      ['r2', false, 0],
      ['r3', true, 2],
      ['r9', true, 1],
    ]);
  });

  it('imports JSONL keyed by trace id; a later verdict for a run replaces the earlier one', async () => {
    writeFileSync(
      join(home, 'verdicts.jsonl'),
      [
        '{"trace_id":"r1","success":true,"units":3}',
        '{"run":"r2","success":false}',
        '{"run":"r3","success":"yes", "units": 2', // cut short
        '{"traceId":"r3","success":"no"}',
      ].join('\n'),
    );
    const r = await cliJson<ImportJson>([
      'outcomes',
      'import',
      'verdicts.jsonl',
      '--ledger',
      ledgerFile,
      '--json',
    ]);
    expect(r).toMatchObject({ imported: 3, newOrChanged: 3, rejected: 1 });
    expect(r.problems).toEqual([
      { file: 'verdicts.jsonl', line: 3, reason: 'not a JSON object (malformed or truncated line)' },
    ]);
    writeFileSync(join(home, 'later.jsonl'), '{"run":"r3","success":true,"units":2}\n');
    const later = await cliJson<ImportJson>([
      'outcomes',
      'import',
      'later.jsonl',
      '--ledger',
      ledgerFile,
      '--json',
    ]);
    expect(later).toMatchObject({ imported: 1, newOrChanged: 1, unchanged: 0 });
    const list = await cliJson<{ outcomes: { run: string; success: boolean }[] }>([
      'outcomes',
      'list',
      '--ledger',
      ledgerFile,
      '--json',
    ]);
    expect(list.outcomes.find((o) => o.run === 'r3')?.success).toBe(true);
  });

  it('usage errors exit 2: no subcommand, no file, a file that does not exist', async () => {
    for (const args of [
      ['outcomes'],
      ['outcomes', 'import'],
      ['outcomes', 'import', 'nope.csv'],
      ['outcomes', 'drop'],
    ]) {
      const r = await cli([...args, '--ledger', ledgerFile]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^tokenledger: /);
    }
  });
});

/** The parts of `insights --json` checked here. */
interface InsightsJson {
  now: string;
  totals: { events: number; costNanoUsd: number; estimated: boolean };
  headlines: string[];
  costLeader: {
    agent: string;
    share: number;
    flagged: boolean;
    outcome: { costNanoUsd: number; successes: number; costPerSuccessNanoUsd: number; roi: number };
  };
  concentration: {
    totalNanoUsd: number;
    topAgent: { key: string; costNanoUsd: number; share: number; flagged: boolean };
    above: { dimension: string; key: string; costNanoUsd: number; share: number }[];
    hhi: number;
    hhiPoints: number;
  };
  outcomes: {
    overall: Record<string, number | null>;
    outcomesWithoutEvents: string[];
    noOutcome: { runs: number };
  };
  routing: {
    estimated: true;
    consideredSlices: number;
    candidates: {
      dimension: string;
      key: string;
      estimated: true;
      signature: { score: number };
      best: {
        targetModel: string;
        actualNanoUsd: number;
        counterfactualNanoUsd: number;
        savingsNanoUsd: number;
        savingsShare: number;
        estimated: true;
      };
      targets: { targetModel: string; counterfactualNanoUsd: number; savingsNanoUsd: number }[];
    }[];
  };
  trend: {
    previous: string;
    last: string;
    current: string;
    total: {
      previous: { costNanoUsd: number };
      last: { costNanoUsd: number };
      current: { costNanoUsd: number; partial: boolean };
      changePct: number;
    };
    agents: { key: string; changePct: number | null }[];
  };
  projection: {
    month: string;
    monthToDateNanoUsd: number;
    dailyMeanNanoUsd: number;
    remainingDays: number;
    projectedNanoUsd: number;
    lowNanoUsd: number;
    highNanoUsd: number;
    estimated: true;
  };
  sunsetting: { candidates: { key: string; activeDays: number; estimated: boolean }[] };
  distillation: { candidates: unknown[] };
  templates: { top: { template: string; costNanoUsd: number; events: number }[] };
}

describe('insights', () => {
  beforeEach(async () => {
    writeFileSync(join(home, 'outcomes.csv'), CSV);
    const r = await cli(['outcomes', 'import', 'outcomes.csv', '--ledger', ledgerFile]);
    expect(r.code).toBe(0);
  });

  it('--json: every figure as worked out by hand', async () => {
    const j = await cliJson<InsightsJson>([
      'insights',
      '--ledger',
      ledgerFile,
      '--now',
      NOW,
      '--value-per-success',
      '4',
      '--targets',
      'claude-haiku-4-5,gpt-4.1-mini',
      '--json',
    ]);
    expect(j.now).toBe('2026-03-18T12:00:00.000Z');
    expect(j.totals).toMatchObject({ events: 26, costNanoUsd: 3_150_000_000, estimated: false });

    // Concentration: planner $2.40 of $3.15 = 76.19% (> 40%: flagged); above 25%: agent planner and
    // stage plan (classifier/triage 20.95%, writer/write 2.86% are not).
    expect(j.concentration.totalNanoUsd).toBe(3_150_000_000);
    expect(j.concentration.topAgent).toMatchObject({
      key: 'planner',
      costNanoUsd: 2_400_000_000,
      flagged: true,
    });
    expect(j.concentration.topAgent.share).toBeCloseTo(2.4 / 3.15, 12);
    expect(j.concentration.above.map((r) => `${r.dimension} ${r.key}`)).toEqual([
      'agent planner',
      'stage plan',
    ]);
    // HHI = (2.40² + 0.66² + 0.09²) / 3.15² = (5.76 + 0.4356 + 0.0081) / 9.9225 = 6.2037 / 9.9225 = 0.625215…
    expect(j.concentration.hhi).toBeCloseTo(6.2037 / 9.9225, 12);
    expect(j.concentration.hhiPoints).toBeCloseTo(6252.154195, 5);

    // Outcomes: r1 ✓ $1.53, r2 ✗ $0.93, r3 ✓ $0.69 (r9 has no calls; not counted).
    // Cost per success = ($1.53 + $0.93 + $0.69) / 2 = $3.15 / 2 = $1.575 — the failed r2 is in the numerator.
    // Per unit = $3.15 / (3 + 0 + 2) = $0.63. Value 2 × $4 = $8 → ROI (8 − 3.15) / 3.15 = 1.53968…
    // Retries: r3's planner call is attempt 2 → $0.60.
    expect(j.outcomes.overall).toMatchObject({
      runs: 3,
      successes: 2,
      failures: 1,
      costNanoUsd: 3_150_000_000,
      failedCostNanoUsd: 930_000_000,
      retryCostNanoUsd: 600_000_000,
      costPerSuccessNanoUsd: 1_575_000_000,
      units: 5,
      costPerUnitNanoUsd: 630_000_000,
      valueNanoUsd: 8_000_000_000,
    });
    expect(j.outcomes.overall.roi).toBeCloseTo(4.85 / 3.15, 12);
    expect(j.outcomes.outcomesWithoutEvents).toEqual(['r9']);
    expect(j.outcomes.noOutcome.runs).toBe(0);

    // The cost leader per success: planner's own $2.40 in r1–r3 over their 2 successes = $1.20;
    // ROI (8 − 2.40) / 2.40 = 2.3333…
    expect(j.costLeader).toMatchObject({ agent: 'planner', flagged: true });
    expect(j.costLeader.outcome).toMatchObject({
      costNanoUsd: 2_400_000_000,
      successes: 2,
      costPerSuccessNanoUsd: 1_200_000_000,
    });
    expect(j.costLeader.outcome.roi).toBeCloseTo(5.6 / 2.4, 12);

    // Routing: 4 slices hold ≥ 5% (agents planner, classifier; stages plan, triage; writer has 2.86%).
    // classifier/triage: 20 calls (many-calls), output/input 4,000 / 200,000 = 0.02 (< 0.1), mean
    // output 200 (< 400) → 3 signals; planner's 4 calls with 20% output ratio fire none.
    // Re-priced per call: haiku-4-5 ($1 / $5): 10,000 × $1/M + 200 × $5/M = $0.01 + $0.001 = $0.011
    //   → 20 calls $0.22, saving $0.66 − $0.22 = $0.44;
    // gpt-4.1-mini ($0.40 / $1.60): $0.004 + $0.00032 = $0.00432 → $0.0864, saving $0.5736 (86.9%): the best.
    // Equal savings and signals: agent classifier before stage triage (by name).
    expect(j.routing).toMatchObject({ estimated: true, consideredSlices: 4 });
    expect(j.routing.candidates.map((c) => `${c.dimension} ${c.key}`)).toEqual([
      'agent classifier',
      'stage triage',
    ]);
    const c = j.routing.candidates[0]!;
    expect(c.estimated).toBe(true);
    expect(c.signature.score).toBe(3);
    expect(c.best).toMatchObject({
      targetModel: 'gpt-4.1-mini',
      actualNanoUsd: 660_000_000,
      counterfactualNanoUsd: 86_400_000,
      savingsNanoUsd: 573_600_000,
      estimated: true,
    });
    expect(c.best.savingsShare).toBeCloseTo(0.5736 / 0.66, 12);
    expect(c.targets.map((t) => [t.targetModel, t.counterfactualNanoUsd, t.savingsNanoUsd])).toEqual([
      ['gpt-4.1-mini', 86_400_000, 573_600_000],
      ['claude-haiku-4-5', 220_000_000, 440_000_000],
    ]);

    // Weeks: 03-02 holds r2 ($0.93), 03-09 holds r1 ($1.53): +64.5%; 03-16 (partial) holds r3 ($0.69).
    expect(j.trend).toMatchObject({ previous: '2026-03-02', last: '2026-03-09', current: '2026-03-16' });
    expect(j.trend.total).toMatchObject({
      previous: { costNanoUsd: 930_000_000 },
      last: { costNanoUsd: 1_530_000_000 },
      current: { costNanoUsd: 690_000_000, partial: true },
      changePct: 64.5, // (1.53 − 0.93) / 0.93 = 64.516…%, one decimal
    });
    // planner: $0.60 → $1.20 (+100%); classifier $0.33 → $0.33 (0%); writer only this week.
    expect(j.trend.agents.map((a) => [a.key, a.changePct])).toEqual([
      ['planner', 100],
      ['classifier', 0],
      ['writer', null],
    ]);

    // Projection: March to date $3.15. Window: the 7 full days 03-11 … 03-17 ($0.69 on 03-17 only):
    // mean $0.69 / 7 a day; 13.5 days left (12:00 on the 18th to April 1st).
    // $3.15 + $0.69 × 13.5 / 7 = $3.15 + $1.330714285714… = 4,480,714,286 nano (rounded half up);
    // low = $3.15 + $0 × 13.5; high = $3.15 + $0.69 × 13.5 = $3.15 + $9.315 = $12.465.
    expect(j.projection).toMatchObject({
      month: '2026-03',
      monthToDateNanoUsd: 3_150_000_000,
      dailyMeanNanoUsd: 98_571_429, // 690,000,000 / 7 = 98,571,428.57…
      remainingDays: 13.5,
      projectedNanoUsd: 4_480_714_286,
      lowNanoUsd: 3_150_000_000,
      highNanoUsd: 12_465_000_000,
      estimated: true,
    });

    // Sunsetting (last 30 days): planner 76% on 3 days, classifier 21% on 2 days; writer is < 10%.
    expect(j.sunsetting.candidates.map((s) => [s.key, s.activeDays])).toEqual([
      ['planner', 3],
      ['classifier', 2],
    ]);
    expect(j.distillation.candidates).toEqual([]); // nobody has 100 calls
    // Templates: untagged planner + writer $2.49 (6 calls), triage-v1 $0.66 (20 calls).
    expect(j.templates.top.map((t) => [t.template, t.costNanoUsd, t.events])).toEqual([
      ['(none)', 2_490_000_000, 6],
      ['triage-v1', 660_000_000, 20],
    ]);
    expect(j.headlines[0]).toBe(
      'Cost leader: planner, $2.40 = 76.2% of the spend (above 40%); $1.20 of its spend per success (2 of 3 run(s) with an outcome succeeded), ROI +233%.',
    );
  });

  it('terminal: the answers with their numbers, estimates marked', async () => {
    const r = await cli(['insights', '--ledger', ledgerFile, '--now', NOW, '--value-per-success', '4']);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('26 calls · $3.15 · 2026-03-03 → 2026-03-17');
    expect(out).toContain(
      'Cost per success: $1.58 (2 of 3 run(s) succeeded; failed runs $0.93 of $3.15), ROI +154%.',
    );
    expect(out).toContain(
      'Route agent classifier to gpt-4.1-mini: ~$0.57 (87%) less on its 20 calls (estimate); 1 more candidate(s).',
    );
    expect(out).toContain(
      'This week vs last: wk 2026-03-16 so far $0.69; wk 2026-03-09 $1.53, +64.5% on wk 2026-03-02 ($0.93).',
    );
    expect(out).toContain('Month 2026-03 on track for ~$4.48 (range ~$3.15–~$12.47; estimate).');
    expect(out).toMatch(
      /agent classifier +20 +many calls, low output\/input, short outputs +\$0\.66 +gpt-4\.1-mini +~\$0\.09 +~\$0\.57 \(87%\)/,
    );
    expect(out).toContain('Cheaper-model candidates (estimate)');
    expect(out).toContain('Month-end projection, 2026-03 (estimate)');
    expect(out).toContain('1 outcome(s) name a run with no calls in range (not counted): r9.');
  });

  it('--markdown: a weekly report with every section, tildes escaped for chat renderers', async () => {
    const r = await cli(['insights', '--ledger', ledgerFile, '--now', NOW, '--markdown']);
    expect(r.code).toBe(0);
    const md = r.stdout;
    for (const h of [
      '## tokenledger insights · 2026-03-18',
      '### Summary',
      '### Who spends it',
      '### Outcomes',
      '### Cheaper-model candidates (estimate)',
      '### This week vs last',
      '### Month-end projection, 2026-03 (estimate)',
      '### Rarely used but costly (last 30 days)',
      '### Distillation candidates',
      '### Prompt templates by cost (top 5)',
    ])
      expect(md).toContain(`\n${h}\n`.trimStart());
    expect(md).toContain(
      '| agent classifier | 20 | many calls, low output/input, short outputs | $0.66 | gpt-4.1-mini | \\~$0.09 | \\~$0.57 (87%) |',
    );
    expect(md).toContain('ROI needs a value: --value-per-success USD, or value_usd per outcome.');
    expect(md).not.toMatch(/(^|[^\\])~/m);
  });

  it('--since/--until limit the calls; --period month compares months', async () => {
    const j = await cliJson<InsightsJson>([
      'insights',
      '--ledger',
      ledgerFile,
      '--now',
      NOW,
      '--since',
      '2026-03-10',
      '--until',
      '2026-03-10',
      '--period',
      'month',
      '--json',
    ]);
    // Only r1: planner $1.20 + classifier $0.33.
    expect(j.totals).toMatchObject({ events: 12, costNanoUsd: 1_530_000_000 });
    expect(j.trend).toMatchObject({ previous: null, last: null, current: '2026-03' });
  });

  it('usage errors exit 2', async () => {
    for (const bad of [
      ['--period', 'fortnight'],
      ['--period', 'sprint:2026-13-01:14'],
      ['--top', '0'],
      ['--targets', 'no-such-model-x'],
      ['--value-per-success', 'lots'],
      ['--now', 'yesterday'],
      ['--since', '2026-03-10', '--until', '2026-03-01'],
      ['--json', '--markdown'],
      ['--bogus'],
    ]) {
      const r = await cli(['insights', '--ledger', ledgerFile, ...bad]);
      expect(r.code, `${bad.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^tokenledger: /);
    }
  });
});

interface WhatIfJson {
  label: string;
  events: number;
  fromModels: string[];
  estimated: true;
  results: {
    targetModel: string;
    comparedEvents: number;
    actualNanoUsd: number;
    counterfactualNanoUsd: number;
    savingsNanoUsd: number;
    estimated: true;
  }[];
  measured?: {
    perCall: { before: { perUnitNanoUsd: number }; after: { perUnitNanoUsd: number }; estimated: false };
  };
}

describe('whatif', () => {
  it('--json re-prices the slice at each model, labelled an estimate', async () => {
    const j = await cliJson<WhatIfJson>([
      'whatif',
      '--ledger',
      ledgerFile,
      '--agent',
      'classifier',
      '--model',
      'claude-haiku-4-5,gpt-4.1-mini',
      '--json',
    ]);
    expect(j).toMatchObject({
      label: 'agent=classifier',
      events: 20,
      fromModels: ['claude-sonnet-4-5'],
      estimated: true,
    });
    // See the routing figures above: $0.66 → $0.22 at haiku-4-5, → $0.0864 at gpt-4.1-mini.
    expect(j.results).toMatchObject([
      {
        targetModel: 'claude-haiku-4-5',
        comparedEvents: 20,
        actualNanoUsd: 660_000_000,
        counterfactualNanoUsd: 220_000_000,
        savingsNanoUsd: 440_000_000,
        estimated: true,
      },
      {
        targetModel: 'gpt-4.1-mini',
        counterfactualNanoUsd: 86_400_000,
        savingsNanoUsd: 573_600_000,
        estimated: true,
      },
    ]);
  });

  it('terminal output of a run slice: planner and classifier at haiku', async () => {
    const r = await cli(['whatif', '--ledger', ledgerFile, '--run', 'r1', '--model', 'claude-haiku-4-5']);
    expect(r.code).toBe(0);
    // r1 at haiku-4-5: planner 2 × (20,000 × $1/M + 4,000 × $5/M = $0.04) = $0.08, classifier 10 × $0.011 = $0.11
    // → $0.19 for $1.53: $1.34 saved (87.6%).
    expect(r.stdout).toContain('tokenledger · what if run=r1 ran on another model');
    expect(r.stdout).toContain('12 call(s) of claude-opus-4-1, claude-sonnet-4-5 · 2026-03-10 → 2026-03-10');
    expect(r.stdout).toMatch(/claude-haiku-4-5 +12 +\$1\.53 +~\$0\.19 +~\$1\.34 \(87\.6%\)/);
    expect(r.stdout).toContain('Estimate: the same calls');
  });

  it('--changed-at measures before and since (not an estimate)', async () => {
    // planner: before 03-10, 1 call ($0.60); since: 3 calls ($1.80) → $0.60 a call both sides.
    const j = await cliJson<WhatIfJson>([
      'whatif',
      '--ledger',
      ledgerFile,
      '--agent',
      'planner',
      '--changed-at',
      '2026-03-10',
      '--json',
    ]);
    expect(j.results).toEqual([]);
    expect(j.measured?.perCall).toMatchObject({
      before: { perUnitNanoUsd: 600_000_000 },
      after: { perUnitNanoUsd: 600_000_000 },
      estimated: false,
    });
  });

  it('usage errors exit 2: no model, an unknown model, a slice with no calls', async () => {
    for (const bad of [
      ['--agent', 'planner'],
      ['--model', 'no-such-model-x'],
      ['--agent', 'nobody', '--model', 'claude-haiku-4-5'],
      ['--model', 'claude-haiku-4-5', '--csv'],
    ]) {
      const r = await cli(['whatif', '--ledger', ledgerFile, ...bad]);
      expect(r.code, `${bad.join(' ')}: ${r.stderr}`).toBe(2);
    }
    const r = await cli([
      'whatif',
      '--ledger',
      ledgerFile,
      '--agent',
      'nobody',
      '--model',
      'claude-haiku-4-5',
    ]);
    expect(r.stderr).toContain('no calls match agent=nobody; agents in range: classifier, planner, writer');
  });
});
