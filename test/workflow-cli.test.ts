import { copyFileSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, runCliJson } from './helpers/cli.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

// The workflow meter through the BUILT CLI (test/global-setup.ts builds it), run as a child process
// with TOKENLEDGER_HOME and HOME in a temp folder (also its working folder), so fixture paths print
// absolute. Every figure below is worked out by hand in the comments next to it.

const WF = fileURLToPath(new URL('./fixtures/workflow/', import.meta.url));
const EXTRA = join(WF, 'extra');
const SAMPLE = join(WF, 'sample-run.json');
const REFERENCE = readFileSync(join(WF, 'reference-output.txt'), 'utf8');

interface TallyJson {
  events: number;
  inputTokens: number;
  outputTokens: number;
  unsplitTokens: number;
  totalTokens: number;
  costUsd: number;
  costNanoUsd: number;
  estimatedEvents: number;
  unpricedEvents: number;
  unpricedModels: string[];
}
interface FindingJson {
  stage: string | null;
  kind: string;
  severity: string;
  detail: string;
}
interface StageJson {
  name: string;
  tokens: number;
  sharePct: number;
  costUsd: number;
  agents: number;
  unpricedAgents: number;
}
interface RunJson {
  id: string;
  workflow: string | null;
  status: string | null;
  file: string;
  totalTokens: number;
  agentTokens: number;
  unattributedTokens: number;
  invariantOk: boolean;
  invariantDetail?: string;
  degraded: boolean;
  statusAgreement: string;
  findings: FindingJson[];
  stages: StageJson[];
  costUsd: number;
  estimated: boolean;
  unpricedAgents: number;
  unpricedModels: string[];
}
interface ReportJson {
  by: string;
  source: string;
  totals: TallyJson;
  groups: (TallyJson & { key: string })[];
  problems: { file: string; line: number; reason: string }[];
  problemCount: number;
  runs: RunJson[];
}

let home: string;
beforeEach(() => {
  home = tempDir('tokenledger-wfcli-');
});
afterEach(() => {
  removeTempDirs();
});

const cli = (args: string[]) => runCli(args, { home });
const cliJson = (args: string[]) => runCliJson<ReportJson>(args, { home });
const ledgerArgs = () => ['--ledger', join(home, 'ledger.db')];
const MODES: [string, () => string[]][] = [
  ['--no-ledger', () => ['--no-ledger']],
  ['a ledger', ledgerArgs],
];
/** A problem's file as printed (absolute, or relative to the CLI's working folder) → absolute. */
const absolute = (file: string) => resolve(home, file);
const thousands = (n: number) => n.toLocaleString('en-US');

/** The lines of the output block (blocks end at a blank line) whose first line starts with `head`. */
function block(stdout: string, head: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith(head));
  if (start < 0) throw new Error(`no block starting with ${JSON.stringify(head)} in:\n${stdout}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start, end < 0 ? undefined : end);
}

const STAGE_ROW = /^ {2}(.+?) +(-?[\d,]+) +(-?\d+\.\d)% +(\S+) +n=(\d+) *(#*)$/;
const GAP_ROW = /^ {2}(unattributed|over-attributed) +(-?[\d,]+) +(-?\d+\.\d)%$/;
/** Stage rows of a run block: [name, tokens, share, cost cell, agents, bar length]. */
const stageRows = (lines: string[]) =>
  lines.flatMap((l) => {
    const m = STAGE_ROW.exec(l);
    return m ? [[m[1], Number(m[2]!.replace(/,/g, '')), m[3], m[4], Number(m[5]), m[6]!.length]] : [];
  });
const highLines = (lines: string[]) => lines.flatMap((l) => /^ {6}\[high\] (.*)$/.exec(l)?.slice(1) ?? []);

// ─── 1. Conformance with the seed meter ──────────────────────────────────────────────────────────

interface Conformance {
  file: string;
  /** Its section in reference-output.txt. */
  section: string;
  workflow: string | null;
  runId: string | null;
  status: string | null;
  total: number;
  agentTokens: number;
  invariantOk: boolean;
  /** [stage, tokens, share % (one decimal), agents, bar = round(share / 2) '#'] by tokens. */
  stages: [string, number, string, number, number][];
  /** The high findings as the seed printed them, after "[high] ". */
  high: string[];
  /** Where the price data knows every model: the seed's dollars (run, then each stage) and ours in nano. */
  priced: { run: string; stages: string[]; nano: number } | null;
  /** Agents without a known price: the seed priced them at an Opus-class default; tokenledger does not. */
  unpriced: number;
}

// Shares: tokens / total × 100; bars: round(share / 2).
const CONFORMANCE: Conformance[] = [
  {
    file: 'sample-run.json',
    section: 'sample-run.json',
    workflow: 'sample-research',
    runId: 'wf_sample-001',
    status: 'completed',
    total: 1_006_200, // 31204 + 254248 + 720748
    agentTokens: 1_006_200,
    invariantOk: true,
    stages: [
      ['Verify', 720_748, '71.6', 12, 36], // 71.63% → 35.8 → 36
      ['Search', 254_248, '25.3', 6, 13], // 25.27% → 12.6 → 13
      ['Scope', 31_204, '3.1', 1, 2], // 3.10% → 1.55 → 2
    ],
    high: [],
    // 85% input: haiku-4-5 0.85×$1 + 0.15×$5 = $1.60/MTok, sonnet-4-6 0.85×$3 + 0.15×$15 = $4.80/MTok.
    // Verify 720748 × 4.8 = $3.4595904; Search 254248 × 1.6 = $0.4067968; Scope 31204 × 1.6 =
    // $0.0499264 → $3.9163136
    priced: { run: '$3.92', stages: ['$3.46', '$0.41', '$0.05'], nano: 3_916_313_600 },
    unpriced: 0,
  },
  {
    file: 'wf_bad-token-type.json',
    section: 'derived/wf_bad-token-type.json',
    workflow: null,
    runId: null,
    status: null,
    total: 0, // tokens "bad" counted as 0; 0 == 0 holds
    agentTokens: 0,
    invariantOk: true,
    stages: [['X', 0, '0.0', 1, 0]],
    high: [],
    priced: null,
    unpriced: 1, // no model
  },
  {
    file: 'wf_cli-basic.json',
    section: 'derived/wf_cli-basic.json',
    workflow: 'deep-research',
    runId: 'wf_x',
    status: 'completed',
    total: 1000,
    agentTokens: 1000,
    invariantOk: true,
    stages: [
      ['Verify', 900, '90.0', 1, 45],
      ['Scope', 100, '10.0', 1, 5],
    ],
    high: [],
    priced: null,
    unpriced: 2, // no model on either agent
  },
  {
    file: 'wf_health-broken-verify.json',
    section: 'derived/wf_health-broken-verify.json',
    workflow: null,
    runId: null,
    status: null,
    total: 89_528, // 5 × 16000 + 6 × 1588
    agentTokens: 89_528,
    invariantOk: true,
    stages: [
      ['Fetch', 80_000, '89.4', 5, 45], // 89.36% → 44.7 → 45
      ['Verify', 9528, '10.6', 6, 5], // 10.64% → 5.3 → 5
    ],
    // median of the stage means (1588, 16000) = 8794; 25% = 2198.5 > 1588
    high: [
      "Verify: errors — 6/6 agents in state 'error'",
      'Verify: cheap — mean 1588 tok/agent over 6 agents < 25% of run median 8794',
    ],
    priced: null,
    unpriced: 11, // model 'm'
  },
  {
    file: 'wf_health-cheap-verify.json',
    section: 'derived/wf_health-cheap-verify.json',
    workflow: null,
    runId: null,
    status: null,
    total: 89_000, // 5 × 16000 + 6 × 1500
    agentTokens: 89_000,
    invariantOk: true,
    stages: [
      ['Fetch', 80_000, '89.9', 5, 45], // 89.89% → 44.9 → 45
      ['Verify', 9000, '10.1', 6, 5], // 10.11% → 5.1 → 5
    ],
    high: ['Verify: cheap — mean 1500 tok/agent over 6 agents < 25% of run median 8750'], // (1500+16000)/2
    priced: null,
    unpriced: 11, // no model
  },
  {
    file: 'wf_health-healthy.json',
    section: 'derived/wf_health-healthy.json',
    workflow: null,
    runId: null,
    status: null,
    total: 128_000, // 5 × 16000 + 6 × 8000
    agentTokens: 128_000,
    invariantOk: true,
    stages: [
      ['Fetch', 80_000, '62.5', 5, 31], // 31.25 → 31
      ['Verify', 48_000, '37.5', 6, 19], // 18.75 → 19
    ],
    high: [],
    priced: null,
    unpriced: 11, // model 'm'
  },
  {
    file: 'wf_ledger-basic.json',
    section: 'derived/wf_ledger-basic.json',
    workflow: 'deep-research',
    runId: 'wf_test',
    status: 'completed',
    total: 1000, // 100 + 600 + 300
    agentTokens: 1000,
    invariantOk: true,
    stages: [
      ['Verify', 900, '90.0', 2, 45],
      ['Scope', 100, '10.0', 1, 5],
    ],
    high: ["Verify: errors — 1/2 agents in state 'error'"],
    // claude-opus-4-8 at $5/$25: 0.85×5 + 0.15×25 = $8/MTok → Verify 900 × 8 = $0.0072, Scope $0.0008,
    // run $0.008
    priced: { run: '$0.01', stages: ['$0.01', '$0.00'], nano: 8_000_000 },
    unpriced: 0,
  },
  {
    file: 'wf_ledger-mismatch.json',
    section: 'derived/wf_ledger-mismatch.json',
    workflow: 'deep-research',
    runId: 'wf_test',
    status: 'completed',
    total: 999, // as reported; the agents add up to 1000
    agentTokens: 1000,
    invariantOk: false,
    stages: [
      ['Verify', 900, '90.1', 2, 45], // 900/999 = 90.09% → 45.05 → 45
      ['Scope', 100, '10.0', 1, 5], // 100/999 = 10.01% → 5.005 → 5
    ],
    high: ["Verify: errors — 1/2 agents in state 'error'"],
    priced: { run: '$0.01', stages: ['$0.01', '$0.00'], nano: 8_000_000 },
    unpriced: 0,
  },
  {
    file: 'wf_no-agents.json',
    section: 'derived/wf_no-agents.json',
    workflow: null,
    runId: null,
    status: null,
    total: 0,
    agentTokens: 0,
    invariantOk: false, // no agent rows
    stages: [],
    high: [],
    priced: { run: '$0.00', stages: [], nano: 0 },
    unpriced: 0,
  },
  {
    file: 'wf_pricing-per-agent-model.json',
    section: 'derived/wf_pricing-per-agent-model.json',
    workflow: null,
    runId: null,
    status: null,
    total: 200,
    agentTokens: 200,
    invariantOk: true,
    stages: [
      ['Fetch', 100, '50.0', 1, 25],
      ['Verify', 100, '50.0', 1, 25],
    ],
    high: [],
    // Fetch haiku-4-5 100 × $1.60/MTok = $0.00016; Verify opus-4-8 100 × $8/MTok = $0.0008 → $0.00096
    priced: { run: '$0.00', stages: ['$0.00', '$0.00'], nano: 960_000 },
    unpriced: 0,
  },
];

/** reference-output.txt, section by section: what the seed printed. */
function seedSection(name: string) {
  const sections = REFERENCE.split(/^=== /m).slice(1);
  const text = sections.find((s) => s.startsWith(`${name}\n`));
  if (!text) throw new Error(`no section ${name} in reference-output.txt`);
  const lines = text.split('\n');
  const head =
    /^(\S+) {2}(\S*) {2}status=(\S*) {2}total=([\d,]+) tok {2}~\$([\d.]+) {2}invariant_ok=(True|False)$/.exec(
      lines[1]!,
    );
  if (!head) throw new Error(`unexpected seed header: ${lines[1]}`);
  const rows = lines.flatMap((l) => {
    const m = /^ {2}(\S+) +([\d,]+) +([\d.]+)% +~\$ +([\d.]+) +n=(\d+) *(#*)\s*$/.exec(l);
    return m
      ? [{ name: m[1]!, tokens: m[2]!, pct: m[3]!, cost: m[4]!, agents: Number(m[5]), bar: m[6]!.length }]
      : [];
  });
  return {
    workflow: head[1]!,
    id: head[2]!,
    status: head[3]!,
    total: head[4]!,
    cost: head[5]!,
    invariantOk: head[6] === 'True',
    rows,
    high: highLines(lines),
  };
}

describe('conformance with the seed meter (reference-output.txt), one fixture at a time', () => {
  it('the table below covers every fixture the seed published output for, and every fixture file', () => {
    const sections = [...REFERENCE.matchAll(/^=== (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(CONFORMANCE.map((c) => c.section));
    const files = readdirSync(WF).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(CONFORMANCE.map((c) => c.file).sort());
  });

  describe.each(CONFORMANCE.map((c) => [c.file, c] as const))('%s', (_file, c) => {
    const file = join(WF, c.file);

    it('the hand-computed expectations are what the seed printed', () => {
      const seed = seedSection(c.section);
      expect(seed.workflow).toBe(c.workflow ?? '?');
      expect(seed.id).toBe(c.runId ?? '');
      expect(seed.status).toBe(c.status ?? '');
      expect(seed.total).toBe(thousands(c.total));
      expect(seed.invariantOk).toBe(c.invariantOk);
      expect(
        seed.rows.map((r) => [r.name, Number(r.tokens.replace(/,/g, '')), r.pct, r.agents, r.bar]),
      ).toEqual(c.stages);
      expect(seed.high).toEqual(c.high);
      if (c.priced) {
        expect(`$${seed.cost}`).toBe(c.priced.run);
        expect(seed.rows.map((r) => `$${r.cost}`)).toEqual(c.priced.stages);
      }
    });

    it('runs prints the same waterfall, invariant and high findings', async () => {
      const r = await cli(['runs', file, '--no-ledger']);
      expect(r.code).toBe(0);
      const unpriced = c.unpriced ? ` (+${c.unpriced} unpriced agent${c.unpriced > 1 ? 's' : ''})` : '';
      const head =
        `${c.workflow ?? '?'}  ${c.runId ?? file}  status=${c.status ?? ''}  total=${thousands(c.total)} tok` +
        `  ~${c.priced?.run ?? '$0.00'}${unpriced}  `;
      const lines = block(r.stdout, head);
      const invariant = lines[0]!.slice(head.length);
      if (c.invariantOk) expect(invariant).toBe('invariant ok');
      else expect(invariant).toMatch(/^INVARIANT FAILED \(.+\)$/);
      expect(stageRows(lines)).toEqual(
        c.stages.map(([name, tokens, pct, agents, bar], i) => [
          name,
          tokens,
          pct,
          c.priced ? `~${c.priced.stages[i]}` : 'unpriced',
          agents,
          bar,
        ]),
      );
      expect(highLines(lines)).toEqual(c.high);
      expect(lines.includes('  ! DEGRADED — cost numbers on this run are NOT publishable:')).toBe(
        c.high.length > 0,
      );
      expect(lines.at(-1)).toBe('  ($ = estimate: list prices, 85%-input blend; telemetry has no I/O split)');
    });

    it.each(MODES)('--json with %s has the same figures', async (_mode, mode) => {
      const j = await cliJson(['runs', file, '--json', ...mode()]);
      expect(j.runs).toHaveLength(1);
      const run = j.runs[0]!;
      expect(run.workflow).toBe(c.workflow);
      expect(run.status).toBe(c.status);
      if (c.runId) expect(run.id).toBe(c.runId);
      expect(run.totalTokens).toBe(c.total);
      expect(run.agentTokens).toBe(c.agentTokens);
      expect(run.invariantOk).toBe(c.invariantOk);
      expect(run.degraded).toBe(c.high.length > 0);
      expect(run.stages.map((s) => [s.name, s.tokens, s.sharePct.toFixed(1), s.agents])).toEqual(
        c.stages.map(([name, tokens, pct, agents]) => [name, tokens, pct, agents]),
      );
      expect(
        run.findings.filter((f) => f.severity === 'high').map((f) => `${f.stage}: ${f.kind} — ${f.detail}`),
      ).toEqual(c.high);
      expect(run.unpricedAgents).toBe(c.unpriced);
      expect(run.stages.reduce((n, s) => n + s.unpricedAgents, 0)).toBe(c.unpriced);
      expect(j.totals.unpricedEvents).toBe(c.unpriced);
      // the agents' tokens are all in the spend totals, unsplit
      expect(j.totals.unsplitTokens).toBe(c.agentTokens);
      expect(j.totals.totalTokens).toBe(c.agentTokens);
      if (c.priced) {
        expect(j.totals.costNanoUsd).toBe(c.priced.nano);
        expect(run.costUsd).toBe(c.priced.nano / 1e9);
      } else {
        // every agent of these fixtures is unpriced: no dollars at all, never a made-up default
        expect(run.costUsd).toBe(0);
        expect(j.totals.costNanoUsd).toBe(0);
      }
    });
  });

  it('sample-run: each stage to the cent, and Search exactly $0.4067968 (254,248 × $1.60/MTok)', async () => {
    const j = await cliJson(['runs', SAMPLE, '--json', '--no-ledger']);
    const [verify, search, scope] = j.runs[0]!.stages;
    expect(search!.costUsd).toBe(0.4067968);
    expect(verify!.costUsd).toBe(3.4595904); // 720748 × 4.8 / 1e6
    expect(scope!.costUsd).toBe(0.0499264); // 31204 × 1.6 / 1e6
    expect(j.runs[0]!.costUsd).toBe(3.9163136);
    expect(j.runs[0]!.estimated).toBe(true);
  });

  it('pricing-per-agent-model: each agent priced at its own model, Verify (opus) above Fetch (haiku)', async () => {
    const j = await cliJson(['runs', join(WF, 'wf_pricing-per-agent-model.json'), '--json', '--no-ledger']);
    const [fetch, verify] = j.runs[0]!.stages;
    expect(fetch!.costUsd).toBe(0.00016); // 100 × $1.60/MTok
    expect(verify!.costUsd).toBe(0.0008); // 100 × $8/MTok
  });

  it('the unpriced fixtures name the unknown model, or "unknown" where the telemetry names none', async () => {
    const m = await cliJson(['runs', join(WF, 'wf_health-healthy.json'), '--json', '--no-ledger']);
    expect(m.runs[0]!.unpricedModels).toEqual(['m']);
    const none = await cliJson(['runs', join(WF, 'wf_cli-basic.json'), '--json', '--no-ledger']);
    expect(none.runs[0]!.unpricedModels).toEqual(['unknown']);
  });
});

// ─── 2. Scenarios of the extra fixtures ─────────────────────────────────────────────────────────

const X = {
  completedDegraded: join(EXTRA, 'status', 'wf_says-completed-degraded.json'),
  failedHealthy: join(EXTRA, 'status', 'wf_says-failed-healthy.json'),
  gap: join(EXTRA, 'gap', 'wf_unattributed.json'),
  cheapEqual: join(EXTRA, 'cheap', 'wf_cheap-equal.json'),
  cheapBelow: join(EXTRA, 'cheap', 'wf_cheap-below.json'),
  cheapFour: join(EXTRA, 'cheap', 'wf_cheap-four.json'),
  unknownModel: join(EXTRA, 'model', 'wf_unknown-model.json'),
  noAgents: join(EXTRA, 'noagents', 'wf_no-agents-total.json'),
  notes: join(EXTRA, 'notes', 'wf_notes.json'),
  dupA: join(EXTRA, 'dup', 'wf_dup-a.json'),
  dupB: join(EXTRA, 'dup', 'wf_dup-b.json'),
};
const W = (n: number) => join(EXTRA, 'history', `wf_w-${n}.json`);
const WD = (n: number) => join(EXTRA, 'history-degraded', `wf_w-d${n}.json`);
const BROKEN = (name: string) => join(EXTRA, 'broken', name);
const byId = (j: ReportJson, id: string) => {
  const run = j.runs.find((r) => r.id === id);
  if (!run) throw new Error(`no run ${id} in ${j.runs.map((r) => r.id).join(', ')}`);
  return run;
};

describe('what a run says versus what its telemetry shows', () => {
  it.each(MODES)(
    'with %s: "completed" while a stage errored is degraded; "failed" while healthy is not',
    async (_m, mode) => {
      const j = await cliJson(['runs', join(EXTRA, 'status'), '--json', ...mode()]);
      expect(j.runs.map((r) => r.id)).toEqual(['wf_status-completed', 'wf_status-failed']); // by start time
      const said = byId(j, 'wf_status-completed');
      expect(said).toMatchObject({
        status: 'completed',
        degraded: true,
        invariantOk: true,
        statusAgreement: 'says-completed-is-degraded',
        totalTokens: 15_000, // 5000 + 5000 + 4000 + 1000
        costUsd: 0.024, // 15000 × $1.60/MTok (haiku)
      });
      expect(said.findings).toEqual([
        { stage: 'Verify', kind: 'errors', severity: 'high', detail: "1/2 agents in state 'failed'" },
      ]);
      const failed = byId(j, 'wf_status-failed');
      expect(failed).toMatchObject({
        status: 'failed',
        degraded: false,
        invariantOk: true,
        statusAgreement: 'says-failed-looks-healthy',
      });
      expect(failed.findings).toEqual([]);
    },
  );

  it('the terminal says so under each run; --strict exits 3 for the degraded one', async () => {
    const r = await cli(['runs', join(EXTRA, 'status'), '--no-ledger']);
    expect(r.code).toBe(0);
    const completed = block(
      r.stdout,
      'status-check  wf_status-completed  status=completed  total=15,000 tok  ~$0.02  invariant ok',
    );
    expect(completed).toContain('  ! the run says "completed" but is DEGRADED');
    expect(highLines(completed)).toEqual(["Verify: errors — 1/2 agents in state 'failed'"]);
    const failed = block(
      r.stdout,
      'status-check  wf_status-failed  status=failed  total=15,000 tok  ~$0.02  invariant ok',
    );
    expect(failed).toContain('  ! the run says "failed" but its telemetry looks healthy');
    expect(failed.some((l) => l.includes('DEGRADED'))).toBe(false);
    expect((await cli(['runs', join(EXTRA, 'status'), '--no-ledger', '--strict'])).code).toBe(3);
  });
});

describe('an unattributed gap (the agents add up to less than the run total)', () => {
  it.each(MODES)('with %s: unattributedTokens in JSON, invariant failed, not degraded', async (_m, mode) => {
    const j = await cliJson(['runs', X.gap, '--json', ...mode()]);
    const run = j.runs[0]!;
    expect(run).toMatchObject({
      totalTokens: 10_000,
      agentTokens: 9000, // 3000 + 3000 + 3000
      unattributedTokens: 1000,
      invariantOk: false,
      invariantDetail: 'agents add up to 9000, the run reports 10000',
      degraded: false,
    });
    expect(run.stages.map((s) => [s.name, s.tokens, s.sharePct, s.agents])).toEqual([
      ['Build', 6000, 60, 2], // of the reported 10000
      ['Plan', 3000, 30, 1],
    ]);
  });

  it('the terminal shows an "unattributed" row; --strict exits 4, plain runs 0', async () => {
    const r = await cli(['runs', X.gap, '--no-ledger']);
    expect(r.code).toBe(0);
    const lines = block(
      r.stdout,
      'gap-check  wf_gap  status=completed  total=10,000 tok  ~$0.00 (+3 unpriced agents)  INVARIANT FAILED (agents add up to 9000, the run reports 10000)',
    );
    expect(stageRows(lines)).toEqual([
      ['Build', 6000, '60.0', 'unpriced', 2, 30],
      ['Plan', 3000, '30.0', 'unpriced', 1, 15],
    ]);
    const gap = lines.flatMap((l) => GAP_ROW.exec(l)?.slice(1) ?? []);
    expect(gap).toEqual(['unattributed', '1,000', '10.0']); // 1000 / 10000
    expect((await cli(['runs', X.gap, '--no-ledger', '--strict'])).code).toBe(4);
  });
});

describe('the cheap-stage rule at its edges', () => {
  // Stage means Fetch 8000, Write 8000, Verify m → median 8000; 25% of it = 2000.
  it('a mean of exactly 25% of the median is not cheap; just below it is', async () => {
    const equal = await cliJson(['runs', X.cheapEqual, '--json', '--no-ledger']);
    expect(equal.runs[0]!.findings).toEqual([]); // Verify 5 × 2000: 2000 < 2000 is false
    expect(equal.runs[0]!.degraded).toBe(false);
    const below = await cliJson(['runs', X.cheapBelow, '--json', '--no-ledger']);
    // Verify 4 × 2000 + 1999 = 9999: mean 1999.8 < 2000 (printed rounded, 2000)
    expect(below.runs[0]!.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 2000 tok/agent over 5 agents < 25% of run median 8000',
      },
    ]);
    expect(below.runs[0]!.degraded).toBe(true);
    expect((await cli(['runs', X.cheapEqual, '--no-ledger', '--strict'])).code).toBe(0);
    const strict = await cli(['runs', X.cheapBelow, '--no-ledger', '--strict']);
    expect(strict.code).toBe(3);
    expect(strict.stdout).toContain(
      '      [high] Verify: cheap — mean 2000 tok/agent over 5 agents < 25% of run median 8000',
    );
  });

  it('fewer than 5 agents are never cheap by default; --cheap-min-agents 3 makes them so', async () => {
    // Verify 4 × 100: mean 100, far below 2000, but only 4 agents
    const dflt = await cliJson(['runs', X.cheapFour, '--json', '--no-ledger']);
    expect(dflt.runs[0]!.findings).toEqual([]);
    const three = await cliJson(['runs', X.cheapFour, '--json', '--no-ledger', '--cheap-min-agents', '3']);
    expect(three.runs[0]!.findings).toEqual([
      {
        stage: 'Verify',
        kind: 'cheap',
        severity: 'high',
        detail: 'mean 100 tok/agent over 4 agents < 25% of run median 8000',
      },
    ]);
    expect((await cli(['runs', X.cheapFour, '--no-ledger', '--strict'])).code).toBe(0);
    expect(
      (await cli(['runs', X.cheapFour, '--no-ledger', '--strict', '--cheap-min-agents', '3'])).code,
    ).toBe(3);
  });

  it('--cheap-ratio 0.3 moves the line: 2000 < 30% × 8000 = 2400', async () => {
    const j = await cliJson(['runs', X.cheapEqual, '--json', '--no-ledger', '--cheap-ratio', '0.3']);
    expect(j.runs[0]!.findings.map((f) => f.detail)).toEqual([
      'mean 2000 tok/agent over 5 agents < 30% of run median 8000',
    ]);
  });
});

describe('an unknown model', () => {
  it.each(MODES)('with %s: unpriced (no dollars made up), and its tokens still counted', async (_m, mode) => {
    const j = await cliJson(['report', X.unknownModel, '--json', ...mode()]);
    const run = j.runs[0]!;
    expect(run.totalTokens).toBe(3000); // 1000 (haiku) + 2000 (acme-mystery-9)
    expect(run.unpricedAgents).toBe(1);
    expect(run.unpricedModels).toEqual(['acme-mystery-9']);
    expect(run.stages.map((s) => [s.name, s.tokens, s.sharePct, s.costUsd, s.unpricedAgents])).toEqual([
      ['Verify', 2000, 66.7, 0, 1], // 2000/3000 = 66.67%
      ['Fetch', 1000, 33.3, 0.0016, 0], // 1000 × $1.60/MTok
    ]);
    expect(run.costUsd).toBe(0.0016);
    expect(j.totals).toMatchObject({
      events: 2,
      unsplitTokens: 3000,
      totalTokens: 3000,
      costNanoUsd: 1_600_000,
      unpricedEvents: 1,
      unpricedModels: ['acme-mystery-9'],
    });
  });

  it('the terminal marks the stage unpriced and counts the agent in the run header', async () => {
    const r = await cli(['runs', X.unknownModel, '--no-ledger']);
    const lines = block(
      r.stdout,
      'model-check  wf_unknown-model  status=completed  total=3,000 tok  ~$0.00 (+1 unpriced agent)  invariant ok',
    );
    expect(stageRows(lines)).toEqual([
      ['Verify', 2000, '66.7', 'unpriced', 1, 33], // 66.67 / 2 = 33.3 → 33
      ['Fetch', 1000, '33.3', '~$0.00', 1, 17], // 33.33 / 2 = 16.7 → 17
    ]);
  });
});

describe('broken and foreign files', () => {
  const files = [BROKEN('wf_array.json'), BROKEN('wf_not-workflow.json'), BROKEN('wf_truncated.json')];

  it.each(MODES)('with %s: each is a problem naming its file; the good run goes on', async (_m, mode) => {
    const j = await cliJson(['runs', join(EXTRA, 'broken'), '--json', ...mode()]);
    expect(j.runs.map((r) => r.id)).toEqual(['wf_ok']);
    expect(j.runs[0]!.totalTokens).toBe(1000);
    expect(j.runs[0]!.invariantOk).toBe(true); // 300 + 700
    expect(j.problemCount).toBe(3);
    const problems = j.problems
      .map((p) => ({ ...p, file: absolute(p.file) }))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    expect(problems.map((p) => p.file)).toEqual(files);
    expect(problems[0]!.reason).toBe('not workflow telemetry: the document is not a JSON object');
    expect(problems[1]!.reason).toBe('not workflow telemetry: no workflowProgress list');
    expect(problems[2]!.reason).toMatch(/^not valid JSON \(corrupt or truncated\): /);
    expect(j.totals.unsplitTokens).toBe(1000);
  });

  it('the terminal lists them with their file names, and problems alone do not fail --strict', async () => {
    const r = await cli(['runs', join(EXTRA, 'broken'), '--no-ledger', '--strict']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `${BROKEN('wf_not-workflow.json')}: not workflow telemetry: no workflowProgress list`,
    );
    expect(r.stdout).toContain(`${BROKEN('wf_truncated.json')}: not valid JSON (corrupt or truncated)`);
    expect(r.stdout).toContain(
      `${BROKEN('wf_array.json')}: not workflow telemetry: the document is not a JSON object`,
    );
    block(r.stdout, 'broken-check  wf_ok  status=completed  total=1,000 tok');
  });
});

describe('a run with no agents', () => {
  it.each(MODES)('with %s: invariant false, the reported total unattributed', async (_m, mode) => {
    const j = await cliJson(['runs', X.noAgents, '--json', ...mode()]);
    expect(j.runs[0]).toMatchObject({
      id: 'wf_empty',
      invariantOk: false,
      invariantDetail: 'no agent rows',
      totalTokens: 500,
      agentTokens: 0,
      unattributedTokens: 500,
      stages: [],
      findings: [],
      degraded: false,
      costUsd: 0,
    });
  });

  it('the terminal shows the whole total unattributed; --strict exits 4', async () => {
    const r = await cli(['runs', X.noAgents, '--no-ledger', '--strict']);
    expect(r.code).toBe(4);
    const lines = block(
      r.stdout,
      'empty-check  wf_empty  status=completed  total=500 tok  ~$0.00  INVARIANT FAILED (no agent rows)',
    );
    expect(stageRows(lines)).toEqual([]);
    expect(lines.flatMap((l) => GAP_ROW.exec(l)?.slice(1) ?? [])).toEqual(['unattributed', '500', '100.0']);
  });
});

describe('medium and low findings', () => {
  it('zero-token agents, agentCount and totalToolCalls disagreements and retries are notes, not DEGRADED', async () => {
    const j = await cliJson(['runs', X.notes, '--json', '--no-ledger']);
    const run = j.runs[0]!;
    expect(run.findings).toEqual([
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
      // 3 + 3 + 4 + 2 = 12
      {
        stage: null,
        kind: 'tool-calls',
        severity: 'low',
        detail: 'totalToolCalls says 20, the agents add up to 12',
      },
    ]);
    expect(run.degraded).toBe(false);
    expect(run.invariantOk).toBe(true); // 3000 + 3000 + 4000 + 0 = 10000
    expect(run.statusAgreement).toBe('agrees');

    const r = await cli(['runs', X.notes, '--no-ledger', '--strict']);
    expect(r.code).toBe(0);
    const lines = block(r.stdout, 'notes-check  wf_notes  status=completed  total=10,000 tok');
    expect(lines.filter((l) => l.startsWith('  note '))).toEqual([
      '  note [low] Fetch: retries — 2/2 agents retried (up to attempt 3)',
      '  note [medium] Verify: zero-tokens — 1/2 completed agents logged 0 tokens',
      '  note [medium] run: agent-count — agentCount says 5, the telemetry has 4 agent rows',
      '  note [low] run: tool-calls — totalToolCalls says 20, the agents add up to 12',
    ]);
    expect(lines.some((l) => l.includes('DEGRADED'))).toBe(false);
  });
});

describe('a stage far below its own history', () => {
  // W runs 1–4: Fetch 5 × 8000 = 40000, Verify 5 × 8000 = 40000. Run 5: Verify 5 × 1600 = 8000.
  // Within run 5: means 8000 and 1600, median 4800, 25% = 1200 ≤ 1600 → not cheap.
  // Against the history: median 40000, 25% = 10000 > 8000 → below-history.
  const BELOW_4 = {
    stage: 'Verify',
    kind: 'below-history',
    severity: 'high',
    detail: '8000 tok < 25% of its median 40000 over the last 4 healthy runs',
  };

  it('--no-ledger: the history comes from the folder; only run 5 is flagged', async () => {
    const j = await cliJson(['runs', join(EXTRA, 'history'), '--json', '--no-ledger']);
    expect(j.runs.map((r) => r.id)).toEqual(['wf_w-1', 'wf_w-2', 'wf_w-3', 'wf_w-4', 'wf_w-5']);
    for (const id of ['wf_w-1', 'wf_w-2', 'wf_w-3', 'wf_w-4']) expect(byId(j, id).findings).toEqual([]);
    expect(byId(j, 'wf_w-5').findings).toEqual([BELOW_4]);
    expect(byId(j, 'wf_w-5').degraded).toBe(true);
    const r = await cli(['runs', join(EXTRA, 'history'), '--no-ledger', '--strict']);
    expect(r.code).toBe(3);
    expect(highLines(block(r.stdout, 'W  wf_w-5  '))).toEqual([
      'Verify: below-history — 8000 tok < 25% of its median 40000 over the last 4 healthy runs',
    ]);
    // 5 runs × 10 agents without a model = 50 unpriced agents
    expect(r.stdout).toContain(
      'runs: 5 · healthy 4 · degraded 1 · invariant failures 0 · total ~$0.00 (+50 unpriced agents)',
    );
  });

  it('on its own, run 5 is healthy', async () => {
    const j = await cliJson(['runs', W(5), '--json', '--no-ledger']);
    expect(j.runs[0]!.findings).toEqual([]);
    expect(j.runs[0]!.degraded).toBe(false);
  });

  it('three earlier healthy runs are enough; two are not', async () => {
    const three = await cliJson(['runs', W(1), W(2), W(3), W(5), '--json', '--no-ledger']);
    expect(byId(three, 'wf_w-5').findings).toEqual([
      { ...BELOW_4, detail: '8000 tok < 25% of its median 40000 over the last 3 healthy runs' },
    ]);
    const two = await cliJson(['runs', W(1), W(2), W(5), '--json', '--no-ledger']);
    expect(byId(two, 'wf_w-5').findings).toEqual([]);
  });

  it('degraded earlier runs do not count', async () => {
    // runs 3 and 4 have Verify at 40000 too, but one of their agents errored: only 1 and 2 count
    const j = await cliJson(['runs', W(1), W(2), WD(3), WD(4), W(5), '--json', '--no-ledger']);
    expect(byId(j, 'wf_w-d3').findings).toEqual([
      { stage: 'Verify', kind: 'errors', severity: 'high', detail: "1/5 agents in state 'error'" },
    ]);
    expect(byId(j, 'wf_w-5').findings).toEqual([]);
  });

  it('through the ledger: the history comes from the runs ingested before', async () => {
    const ingest = await cli(['report', W(1), W(2), W(3), W(4), '--json', ...ledgerArgs()]);
    expect(ingest.code).toBe(0);
    const j = await cliJson(['runs', W(5), '--json', ...ledgerArgs()]);
    expect(j.runs.map((r) => r.id)).toEqual(['wf_w-5']); // only what was asked for is shown
    expect(j.runs[0]!.findings).toEqual([BELOW_4]);
    expect((await cli(['runs', W(5), '--strict', ...ledgerArgs()])).code).toBe(3);
  });

  it('through the ledger: degraded runs in the ledger do not count either', async () => {
    expect((await cli(['report', W(1), W(2), WD(3), WD(4), '--json', ...ledgerArgs()])).code).toBe(0);
    const j = await cliJson(['runs', W(5), '--json', ...ledgerArgs()]);
    expect(j.runs[0]!.findings).toEqual([]);
  });
});

describe('one runId in two files', () => {
  it('is counted once, from the fuller file, with a problem; the same totals with and without a ledger', async () => {
    const results: ReportJson[] = [];
    for (const [, mode] of MODES) {
      const j = await cliJson(['report', join(EXTRA, 'dup'), '--json', ...mode()]);
      results.push(j);
      expect(j.runs).toHaveLength(1);
      const run = j.runs[0]!;
      // a: 1000 + 2000 = 3000 (2 agents); b: 1000 + 2000 + 1500 = 4500 (3 agents) → b
      expect(run).toMatchObject({ id: 'wf_dup', status: 'completed', totalTokens: 4500, invariantOk: true });
      expect(absolute(run.file)).toBe(X.dupB);
      expect(run.stages.map((s) => [s.name, s.tokens])).toEqual([
        ['Build', 2000],
        ['Check', 1500],
        ['Plan', 1000],
      ]);
      // 4500 × $1.60/MTok = 7,200,000 nano
      expect(j.totals).toMatchObject({
        events: 3,
        unsplitTokens: 4500,
        totalTokens: 4500,
        costNanoUsd: 7_200_000,
      });
      expect(j.problemCount).toBe(1);
      const p = j.problems[0]!;
      // reported against whichever file was read second, naming the other and which one counts
      const expected =
        absolute(p.file) === X.dupA
          ? `runId wf_dup is also in ${X.dupB}; counted once, from that file`
          : `runId wf_dup is also in ${X.dupA}; counted once, from this file`;
      expect([X.dupA, X.dupB]).toContain(absolute(p.file));
      expect(p.reason).toBe(expected);
    }
    expect(results[1]!.totals).toEqual(results[0]!.totals);
    expect(results[1]!.runs[0]!.stages).toEqual(results[0]!.runs[0]!.stages);
  });
});

// ─── 3. Output contract and options ─────────────────────────────────────────────────────────────

describe('report --json shape', () => {
  it('runs beside the core report fields, with the documented keys and types', async () => {
    const j = await cliJson([
      'report',
      SAMPLE,
      join(WF, 'wf_health-broken-verify.json'),
      '--json',
      '--no-ledger',
    ]);
    for (const k of ['by', 'totals', 'groups', 'problems', 'problemCount', 'runs'])
      expect(Object.keys(j)).toContain(k);
    expect(Array.isArray(j.groups)).toBe(true);
    expect(j.runs).toHaveLength(2);
    for (const run of j.runs) {
      for (const k of [
        'id',
        'workflow',
        'status',
        'totalTokens',
        'agentTokens',
        'unattributedTokens',
        'invariantOk',
        'degraded',
        'findings',
        'stages',
        'costUsd',
        'estimated',
      ])
        expect(Object.keys(run)).toContain(k);
      expect(typeof run.degraded).toBe('boolean');
      expect(typeof run.invariantOk).toBe('boolean');
      expect(run.estimated).toBe(true);
      for (const s of run.stages)
        expect(Object.keys(s)).toEqual(
          expect.arrayContaining(['name', 'tokens', 'sharePct', 'costUsd', 'agents']),
        );
      for (const f of run.findings)
        expect(Object.keys(f).sort()).toEqual(['detail', 'kind', 'severity', 'stage']);
    }
    const broken = j.runs.find((r) => r.id !== 'wf_sample-001')!;
    expect(broken.degraded).toBe(true);
    expect(broken.findings.map((f) => f.kind)).toEqual(['errors', 'cheap']);
    // the spend totals hold both runs' agents: 1,006,200 + 89,528
    expect(j.totals.unsplitTokens).toBe(1_095_728);
    expect(j.totals.events).toBe(30); // 19 + 11
  });

  it('says how many files a direct scan read', async () => {
    const j = await cliJson(['report', join(WF, 'wf_cli-basic.json'), '--json', '--no-ledger']);
    expect(j.source).toBe('1 files, no ledger'); // one file given, one file read
  });
});

describe('--order', () => {
  it('phase keeps the run order, tokens (the default) sorts by tokens', async () => {
    const phase = await cliJson(['runs', SAMPLE, '--json', '--no-ledger', '--order', 'phase']);
    expect(phase.runs[0]!.stages.map((s) => s.name)).toEqual(['Scope', 'Search', 'Verify']);
    const tokens = await cliJson(['runs', SAMPLE, '--json', '--no-ledger', '--order', 'tokens']);
    expect(tokens.runs[0]!.stages.map((s) => s.name)).toEqual(['Verify', 'Search', 'Scope']);
    const dflt = await cliJson(['runs', SAMPLE, '--json', '--no-ledger']);
    expect(dflt.runs[0]!.stages.map((s) => s.name)).toEqual(['Verify', 'Search', 'Scope']);
    const r = await cli(['runs', SAMPLE, '--no-ledger', '--order', 'phase']);
    expect(stageRows(block(r.stdout, 'sample-research  wf_sample-001')).map((row) => row[0])).toEqual([
      'Scope',
      'Search',
      'Verify',
    ]);
  });
});

describe('--input-share', () => {
  // 50% input: haiku 0.5×$1 + 0.5×$5 = $3/MTok, sonnet 0.5×$3 + 0.5×$15 = $9/MTok.
  // Verify 720748 × 9 = $6.486732; Search 254248 × 3 = $0.762744; Scope 31204 × 3 = $0.093612
  // → $7.343088
  const HALF = { run: 7.343088, stages: [6.486732, 0.762744, 0.093612], nano: 7_343_088_000 };

  it.each(MODES)('0.5 with %s reprices the sample run as hand-computed', async (_m, mode) => {
    const j = await cliJson(['runs', SAMPLE, '--json', '--input-share', '0.5', ...mode()]);
    expect(j.runs[0]!.costUsd).toBe(HALF.run);
    expect(j.runs[0]!.stages.map((s) => s.costUsd)).toEqual(HALF.stages);
    expect(j.totals.costNanoUsd).toBe(HALF.nano);
  });

  it('the terminal names the blend it used', async () => {
    const r = await cli(['runs', SAMPLE, '--no-ledger', '--input-share', '0.5']);
    const lines = block(
      r.stdout,
      'sample-research  wf_sample-001  status=completed  total=1,006,200 tok  ~$7.34  ',
    );
    expect(stageRows(lines).map((row) => row[3])).toEqual(['~$6.49', '~$0.76', '~$0.09']);
    expect(lines.at(-1)).toBe('  ($ = estimate: list prices, 50%-input blend; telemetry has no I/O split)');
  });

  it('0.5 on a ledger that already holds the run (ingested at the default 0.85) still reprices it', async () => {
    const first = await cliJson(['runs', SAMPLE, '--json', ...ledgerArgs()]);
    expect(first.totals.costNanoUsd).toBe(3_916_313_600); // the 85% blend
    const half = await cliJson(['runs', SAMPLE, '--json', '--input-share', '0.5', ...ledgerArgs()]);
    expect(half.runs[0]!.costUsd).toBe(HALF.run);
    expect(half.totals.costNanoUsd).toBe(HALF.nano);
    // …and back: the default blend again gives the 85% figures, not the stored 50% ones
    const back = await cliJson(['runs', SAMPLE, '--json', ...ledgerArgs()]);
    expect(back.totals.costNanoUsd).toBe(3_916_313_600);
    expect(back.runs[0]!.costUsd).toBe(3.9163136);
  });
});

describe('--strict exit codes', () => {
  const cases: [string, number, string[]][] = [
    ['all healthy', 0, [SAMPLE]],
    ['a degraded run', 3, [join(WF, 'wf_health-cheap-verify.json')]],
    ['a healthy and a degraded run', 3, [SAMPLE, join(WF, 'wf_health-broken-verify.json')]],
    ['an invariant failure', 4, [join(WF, 'wf_no-agents.json')]],
    ['degraded and invariant failure in one run: 4 wins', 4, [join(WF, 'wf_ledger-mismatch.json')]],
    [
      'degraded and invariant failure in different runs: 4 wins',
      4,
      [join(WF, 'wf_health-cheap-verify.json'), join(WF, 'wf_no-agents.json')],
    ],
  ];
  it.each(cases)('%s → exit %i', async (_name, code, files) => {
    expect((await cli(['runs', ...files, '--no-ledger', '--strict'])).code).toBe(code);
  });

  it('report honours --strict too, with a ledger as without', async () => {
    expect(
      (await cli(['report', join(WF, 'wf_health-cheap-verify.json'), '--strict', '--no-ledger'])).code,
    ).toBe(3);
    expect(
      (await cli(['report', join(WF, 'wf_ledger-mismatch.json'), '--strict', ...ledgerArgs()])).code,
    ).toBe(4);
  });

  it('without --strict a degraded or broken run exits 0', async () => {
    const files = [join(WF, 'wf_ledger-mismatch.json'), join(WF, 'wf_health-cheap-verify.json')];
    expect((await cli(['runs', ...files, '--no-ledger'])).code).toBe(0);
    expect((await cli(['report', ...files, '--no-ledger'])).code).toBe(0);
  });
});

describe('bad options', () => {
  const cases: [string, string[], RegExp][] = [
    ['--input-share 1.5', ['--input-share', '1.5'], /--input-share/],
    ['--input-share -0.1', ['--input-share', '-0.1'], /--input-share/],
    ['--input-share abc', ['--input-share', 'abc'], /--input-share/],
    ['--order bogus', ['--order', 'bogus'], /--order/],
    ['--cheap-min-agents 2.5', ['--cheap-min-agents', '2.5'], /--cheap-min-agents/],
    ['--cheap-ratio 2', ['--cheap-ratio', '2'], /--cheap-ratio/],
  ];
  it.each(cases)('%s exits 2 with a message', async (_name, args, message) => {
    for (const cmd of ['runs', 'report']) {
      const r = await cli([cmd, SAMPLE, '--no-ledger', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });
});

// ─── 4. Through the ledger ──────────────────────────────────────────────────────────────────────

describe('ingest through the ledger', () => {
  it('re-ingesting adds nothing; a changed run file replaces the run and its events (a snapshot)', async () => {
    const data = join(home, 'data');
    mkdirSync(data);
    const file = join(data, 'wf_sample.json');
    copyFileSync(SAMPLE, file);
    const args = ['report', data, '--json', ...ledgerArgs()];

    const first = await cliJson(args);
    expect(first.totals).toMatchObject({ events: 19, unsplitTokens: 1_006_200, costNanoUsd: 3_916_313_600 });
    const again = await cliJson(args);
    expect(again.totals).toEqual(first.totals);
    expect(again.runs).toEqual(first.runs);

    // a new snapshot: searcher-1 41318 → 1000, and only the first 2 of the 12 verifiers
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      totalTokens: number;
      workflowProgress: Record<string, unknown>[];
    };
    let verifiers = 0;
    doc.workflowProgress = doc.workflowProgress.filter(
      (item) => !(item.type === 'workflow_agent' && item.phaseTitle === 'Verify' && ++verifiers > 2),
    );
    doc.workflowProgress[3]!.tokens = 1000;
    // 31204 + (254248 − 41318 + 1000) + (61882 + 58341) = 31204 + 213930 + 120223
    doc.totalTokens = 365_357;
    writeFileSync(file, JSON.stringify(doc));
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);

    const changed = await cliJson(args);
    // 49,926,400 + 213930 × 1600 + 120223 × 4800 = 49,926,400 + 342,288,000 + 577,070,400
    expect(changed.totals).toMatchObject({ events: 9, unsplitTokens: 365_357, costNanoUsd: 969_284_800 });
    expect(changed.runs).toHaveLength(1);
    expect(changed.runs[0]).toMatchObject({ totalTokens: 365_357, agentTokens: 365_357, invariantOk: true });
    expect(changed.runs[0]!.stages.map((s) => [s.name, s.tokens, s.agents])).toEqual([
      ['Search', 213_930, 6],
      ['Verify', 120_223, 2],
      ['Scope', 31_204, 1],
    ]);
  });

  it.each(MODES)(
    'report --by agent with %s: workflow agents, their unsplit tokens in totalTokens',
    async (_m, mode) => {
      const j = await cliJson(['report', SAMPLE, '--json', '--by', 'agent', ...mode()]);
      // fan-out instances are one agent: verifier-1 … 12, searcher-1 … 6; by cost, descending
      expect(j.groups.map((g) => [g.key, g.events, g.unsplitTokens, g.totalTokens, g.costNanoUsd])).toEqual([
        ['verifier', 12, 720_748, 720_748, 3_459_590_400],
        ['searcher', 6, 254_248, 254_248, 406_796_800],
        ['scope-planner', 1, 31_204, 31_204, 49_926_400],
      ]);
      expect(j.totals).toMatchObject({
        events: 19,
        inputTokens: 0,
        outputTokens: 0,
        unsplitTokens: 1_006_200,
        totalTokens: 1_006_200,
        costNanoUsd: 3_916_313_600,
        estimatedEvents: 19,
      });
    },
  );
});
