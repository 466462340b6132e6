import { copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import type { UsageEvent } from '../core/event.js';
import type { RunSummary } from '../core/run.js';
import { createPriceBook } from '../prices/price-book.js';
import type { LedgerStore } from '../store/ledger.js';
import { openSqliteLedger } from '../store/sqlite.js';
import { fullerRun, ingestWorkflows, scanWorkflowsDirect } from './workflow.js';

const WF = fileURLToPath(new URL('../../test/fixtures/workflow/', import.meta.url));
const EXTRA = join(WF, 'extra');
const SAMPLE = join(WF, 'sample-run.json');
const DUP_A = join(EXTRA, 'dup', 'wf_dup-a.json');
const DUP_B = join(EXTRA, 'dup', 'wf_dup-b.json');
const book = createPriceBook();

const ledgers: LedgerStore[] = [];
function ledgerIn(dir: string): LedgerStore {
  const l = openSqliteLedger(join(dir, 'ledger.db'));
  ledgers.push(l);
  return l;
}
afterEach(() => {
  for (const l of ledgers.splice(0)) l.close();
  removeTempDirs();
});

/** Copies fixtures into a fresh temp folder (the ledger tests change files). */
function copies(...files: string[]): { dir: string; files: string[] } {
  const dir = tempDir('tokenledger-wf-ingest-');
  return { dir, files: files.map((f) => copyTo(f, dir)) };
}
function copyTo(file: string, dir: string): string {
  const to = join(dir, file.split(/[\\/]/).pop()!);
  copyFileSync(file, to);
  return to;
}

const sum = (events: UsageEvent[], f: (e: UsageEvent) => number) => events.reduce((n, e) => n + f(e), 0);
const unsplit = (events: UsageEvent[]) => sum(events, (e) => e.usage.unsplitTokens);
const cost = (events: UsageEvent[]) => sum(events, (e) => e.cost.nanoUsd ?? 0);

// The seed's sample run at the 85%-input blend, per token: claude-haiku-4-5 0.85×$1 + 0.15×$5 =
// $1.60/MTok = 1600 nano, claude-sonnet-4-6 0.85×$3 + 0.15×$15 = $4.80/MTok = 4800 nano.
// Verify 720748 × 4800 = 3,459,590,400; Search 254248 × 1600 = 406,796,800; Scope 31204 × 1600 =
// 49,926,400 → 3,916,313,600 nano ($3.92, the seed's figure).
const SAMPLE_NANO = 3_916_313_600;

describe('scanWorkflowsDirect', () => {
  it('the sample run: one run, 19 priced, estimated events, the seed’s dollars to the nano', () => {
    const scan = scanWorkflowsDirect([SAMPLE], book);
    expect(scan.problems).toEqual([]);
    expect(scan.runs.map((r) => r.id)).toEqual(['wf_sample-001']);
    expect(scan.events).toHaveLength(19);
    expect(unsplit(scan.events)).toBe(1_006_200);
    expect(scan.events.every((e) => e.cost.estimated && e.cost.nanoUsd !== null)).toBe(true);
    expect(cost(scan.events)).toBe(SAMPLE_NANO);
    const stage = (s: string) => cost(scan.events.filter((e) => e.attribution.stage === s));
    expect([stage('Verify'), stage('Search'), stage('Scope')]).toEqual([
      3_459_590_400, 406_796_800, 49_926_400,
    ]);
    expect(scan.events[0]!.cost.note).toContain('85% input blend');
  });

  it('an input share of 0.5 reprices the blend: 7,343,088,000 nano', () => {
    // haiku 0.5×1 + 0.5×5 = $3/MTok, sonnet 0.5×3 + 0.5×15 = $9/MTok:
    // 720748 × 9000 + 254248 × 3000 + 31204 × 3000 = 6,486,732,000 + 762,744,000 + 93,612,000
    expect(cost(scanWorkflowsDirect([SAMPLE], book, 0.5).events)).toBe(7_343_088_000);
  });

  it('broken and foreign files are problems with their file name; the good run goes on', () => {
    const dir = join(EXTRA, 'broken');
    const files = ['wf_ok.json', 'wf_truncated.json', 'wf_not-workflow.json', 'wf_array.json'].map((f) =>
      join(dir, f),
    );
    const scan = scanWorkflowsDirect(files, book);
    expect(scan.runs.map((r) => r.id)).toEqual(['wf_ok']);
    expect(scan.events).toHaveLength(2);
    expect(unsplit(scan.events)).toBe(1000); // 300 + 700
    expect(scan.problems.map((p) => p.file)).toEqual(files.slice(1));
    expect(scan.problems[0]!.reason).toMatch(/^not valid JSON \(corrupt or truncated\)/);
    expect(scan.problems[1]!.reason).toBe('not workflow telemetry: no workflowProgress list');
    expect(scan.problems[2]!.reason).toBe('not workflow telemetry: the document is not a JSON object');
  });

  it('an unknown model: the agent is unpriced but its tokens are in', () => {
    const scan = scanWorkflowsDirect([join(EXTRA, 'model', 'wf_unknown-model.json')], book);
    const [haiku, mystery] = scan.events;
    expect(haiku!.cost.nanoUsd).toBe(1_600_000); // 1000 × 1600 nano
    expect(mystery!.model).toBe('acme-mystery-9');
    expect(mystery!.cost.nanoUsd).toBeNull();
    expect(mystery!.usage.unsplitTokens).toBe(2000);
    expect(unsplit(scan.events)).toBe(3000);
  });

  it('a runId in two files counts once, from the fuller file, whichever is read first', () => {
    // a: 1000 + 2000 = 3000 (2 agents); b: 1000 + 2000 + 1500 = 4500 (3 agents) → b
    const ab = scanWorkflowsDirect([DUP_A, DUP_B], book);
    expect(ab.runs).toHaveLength(1);
    expect(ab.runs[0]!.file).toBe(DUP_B);
    expect(ab.events).toHaveLength(3);
    expect(unsplit(ab.events)).toBe(4500);
    expect(cost(ab.events)).toBe(7_200_000); // 4500 × 1600 nano (haiku)
    expect(ab.problems).toEqual([
      { file: DUP_B, line: 0, reason: `runId wf_dup is also in ${DUP_A}; counted once, from this file` },
    ]);
    const ba = scanWorkflowsDirect([DUP_B, DUP_A], book);
    expect(ba.runs.map((r) => r.file)).toEqual([DUP_B]);
    expect(unsplit(ba.events)).toBe(4500);
    expect(ba.problems).toEqual([
      { file: DUP_A, line: 0, reason: `runId wf_dup is also in ${DUP_B}; counted once, from that file` },
    ]);
  });

  it('a run under projects/<project>/<session>/ is placed there; its events say so', () => {
    const root = tempDir('tokenledger-wf-ingest-');
    const deep = join(root, 'projects', 'my-proj', 'sess-1', 'workflows');
    mkdirSync(deep, { recursive: true });
    const shallow = join(root, 'projects', 'other-proj');
    mkdirSync(shallow, { recursive: true });
    const a = copyTo(join(EXTRA, 'broken', 'wf_ok.json'), deep);
    const b = join(shallow, 'wf_b.json');
    writeFileSync(
      b,
      JSON.stringify({
        runId: 'wf_b',
        totalTokens: 1,
        workflowProgress: [{ type: 'workflow_agent', tokens: 1 }],
      }),
    );
    const scan = scanWorkflowsDirect([a, b], book);
    const byId = new Map(scan.runs.map((r) => [r.id, r]));
    expect(byId.get('wf_ok')).toMatchObject({ project: 'my-proj', session: 'sess-1' });
    expect(byId.get('wf_b')!.project).toBe('other-proj');
    expect(byId.get('wf_b')!.session).toBeUndefined(); // the file itself is not a session
    const ok = scan.events.filter((e) => e.attribution.run === 'wf_ok');
    expect(ok.map((e) => [e.attribution.project, e.attribution.session])).toEqual([
      ['my-proj', 'sess-1'],
      ['my-proj', 'sess-1'],
    ]);
  });
});

describe('fullerRun', () => {
  const run = (file: string, tokens: number[]): RunSummary => ({
    id: 'r',
    source: 'workflow',
    file,
    ts: 0,
    phases: [],
    agents: tokens.map((t, index) => ({ index, stage: 'S', tokens: t })),
  });
  it('more agent tokens wins, then more agents, then the later file name', () => {
    expect(fullerRun(run('a', [10]), run('b', [4, 5])).file).toBe('a'); // 10 > 9
    expect(fullerRun(run('a', [4, 5]), run('b', [10])).file).toBe('b');
    expect(fullerRun(run('a', [10]), run('b', [5, 5])).file).toBe('b'); // 10 = 10, 2 agents > 1
    expect(fullerRun(run('b', [5, 5]), run('a', [10])).file).toBe('b');
    expect(fullerRun(run('a', [10]), run('b', [10])).file).toBe('b'); // tie: 'b' ≥ 'a'
    expect(fullerRun(run('b', [10]), run('a', [10])).file).toBe('b');
  });
});

describe('ingestWorkflows into a SQLite ledger', () => {
  it('ingests a run once: re-ingesting the unchanged file reads nothing and adds nothing', () => {
    const { dir, files } = copies(SAMPLE);
    const ledger = ledgerIn(dir);
    expect(ingestWorkflows(files, ledger, book)).toEqual({ filesRead: 1, runs: 1, events: 19, problems: [] });
    const events = ledger.events({ source: 'workflow' });
    expect(events).toHaveLength(19);
    expect(unsplit(events)).toBe(1_006_200);
    expect(cost(events)).toBe(SAMPLE_NANO);
    expect(ledger.getRun('wf_sample-001')!.agents).toHaveLength(19);
    const generation = ledger.generation();

    expect(ingestWorkflows(files, ledger, book)).toEqual({ filesRead: 0, runs: 0, events: 0, problems: [] });
    expect(ledger.events({ source: 'workflow' })).toHaveLength(19);
    expect(ledger.generation()).toBe(generation);
    expect(ledger.runs()).toHaveLength(1);
  });

  it('a changed run file replaces the run and its events whole: tokens that shrank are not kept', () => {
    const { dir, files } = copies(SAMPLE);
    const file = files[0]!;
    const ledger = ledgerIn(dir);
    ingestWorkflows(files, ledger, book);
    // New snapshot: searcher-1 (item 3) 41318 → 1000, and only the first 2 of the 12 verifiers.
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { workflowProgress: Record<string, unknown>[] };
    let verifiers = 0;
    doc.workflowProgress = doc.workflowProgress.filter((item) => {
      if (item.phaseTitle === 'Verify' && item.type === 'workflow_agent') return ++verifiers <= 2;
      return true;
    });
    doc.workflowProgress[3]!.tokens = 1000;
    writeFileSync(file, JSON.stringify(doc));
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);

    // 1 Scope + 6 Search + 2 Verify = 9 agents
    expect(ingestWorkflows(files, ledger, book)).toEqual({ filesRead: 1, runs: 1, events: 9, problems: [] });
    const events = ledger.events({ source: 'workflow' });
    expect(events).toHaveLength(9);
    // 31204 + (254248 − 41318 + 1000) + (61882 + 58341) = 31204 + 213930 + 120223 = 365,357
    expect(unsplit(events)).toBe(365_357);
    expect(events.find((e) => e.id === 'wf:wf_sample-001:3')!.usage.unsplitTokens).toBe(1000);
    // 31204 × 1600 + 213930 × 1600 + 120223 × 4800 = 49,926,400 + 342,288,000 + 577,070,400
    expect(cost(events)).toBe(969_284_800);
    expect(ledger.getRun('wf_sample-001')!.agents).toHaveLength(9);
    expect(ledger.runs()).toHaveLength(1);
  });

  it('a changed run file whose runId changed (here: a runId written in later) replaces the file’s old run', () => {
    const dir = tempDir('tokenledger-wf-ingest-');
    const file = join(dir, 'wf_late-id.json');
    const doc = JSON.parse(readFileSync(join(EXTRA, 'broken', 'wf_ok.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const { runId, ...withoutId } = doc;
    expect(runId).toBe('wf_ok');
    writeFileSync(file, JSON.stringify(withoutId));
    const ledger = ledgerIn(dir);
    ingestWorkflows([file], ledger, book);
    expect(ledger.runs().map((r) => r.id)).toEqual([file]); // known by its file while it has no runId
    expect(unsplit(ledger.events({ source: 'workflow' }))).toBe(1000); // 300 + 700

    writeFileSync(file, JSON.stringify(doc));
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    ingestWorkflows([file], ledger, book);
    // one file, one snapshot: the same 300 + 700 tokens, now under the run's id — not 2000
    expect(ledger.runs().map((r) => r.id)).toEqual(['wf_ok']);
    expect(unsplit(ledger.events({ source: 'workflow' }))).toBe(1000);
    expect(unsplit(scanWorkflowsDirect([file], book).events)).toBe(1000);
  });

  it('a runId in two files: counted once, the fuller kept, a problem stored, whichever file comes first', () => {
    for (const order of [
      [DUP_A, DUP_B],
      [DUP_B, DUP_A],
    ]) {
      const dir = tempDir('tokenledger-wf-ingest-');
      const ledger = ledgerIn(dir);
      const r = ingestWorkflows(order, ledger, book);
      expect(r.filesRead).toBe(2);
      const runs = ledger.runs();
      expect(runs).toHaveLength(1);
      expect(runs[0]!.file).toBe(DUP_B);
      expect(runs[0]!.agents).toHaveLength(3);
      const events = ledger.events({ source: 'workflow' });
      expect(events).toHaveLength(3);
      expect(unsplit(events)).toBe(4500); // 1000 + 2000 + 1500, not + 3000 more from file a
      expect(cost(events)).toBe(7_200_000);
      expect(r.problems).toHaveLength(1);
      expect(ledger.problems()).toEqual(r.problems);
      const [first, second] = order as [string, string];
      expect(r.problems[0]).toEqual({
        file: second,
        line: 0,
        reason: `runId wf_dup is also in ${first}; counted once, from ${second === DUP_B ? 'this' : 'that'} file`,
      });
    }
  });

  it('the ledger and a direct scan agree on the same files', () => {
    const files = [
      SAMPLE,
      DUP_A,
      DUP_B,
      join(EXTRA, 'model', 'wf_unknown-model.json'),
      join(EXTRA, 'broken', 'wf_ok.json'),
      join(EXTRA, 'broken', 'wf_truncated.json'),
    ];
    const scan = scanWorkflowsDirect(files, book);
    const ledger = ledgerIn(tempDir('tokenledger-wf-ingest-'));
    ingestWorkflows(files, ledger, book);
    const stored = ledger.events({ source: 'workflow' });
    // 19 + 3 + 2 + 2 events; 1,006,200 + 4500 + 3000 + 1000 tokens
    expect(stored).toHaveLength(26);
    expect(scan.events).toHaveLength(26);
    expect(unsplit(stored)).toBe(1_014_700);
    expect(unsplit(scan.events)).toBe(1_014_700);
    expect(cost(stored)).toBe(cost(scan.events));
    expect(
      ledger
        .runs()
        .map((r) => r.id)
        .sort(),
    ).toEqual(scan.runs.map((r) => r.id).sort());
    expect(ledger.problems().length).toBe(scan.problems.length);
  });

  it('a truncated file is a problem until it is written whole; then its run is in and the problem gone', () => {
    const { dir, files } = copies(join(EXTRA, 'broken', 'wf_truncated.json'));
    const file = files[0]!;
    const ledger = ledgerIn(dir);
    const first = ingestWorkflows(files, ledger, book);
    expect(first).toMatchObject({ filesRead: 1, runs: 0, events: 0 });
    expect(ledger.problems().map((p) => p.file)).toEqual([file]);
    expect(ledger.runs()).toEqual([]);

    writeFileSync(file, readFileSync(join(EXTRA, 'broken', 'wf_ok.json')));
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    expect(ingestWorkflows(files, ledger, book)).toEqual({ filesRead: 1, runs: 1, events: 2, problems: [] });
    expect(ledger.problems()).toEqual([]);
    expect(unsplit(ledger.events({ source: 'workflow' }))).toBe(1000);
  });
});
