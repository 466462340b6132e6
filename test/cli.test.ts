import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, runCli, runCliJson } from './helpers/cli.js';
import { CLI_MAIN, FIXTURES_DIR, GEN_CORPUS } from './helpers/paths.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';
import { assistantLine, jsonl } from './helpers/transcript.js';

// Every test runs the BUILT CLI (test/global-setup.ts builds it) as a child process, with
// TOKENLEDGER_HOME and HOME in a temp folder and its working folder there too.

interface TallyJson {
  events: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  totalTokens: number;
  costUsd: number;
  costNanoUsd: number;
  estimatedEvents: number;
  unpricedEvents: number;
  unpricedModels: string[];
}
interface ReportJson {
  by: string;
  totals: TallyJson;
  groups: (TallyJson & { key: string })[];
  problems: { file: string; line: number; reason: string }[];
  problemCount: number;
  notes: string[];
}
interface NodeJson {
  id: string;
  path: string;
  name: string;
  description?: string;
  own: TallyJson;
  subtree: TallyJson;
  children: NodeJson[];
}

/** The five real-format fixtures by name (the folder also holds fixtures other tests add). */
const FIXTURES = [
  '01-ccusage-project-alpha-chat.jsonl',
  '02-ccusage-streaming-dedup-synthetic.jsonl',
  '03-ccusage-agent-progress',
  '04-claude-code-log-sidechain-integrated.jsonl',
  '05-claude-code-log-subagents',
].map((f) => join(FIXTURES_DIR, f));
const F02 = join(FIXTURES_DIR, '02-ccusage-streaming-dedup-synthetic.jsonl');
const F04 = join(FIXTURES_DIR, '04-claude-code-log-sidechain-integrated.jsonl');
const F05 = join(FIXTURES_DIR, '05-claude-code-log-subagents');

// Totals of the five fixtures, from their lines (see test/fixtures/claude-code/README.md):
// calls: 01: 3; 02: 1 (line 1 not-semver, lines 2–3 one streamed call, line 4 <synthetic>);
//        03: 3 (msg_haiku echoed in progress + agent-a.jsonl = one); 04: 3 (msg_017zj… on 2 lines);
//        05: 5 main + 1 sub-agent → 16
// input:       01: 100+200+300; 02: 100; 03: 10+20+30; 04: 3+3+3; 05: 6×120 → 1489
// output:      01: 50+75+125;   02: 250 (largest snapshot); 03: 1+2+3; 04: 365+183+190; 05: 6×40 → 1484
// cache read:  01: 10+20+40; 02: 5; 04: 141272 → 141347
// cache write: 01: 25+50; 02: 10; 04: 141272+19830+2952 → 164139
// total tokens: 1489+1484+141347+164139 = 308459
// cost, µ$ (list $/MTok): sonnet-4-5 (3/15/0.30/3.75), 04: (9+529770+5475) + (9+74362.5+2745) +
//   (9+11070+42381.6+2850) = 668681.1; opus-4 fast at standard rates (15/75/1.50/18.75), 01 a2:
//   3000+5625+937.5+30 = 9592.5; opus-4-6 (5/25/0.50/6.25), 02: 500+6250+62.5+2.5 = 6815, 03:
//   fast 50+25 = 75, msg_opus 150+75 = 225; sonnet-4 (3/15/0.30/3.75), 01: a1 300+750+93.75+3 =
//   1146.75, a3 900+1875+12 = 2787; haiku-4-5 (1/5), 03: 20+10 = 30, 05: 6×(120+200) = 1920
//   → 691272.35 µ$ = $0.69127235
const TOTALS = {
  events: 16,
  inputTokens: 1489,
  outputTokens: 1484,
  cacheReadTokens: 141_347,
  cacheWriteTokens: 164_139,
  totalTokens: 308_459,
  costUsd: 0.69127235,
  costNanoUsd: 691_272_350,
  estimatedEvents: 2, // the two fast-mode calls (no fast price known)
  unpricedEvents: 0,
  unpricedModels: [],
};
const PROBLEM_02 = { line: 1, reason: 'invalid version "not-semver" (not a Claude Code record)' };

// [key, events, cost nano-$] per grouping, from the per-call costs above. Time keys ascend; the
// others sort by cost, descending.
const GROUPS: Record<string, [string, number, number][]> = {
  day: [
    ['2025-01-10', 1, 6_815_000], // 02
    ['2025-11-19', 3, 668_681_100], // 04
    ['2026-01-09', 2, 10_739_250], // 01 a1+a2: 1146.75+9592.5
    ['2026-01-10', 1, 2_787_000], // 01 a3
    ['2026-03-10', 3, 330_000], // 03: 75+30+225
    ['2026-06-15', 6, 1_920_000], // 05
  ],
  // Mondays: 2025-01-10 is a Friday, 2025-11-19 a Wednesday, 2026-01-09/10 Fri/Sat,
  // 2026-03-10 a Tuesday, 2026-06-15 a Monday
  week: [
    ['2025-01-06', 1, 6_815_000],
    ['2025-11-17', 3, 668_681_100],
    ['2026-01-05', 3, 13_526_250],
    ['2026-03-09', 3, 330_000],
    ['2026-06-15', 6, 1_920_000],
  ],
  month: [
    ['2025-01', 1, 6_815_000],
    ['2025-11', 3, 668_681_100],
    ['2026-01', 3, 13_526_250],
    ['2026-03', 3, 330_000],
    ['2026-06', 6, 1_920_000],
  ],
  session: [
    ['88a8d761-7b9a-4bf1-a8ca-c1febe6bf358', 3, 668_681_100],
    ['session-alpha', 3, 13_526_250],
    ['session-a', 4, 7_145_000], // 02 (6815) and 03 (330) share the id "session-a"
    ['55550000-0000-4000-8000-000000000001', 6, 1_920_000],
  ],
  // loose files (01, 02, 04) take the name of the folder they are in
  project: [
    ['claude-code', 7, 689_022_350], // 13526.25 + 6815 + 668681.1
    ['-workspace-example-app', 6, 1_920_000],
    ['project-a', 3, 330_000],
  ],
  model: [
    ['claude-sonnet-4-5-20250929', 3, 668_681_100],
    ['claude-opus-4-20250514 (fast)', 1, 9_592_500],
    ['claude-opus-4-6', 2, 7_040_000],
    ['claude-sonnet-4-20250514', 2, 3_933_750],
    ['claude-haiku-4-5-20251001', 7, 1_950_000],
    ['claude-opus-4-6 (fast)', 1, 75_000],
  ],
  // general-purpose: 04's e1c84ba5 (77116.5) + 05's showcol1 (320); subagent: 03's agent-a (30)
  agent: [
    ['main', 13, 613_805_850],
    ['general-purpose', 2, 77_436_500],
    ['subagent', 1, 30_000],
  ],
};

let home: string;
beforeEach(() => {
  home = tempDir('tokenledger-cli-');
});
afterEach(() => {
  removeTempDirs();
});

const cli = (args: string[], env?: Record<string, string | undefined>) => runCli(args, { home, env });
const cliJson = <T>(args: string[], env?: Record<string, string | undefined>) =>
  runCliJson<T>(args, { home, env });

/** A problem's file as the CLI prints it (absolute, or relative to its working folder) → absolute. */
const absolute = (file: string) => resolve(home, file);

const MODES: [string, () => string[]][] = [
  ['--no-ledger', () => ['--no-ledger']],
  ['a ledger', () => ['--ledger', join(home, 'ledger.db')]],
];

describe.each(MODES)('report --json with %s', (_name, mode) => {
  it('has the documented shape and the hand-computed totals and problems', async () => {
    const r = await cliJson<ReportJson>(['report', ...FIXTURES, '--json', ...mode()]);
    expect(r.by).toBe('day');
    expect(r.totals).toMatchObject(TOTALS);
    for (const g of r.groups) {
      expect(Object.keys(g)).toEqual(expect.arrayContaining(['key', ...Object.keys(TOTALS)]));
    }
    expect(r.problemCount).toBe(1);
    expect(r.problems.map((p) => ({ ...p, file: absolute(p.file) }))).toEqual([{ file: F02, ...PROBLEM_02 }]);
    // groups add up to the totals
    expect(r.groups.reduce((n, g) => n + g.events, 0)).toBe(16);
    expect(r.groups.reduce((n, g) => n + g.costNanoUsd, 0)).toBe(691_272_350);
  });

  for (const by of Object.keys(GROUPS)) {
    it(`--by ${by}`, async () => {
      const r = await cliJson<ReportJson>(['report', ...FIXTURES, '--json', '--by', by, ...mode()]);
      expect(r.by).toBe(by);
      expect(r.groups.map((g) => [g.key, g.events, g.costNanoUsd])).toEqual(GROUPS[by]);
      expect(r.totals).toMatchObject(TOTALS);
    });
  }

  it('--since/--until keep the days in range, both ends inclusive', async () => {
    const q1 = await cliJson<ReportJson>([
      'report',
      ...FIXTURES,
      '--json',
      '--since',
      '2026-01-01',
      '--until',
      '2026-03-31',
      ...mode(),
    ]);
    // 01 (3 calls, 2026-01-09/10) + 03 (3 calls, 2026-03-10): input 600+60, cost 13526.25+330 µ$
    expect(q1.totals).toMatchObject({ events: 6, inputTokens: 660, costNanoUsd: 13_856_250 });
    const oneDay = await cliJson<ReportJson>([
      'report',
      ...FIXTURES,
      '--json',
      '--since',
      '20260110', // the compact form is accepted too
      '--until',
      '2026-01-10',
      ...mode(),
    ]);
    // 01's third call only: 300 input, 125 output, 40 cache read → 2787 µ$
    expect(oneDay.totals).toMatchObject({
      events: 1,
      inputTokens: 300,
      outputTokens: 125,
      costNanoUsd: 2_787_000,
    });
    expect(oneDay.groups.map((g) => g.key)).toEqual(['2026-01-10']);
  });

  it('--project keeps one project', async () => {
    const r = await cliJson<ReportJson>([
      'report',
      ...FIXTURES,
      '--json',
      '--project',
      'project-a',
      ...mode(),
    ]);
    expect(r.totals).toMatchObject({ events: 3, inputTokens: 60, outputTokens: 6, costNanoUsd: 330_000 });
  });

  it('--csv and --markdown show the same totals as --json', async () => {
    const csv = await cli(['report', ...FIXTURES, '--csv', '--by', 'model', ...mode()]);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.trim().split('\n');
    const head = rows[0]!.split(',');
    const total = rows.find((r) => r.startsWith('TOTAL,'))!.split(',');
    const col = (name: string) => total[head.indexOf(name)];
    expect(head[0]).toBe('model');
    expect(rows.length).toBe(1 + 6 + 1); // header, 6 models, TOTAL
    expect(col('events')).toBe('16');
    expect(col('input_tokens')).toBe('1489');
    expect(col('output_tokens')).toBe('1484');
    expect(col('cache_read_tokens')).toBe('141347');
    expect(Number(col('cache_write_5m_tokens')) + Number(col('cache_write_1h_tokens'))).toBe(164_139);
    expect(col('total_tokens')).toBe('308459');
    expect(col('cost_usd')).toBe('0.69127235');
    expect(col('unpriced_events')).toBe('0');

    const md = await cli(['report', ...FIXTURES, '--markdown', '--by', 'model', ...mode()]);
    expect(md.code).toBe(0);
    const foot = md.stdout.split('\n').find((l) => l.startsWith('| **Total**'));
    const cells = foot!
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim().replace(/\*\*/g, ''));
    // Total, calls, input, output, cache read, cache write, total tokens, cost (~: it holds estimates)
    expect(cells).toEqual(['Total', '16', '1,489', '1,484', '141,347', '164,139', '308,459', '~$0.69']);
  });

  it('fails with exit code 2 and a clear message for a path that does not exist', async () => {
    const missing = join(home, 'no-such-folder');
    const r = await cli(['report', missing, '--json', ...mode()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no such file or folder: ${missing}`);
    expect(r.stdout).toBe('');
  });

  it('fails with exit code 2 for a bad --by', async () => {
    const r = await cli(['report', ...FIXTURES, '--by', 'year', ...mode()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      '--by takes one of day, week, month, session, project, model, agent; got "year"',
    );
    expect(r.stdout).toBe('');
  });

  it('shows a model without a price as unpriced, not as $0', async () => {
    const dir = join(home, 'logs', 'projects', 'p');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 's.jsonl'),
      jsonl([
        assistantLine({
          id: 'm1',
          requestId: 'r1',
          ts: '2026-02-03T10:00:00.000Z',
          input: 1000,
          output: 100,
        }),
        assistantLine({
          id: 'm2',
          requestId: 'r2',
          ts: '2026-02-03T11:00:00.000Z',
          model: 'acme-llm-9',
          input: 500,
          output: 50,
        }),
      ]),
    );
    const r = await cliJson<ReportJson>(['report', join(home, 'logs'), '--json', '--by', 'model', ...mode()]);
    // only the sonnet-4-5 call is in $: 1000×3 + 100×15 = 4500 µ$
    expect(r.totals).toMatchObject({
      events: 2,
      inputTokens: 1500,
      outputTokens: 150,
      costNanoUsd: 4_500_000,
      unpricedEvents: 1,
      unpricedModels: ['acme-llm-9'],
    });
    const acme = r.groups.find((g) => g.key === 'acme-llm-9');
    expect(acme).toMatchObject({
      events: 1,
      costNanoUsd: 0,
      unpricedEvents: 1,
      unpricedModels: ['acme-llm-9'],
    });
    expect(r.notes.some((n) => n.startsWith('UNPRICED: 1 event(s) of acme-llm-9'))).toBe(true);
    const table = await cli(['report', join(home, 'logs'), '--by', 'model', ...mode()]);
    expect(table.stdout).toMatch(/acme-llm-9 .* \$0\.00 \+1 unpriced/);
    expect(table.stdout).toMatch(/Total .* \$0\.0045 \+1 unpriced/); // sub-cent: two significant figures, not $0.00
  });

  it('writes no colour codes when stdout is not a terminal', async () => {
    const report = await cli(['report', ...FIXTURES, '--by', 'model', ...mode()]);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain('tokenledger · spend by model');
    expect(report.stdout).toContain('claude-sonnet-4-5-20250929');
    expect(report.stdout).not.toContain('\x1b');
    const session = await cli(['session', '55550000', F05, ...mode()]);
    expect(session.code).toBe(0);
    expect(session.stdout).toContain('general-purpose showcol1');
    expect(session.stdout).not.toContain('\x1b');
  });
});

describe('report with a ledger', () => {
  it("serves the same figures again without re-reading, and a path's report is only that path", async () => {
    const ledger = join(home, 'ledger.db');
    const first = await cliJson<ReportJson>(['report', ...FIXTURES, '--json', '--ledger', ledger]);
    const second = await cliJson<ReportJson>(['report', ...FIXTURES, '--json', '--ledger', ledger]);
    expect(second).toEqual(first);
    const only05 = await cliJson<ReportJson>(['report', F05, '--json', '--ledger', ledger]);
    expect(only05.totals).toMatchObject({
      events: 6,
      inputTokens: 720,
      outputTokens: 240,
      costNanoUsd: 1_920_000,
    });
    expect(only05.problemCount).toBe(0);
  });

  it('counts only the files under the given folder, not a sibling whose name starts the same', async () => {
    const logs = join(home, 'logs');
    const old = join(home, 'logs-old');
    const line = (id: string, input: number) =>
      assistantLine({ id, requestId: `r-${id}`, ts: '2026-02-03T10:00:00.000Z', input, output: 10 });
    mkdirSync(join(logs, 'projects', 'a'), { recursive: true });
    mkdirSync(join(old, 'projects', 'b'), { recursive: true });
    writeFileSync(join(logs, 'projects', 'a', 's.jsonl'), jsonl([line('new-1', 100)]));
    writeFileSync(join(old, 'projects', 'b', 's.jsonl'), jsonl(['not json', line('old-1', 900)]));
    const ledger = join(home, 'ledger.db');
    expect((await cli(['ingest', old, '--ledger', ledger])).code).toBe(0);
    const r = await cliJson<ReportJson>(['report', logs, '--json', '--ledger', ledger]);
    // logs/ holds one call of 100 input tokens and no problem
    expect(r.totals).toMatchObject({ events: 1, inputTokens: 100 });
    expect(r.problemCount).toBe(0);
  });

  it('computes day, week and month in the local time zone, the same as a direct scan', async () => {
    const dir = join(home, 'tz', 'projects', 'p');
    mkdirSync(dir, { recursive: true });
    // Asia/Tokyo is UTC+9 all year:
    //   2025-12-31T14:59:59Z → Wed 2025-12-31 23:59:59; 2025-12-31T15:00:00Z → Thu 2026-01-01 00:00
    //   2026-01-31T20:00:00Z → Sun 2026-02-01 05:00;    2026-03-01T23:30:00Z → Mon 2026-03-02 08:30
    const times = [
      '2025-12-31T14:59:59.000Z',
      '2025-12-31T15:00:00.000Z',
      '2026-01-31T20:00:00.000Z',
      '2026-03-01T23:30:00.000Z',
    ];
    writeFileSync(
      join(dir, 's.jsonl'),
      jsonl(
        times.map((ts, i) => assistantLine({ id: `m${i}`, requestId: `r${i}`, ts, input: 10, output: 1 })),
      ),
    );
    const env = { TZ: 'Asia/Tokyo' };
    const expected: Record<string, [string, number][]> = {
      day: [
        ['2025-12-31', 1],
        ['2026-01-01', 1],
        ['2026-02-01', 1],
        ['2026-03-02', 1],
      ],
      week: [
        ['2025-12-29', 2],
        ['2026-01-26', 1],
        ['2026-03-02', 1],
      ],
      month: [
        ['2025-12', 1],
        ['2026-01', 1],
        ['2026-02', 1],
        ['2026-03', 1],
      ],
    };
    for (const [, mode] of MODES) {
      for (const by of ['day', 'week', 'month']) {
        const r = await cliJson<ReportJson>(
          ['report', join(home, 'tz'), '--json', '--by', by, ...mode()],
          env,
        );
        expect(r.groups.map((g) => [g.key, g.events])).toEqual(expected[by]);
      }
      const since = await cliJson<ReportJson>(
        ['report', join(home, 'tz'), '--json', '--since', '2026-01-01', ...mode()],
        env,
      );
      expect(since.totals.events).toBe(3); // all but the call at 23:59:59 on 2025-12-31
    }
  });
});

describe('report with a ledger, in another time zone', () => {
  it('groups by the days of the zone it runs in, also when the same report was made in another zone', async () => {
    const f01 = join(FIXTURES_DIR, '01-ccusage-project-alpha-chat.jsonl');
    const ledger = join(home, 'ledger.db');
    const days = async (tz: string, ...extra: string[]) =>
      (await cliJson<ReportJson>(['report', f01, '--json', '--by', 'day', ...extra], { TZ: tz })).groups.map(
        (g) => [g.key, g.events],
      );
    // 01's calls: 2026-01-09T10:00Z, 2026-01-09T12:30Z, 2026-01-10T09:15Z. Pacific/Kiritimati is
    // UTC+14: 2026-01-10 00:00, 02:30 and 23:15 local, all on the 10th.
    expect(await days('UTC', '--ledger', ledger)).toEqual([
      ['2026-01-09', 2],
      ['2026-01-10', 1],
    ]);
    expect(await days('Pacific/Kiritimati', '--no-ledger')).toEqual([['2026-01-10', 3]]);
    expect(await days('Pacific/Kiritimati', '--ledger', ledger)).toEqual([['2026-01-10', 3]]);
  });
});

describe('ingest', () => {
  it('is idempotent: the second run reads no bytes and adds nothing', async () => {
    const ledger = join(home, 'ledger.db');
    const first = await cliJson<Record<string, unknown>>([
      'ingest',
      ...FIXTURES,
      '--ledger',
      ledger,
      '--json',
    ]);
    expect(first).toMatchObject({ inserted: 16, updated: 0, files: 7, filesRead: 7, problemCount: 1 });
    const second = await cliJson<Record<string, unknown>>([
      'ingest',
      ...FIXTURES,
      '--ledger',
      ledger,
      '--json',
    ]);
    expect(second).toMatchObject({
      inserted: 0,
      updated: 0,
      unchanged: 0,
      files: 7,
      filesRead: 0,
      bytesRead: 0,
      problemCount: 0,
    });
  });

  it('uses $TOKENLEDGER_HOME/ledger.db by default', async () => {
    expect((await cli(['ingest', F05])).code).toBe(0);
    expect(existsSync(join(home, 'ledger.db'))).toBe(true);
  });

  it('fails with exit code 2 for a path that does not exist', async () => {
    const r = await cli(['ingest', join(home, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no such file or folder');
  });
});

describe('default roots', () => {
  it('reads $CLAUDE_CONFIG_DIR (comma-separated) when no path is given', async () => {
    const one = await cliJson<ReportJson>(['report', '--json', '--no-ledger'], { CLAUDE_CONFIG_DIR: F05 });
    expect(one.totals).toMatchObject({ events: 6, inputTokens: 720 });
    const both = join(FIXTURES_DIR, '03-ccusage-agent-progress');
    const two = await cliJson<ReportJson>(['report', '--json'], { CLAUDE_CONFIG_DIR: `${both},${F05}` });
    expect(two.totals).toMatchObject({ events: 9, inputTokens: 780 }); // 03: 60 + 05: 720
  });

  it('fails with exit code 2 when there is nothing to read without a ledger', async () => {
    const r = await cli(['report', '--json', '--no-ledger'], { CLAUDE_CONFIG_DIR: join(home, 'absent') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no Claude Code logs found');
  });

  it('with no logs but a ledger, reports the ledger (what the live meter recorded) and says so', async () => {
    const r = await cli(['report', '--json', '--ledger', join(home, 'meter-only.db')], {
      CLAUDE_CONFIG_DIR: join(home, 'absent'),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).totals.events).toBe(0);
    expect(r.stderr).toContain('no Claude Code logs found; reporting what the ledger holds');
  });
});

describe('session', () => {
  it('prints fixture 05’s tree: main and its general-purpose sub-agent showcol1, own vs subtree', async () => {
    for (const [, mode] of MODES) {
      const r = await cliJson<{ session: string; project: string; tree: NodeJson }>([
        'session',
        '55550000', // a unique prefix
        F05,
        '--json',
        ...mode(),
      ]);
      expect(r.session).toBe('55550000-0000-4000-8000-000000000001');
      expect(r.project).toBe('-workspace-example-app');
      const root = r.tree;
      expect(root).toMatchObject({ id: 'main', path: 'main', name: 'main' });
      // main's own: sc-a1..a5, 5 × (120 in + 40 out), haiku 1/5 $/MTok → 5 × 320 µ$
      expect(root.own).toMatchObject({
        events: 5,
        inputTokens: 600,
        outputTokens: 200,
        costNanoUsd: 1_600_000,
      });
      // subtree = own + showcol1's one call (120 + 40, 320 µ$)
      expect(root.subtree).toMatchObject({
        events: 6,
        inputTokens: 720,
        outputTokens: 240,
        costNanoUsd: 1_920_000,
      });
      expect(root.children.length).toBe(1);
      const sub = root.children[0]!;
      expect(sub).toMatchObject({
        id: 'showcol1',
        path: 'main/showcol1',
        name: 'general-purpose',
        description: 'Survey the web module',
        children: [],
      });
      expect(sub.own).toMatchObject({ events: 1, inputTokens: 120, outputTokens: 40, costNanoUsd: 320_000 });
      expect(sub.subtree).toEqual(sub.own);
    }
  });

  it('prints fixture 04’s tree: the inline general-purpose sub-agent e1c84ba5', async () => {
    for (const [, mode] of MODES) {
      const r = await cliJson<{ session: string; tree: NodeJson }>([
        'session',
        '88a8d761-7b9a-4bf1-a8ca-c1febe6bf358',
        F04,
        '--json',
        ...mode(),
      ]);
      const root = r.tree;
      // main: msg_01H4… (3 in, 141272 write, 365 out: 535254 µ$) + msg_011b… (3 in, 2952 write,
      // 141272 read, 190 out: 56310.6 µ$)
      expect(root.own).toMatchObject({
        events: 2,
        inputTokens: 6,
        outputTokens: 555,
        cacheReadTokens: 141_272,
        cacheWriteTokens: 144_224,
        costNanoUsd: 591_564_600,
      });
      expect(root.subtree).toMatchObject({
        events: 3,
        inputTokens: 9,
        outputTokens: 738,
        costNanoUsd: 668_681_100,
      });
      expect(root.children.map((c) => [c.id, c.path, c.name])).toEqual([
        ['e1c84ba5', 'main/e1c84ba5', 'general-purpose'],
      ]);
      // msg_017zj… once (two lines, same usage): 3 in, 19830 write, 183 out → 9+74362.5+2745 µ$
      expect(root.children[0]!.own).toMatchObject({
        events: 1,
        inputTokens: 3,
        outputTokens: 183,
        cacheWriteTokens: 19_830,
        costNanoUsd: 77_116_500,
      });
      expect(root.children[0]!.description).toBe('Research data-border-color usage and CSS class mat...');
    }
  });

  it('fails with exit code 2 for an unknown session', async () => {
    const r = await cli(['session', 'zzzz', F05, '--no-ledger']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no session starts with "zzzz"');
  });
});

describe('prices', () => {
  it('prices a long-context sonnet-4-5 call at the >200k tier: $0.4725', async () => {
    const r = await cliJson<{ priced: boolean; costUsd: number; costNanoUsd: number }>([
      'prices',
      'claude-sonnet-4-5',
      '--input',
      '50000',
      '--cache-read',
      '250000',
      '--output',
      '1000',
      '--json',
    ]);
    // 300,000 input tokens in all > 200,000: tier rates $6 in, $0.60 read, $22.50 out per MTok
    // 50000×6 + 250000×0.6 + 1000×22.5 = 300000 + 150000 + 22500 = 472500 µ$
    expect(r.priced).toBe(true);
    expect(r.costUsd).toBe(0.4725);
    expect(r.costNanoUsd).toBe(472_500_000);
  });

  it('says UNPRICED and exits 1 for a model it does not know', async () => {
    const r = await cli(['prices', 'no-such-model']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no-such-model: UNPRICED');
    expect(r.stdout).not.toContain('\x1b');
    const j = await cli(['prices', 'no-such-model', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ model: 'no-such-model', priced: false });
  });

  it('--prices FILE overrides the cost, and a ledger re-prices when the file changes', async () => {
    const prices = join(home, 'prices.override.json');
    const ledger = join(home, 'ledger.db');
    const write = (input: number, output: number) =>
      writeFileSync(
        prices,
        JSON.stringify({
          models: { 'claude-haiku-4-5-20251001': { input_mtok: input, output_mtok: output } },
        }),
      );
    const cost = async (...extra: string[]) =>
      (await cliJson<ReportJson>(['report', F05, '--json', ...extra])).totals.costNanoUsd;
    // fixture 05: 720 input + 240 output tokens of haiku-4-5
    expect(await cost('--no-ledger')).toBe(1_920_000); // list: 720×1 + 240×5 µ$
    write(2, 10);
    expect(await cost('--no-ledger', '--prices', prices)).toBe(3_840_000); // 720×2 + 240×10
    expect(await cost('--ledger', ledger, '--prices', prices)).toBe(3_840_000);
    write(4, 20);
    const ingest = await cliJson<{ repriced: number }>([
      'ingest',
      F05,
      '--ledger',
      ledger,
      '--prices',
      prices,
      '--json',
    ]);
    expect(ingest.repriced).toBe(6);
    expect(await cost('--ledger', ledger, '--prices', prices)).toBe(7_680_000); // 720×4 + 240×20
    expect(await cost('--ledger', ledger)).toBe(1_920_000); // back to list prices
  });

  it('loads no schema library when there is no override file, and still validates one that is there', async () => {
    // Names every module the CLI loads: ES modules through a loader hook, CommonJS ones (which the
    // hook does not see on Node 20) from require's cache at exit. The validation library is only
    // needed for an override file, and loading it up front cost every command ~10 ms of start-up.
    const hook = join(home, 'loaded-modules.mjs');
    const logLoads = `export async function load(url, context, next) {
      if (url.startsWith('file:')) process._rawDebug('module-loaded: ' + url);
      return next(url, context);
    }`;
    writeFileSync(
      hook,
      [
        "import { createRequire, register } from 'node:module';",
        `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(logLoads)}));`,
        'const { cache } = createRequire(import.meta.url);',
        "process.on('exit', () => { for (const f of Object.keys(cache)) process._rawDebug('module-loaded: ' + f); });",
        '',
      ].join('\n'),
    );
    const env = { NODE_OPTIONS: `--import=${pathToFileURL(hook).href}` };
    const r = await runCli(['prices', 'claude-sonnet-4-5'], { home, env });
    expect(r.code).toBe(0);
    const loaded = r.stderr.split('\n').filter((l) => l.startsWith('module-loaded: '));
    expect(loaded.some((l) => l.endsWith('/dist/cli/main.js'))).toBe(true); // the hook saw the CLI load
    expect(loaded.filter((l) => l.includes('valibot'))).toEqual([]);
    // The default override file is found and checked as before.
    writeFileSync(join(home, 'prices.json'), '{"models": {"x": {"input_mtok": -1, "output_mtok": 1}}}');
    const bad = await runCli(['prices', 'x'], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('models.x.input_mtok');
    rmSync(join(home, 'prices.json'));
  });

  it('rejects a broken override file with exit code 2', async () => {
    const prices = join(home, 'bad.json');
    writeFileSync(prices, '{"models": {"x": {"input_mtok": "cheap"}}}');
    const r = await cli(['report', F05, '--no-ledger', '--prices', prices]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('models.x.input_mtok');
  });
});

describe('crash safety', () => {
  interface Expected {
    assistantMessages: number;
    input: number;
    output: number;
    cacheCreate: number;
    cacheRead: number;
  }

  function generate(dir: string): Promise<Expected> {
    return new Promise((res, rej) => {
      execFile(process.execPath, [GEN_CORPUS, dir, '40', '3'], { maxBuffer: 1 << 20 }, (err, stdout) =>
        err ? rej(err) : res(JSON.parse(stdout) as Expected),
      );
    });
  }

  /**
   * Starts `ingest CORPUS --ledger DB` and SIGKILLs it `delayMs` after `ready()` first holds (polled
   * every millisecond). Resolves with how the child ended.
   */
  function ingestAndKill(
    corpus: string,
    db: string,
    ready: () => boolean,
    delayMs: number,
  ): Promise<CliResult> {
    return new Promise((res, rej) => {
      const child = spawn(process.execPath, [CLI_MAIN, 'ingest', corpus, '--ledger', db], {
        cwd: home,
        env: { ...process.env, TOKENLEDGER_HOME: home, HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const poll = setInterval(() => {
        if (!ready()) return;
        clearInterval(poll);
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }, 1);
      child.once('error', rej);
      child.once('close', (code, signal) => {
        clearInterval(poll);
        res({ code, signal, stdout, stderr });
      });
    });
  }

  function integrity(db: string): unknown {
    const raw = new Database(db);
    try {
      return raw.pragma('integrity_check', { simple: true });
    } finally {
      raw.close();
    }
  }

  it('a killed ingest resumes to the same totals as the generator’s and a clean ingest', async () => {
    const corpus = join(home, 'corpus');
    const expected = await generate(corpus);
    const db = join(home, 'crash.db');

    // 1. Kill it part-way: some time after its ledger file appears. When it was faster than that,
    //    start over with a shorter delay.
    let killed: CliResult | undefined;
    for (const delay of [200, 100, 50, 20, 5, 0]) {
      const r = await ingestAndKill(corpus, db, () => existsSync(db), delay);
      if (r.signal === 'SIGKILL') {
        killed = r;
        break;
      }
      expect(r.code).toBe(0); // it finished before the kill
      for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
    }
    expect(killed?.signal).toBe('SIGKILL');
    expect(killed?.stdout).toBe(''); // it never got to print its summary
    expect(integrity(db)).toBe('ok');

    // 2. Kill the next run while it writes its transaction (the WAL grows by megabytes then); when
    //    it wins the race it simply finished, which is fine too.
    const wal = `${db}-wal`;
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const start = walSize();
    const second = await ingestAndKill(corpus, db, () => walSize() > start + 256 * 1024, 0);
    expect(second.signal === 'SIGKILL' || second.code === 0).toBe(true);
    expect(integrity(db)).toBe('ok');

    // 3. Run to completion.
    const resumed = await cli(['ingest', corpus, '--ledger', db]);
    expect(resumed.code).toBe(0);
    const after = await cliJson<ReportJson>(['report', corpus, '--ledger', db, '--json', '--by', 'model']);
    expect(after.totals).toMatchObject({
      events: expected.assistantMessages,
      inputTokens: expected.input,
      outputTokens: expected.output,
      cacheReadTokens: expected.cacheRead,
      cacheWriteTokens: expected.cacheCreate,
      unpricedEvents: 0,
    });
    expect(after.problemCount).toBe(0);

    const clean = await cliJson<ReportJson>([
      'report',
      corpus,
      '--ledger',
      join(home, 'clean.db'),
      '--json',
      '--by',
      'model',
    ]);
    expect(after.totals).toEqual(clean.totals);
    expect(after.groups).toEqual(clean.groups);
  }, 180_000);
});
