import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { NO_STAGE, parseWorkflowFile, workflowRunFromJson } from './workflow.js';

const WF = fileURLToPath(new URL('../../test/fixtures/workflow/', import.meta.url));
const EXTRA = join(WF, 'extra');
const MTIME = Date.UTC(2026, 5, 1, 12); // the fallback time handed to the parser

afterEach(() => removeTempDirs());

/** Writes a document (or raw text) to a temp file and returns its path. */
function onDisk(doc: unknown, name = 'wf_t.json'): string {
  const dir = tempDir('tokenledger-wf-src-');
  const file = join(dir, name);
  writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

describe('parseWorkflowFile: the seed fixtures', () => {
  it('sample-run.json: run fields, phases in order and all 19 agents', () => {
    const file = join(WF, 'sample-run.json');
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(problems).toEqual([]);
    expect(run).not.toBeNull();
    expect(run!).toMatchObject({
      id: 'wf_sample-001',
      source: 'workflow',
      file,
      ts: MTIME, // no startedAt anywhere: the file's time
      workflow: 'sample-research',
      status: 'completed',
      reportedTotalTokens: 1_006_200,
      phases: ['Scope', 'Search', 'Verify'],
    });
    // 1 Scope + 6 Search + 12 Verify; 31204 + 254248 + 720748 = 1,006,200
    expect(run!.agents).toHaveLength(19);
    expect(run!.agents.reduce((n, a) => n + a.tokens, 0)).toBe(1_006_200);
    expect(run!.agents.filter((a) => a.stage === 'Search')).toHaveLength(6);
    expect(run!.agents.filter((a) => a.stage === 'Verify')).toHaveLength(12);
    // index = position in workflowProgress (the Scope phase is item 0)
    expect(run!.agents[0]).toEqual({
      index: 1,
      stage: 'Scope',
      tokens: 31204,
      agentId: 'agent_sample-001',
      label: 'scope-planner',
      model: 'claude-haiku-4-5',
      state: 'completed',
      toolCalls: 3,
    });
    // the Search phase is item 2, its first agent item 3
    expect(run!.agents[1]).toMatchObject({ index: 3, stage: 'Search', tokens: 41318, label: 'searcher-1' });
  });

  it('wf_ledger-basic.json: phase titles given as `title` count too', () => {
    const { run } = parseWorkflowFile(join(WF, 'wf_ledger-basic.json'), MTIME);
    expect(run!.phases).toEqual(['Scope', 'Verify']);
    expect(run!.agents.map((a) => [a.index, a.stage, a.tokens, a.state])).toEqual([
      [1, 'Scope', 100, 'done'],
      [3, 'Verify', 600, 'done'],
      [4, 'Verify', 300, 'error'],
    ]);
    expect(run!.id).toBe('wf_test');
    expect(run!.reportedTotalTokens).toBe(1000);
  });

  it('wf_bad-token-type.json: a token count that is not a number is 0, and a problem naming the item', () => {
    const file = join(WF, 'wf_bad-token-type.json');
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(problems).toEqual([
      { file, line: 0, reason: 'workflowProgress[0]: tokens "bad" is not a token count; counted as 0' },
    ]);
    expect(run!.agents).toEqual([
      { index: 0, stage: 'X', tokens: 0, invalidTokens: true, state: 'done', toolCalls: 0 },
    ]);
    expect(run!.reportedTotalTokens).toBe(0);
    // no runId: the run is known by its file; no workflow name or status
    expect(run!.id).toBe(file);
    expect(run!.workflow).toBeUndefined();
    expect(run!.status).toBeUndefined();
  });

  it('wf_no-agents.json: a run with no agents and no phases', () => {
    const { run, problems } = parseWorkflowFile(join(WF, 'wf_no-agents.json'), MTIME);
    expect(problems).toEqual([]);
    expect(run!.agents).toEqual([]);
    expect(run!.phases).toEqual([]);
    expect(run!.reportedTotalTokens).toBe(0);
  });

  it('wf_health-broken-verify.json: stages without phase items are ordered as the agents come', () => {
    const { run } = parseWorkflowFile(join(WF, 'wf_health-broken-verify.json'), MTIME);
    expect(run!.phases).toEqual(['Verify', 'Fetch']);
    expect(run!.agents).toHaveLength(11);
    expect(run!.agents.filter((a) => a.state === 'error').map((a) => a.tokens)).toEqual([
      1588, 1588, 1588, 1588, 1588, 1588,
    ]);
    expect(run!.agents.every((a) => a.model === 'm')).toBe(true);
  });
});

describe('parseWorkflowFile: broken and foreign files are problems, never exceptions', () => {
  it('a truncated file', () => {
    const file = join(EXTRA, 'broken', 'wf_truncated.json');
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(run).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe(file);
    expect(problems[0]!.line).toBe(0);
    expect(problems[0]!.reason).toMatch(/^not valid JSON \(corrupt or truncated\): /);
  });

  it('a JSON object that is not workflow telemetry', () => {
    const file = join(EXTRA, 'broken', 'wf_not-workflow.json');
    expect(parseWorkflowFile(file, MTIME)).toEqual({
      run: null,
      problems: [{ file, line: 0, reason: 'not workflow telemetry: no workflowProgress list' }],
    });
  });

  it('a JSON array', () => {
    const file = join(EXTRA, 'broken', 'wf_array.json');
    expect(parseWorkflowFile(file, MTIME)).toEqual({
      run: null,
      problems: [{ file, line: 0, reason: 'not workflow telemetry: the document is not a JSON object' }],
    });
  });

  it('an empty file', () => {
    const file = onDisk('');
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(run).toBeNull();
    expect(problems[0]!.reason).toMatch(/^not valid JSON \(corrupt or truncated\): /);
  });

  it('a file that cannot be read', () => {
    const dir = tempDir('tokenledger-wf-src-');
    const file = join(dir, 'wf_gone.json');
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(run).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe(file);
    expect(problems[0]!.reason).toMatch(/^cannot read: /);
  });

  it('a folder named like a workflow file', () => {
    const dir = tempDir('tokenledger-wf-src-');
    const folder = join(dir, 'wf_folder.json');
    mkdirSync(folder);
    const { run, problems } = parseWorkflowFile(folder, MTIME);
    expect(run).toBeNull();
    expect(problems[0]!.reason).toMatch(/^cannot read: /);
  });
});

describe('parseWorkflowFile: fields', () => {
  it('the extra fixtures: run metadata, startedAt as an ISO string', () => {
    const { run, problems } = parseWorkflowFile(join(EXTRA, 'notes', 'wf_notes.json'), MTIME);
    expect(problems).toEqual([]);
    expect(run!).toMatchObject({
      id: 'wf_notes',
      workflow: 'notes-check',
      status: 'completed',
      ts: Date.UTC(2026, 1, 6, 10), // 2026-02-06T10:00:00Z
      reportedTotalTokens: 10_000,
      agentCount: 5,
      totalToolCalls: 20,
      phases: ['Fetch', 'Verify'],
    });
    expect(run!.agents.map((a) => [a.stage, a.tokens, a.toolCalls, a.attempt])).toEqual([
      ['Fetch', 3000, 3, 2],
      ['Fetch', 3000, 3, 3],
      ['Verify', 4000, 4, 1],
      ['Verify', 0, 2, undefined],
    ]);
  });

  it('startedAt in epoch seconds or epoch milliseconds; an agent’s start stands in for a missing run start', () => {
    const secs = 1_767_603_600; // 2026-01-05T09:00:00Z = 20458 days × 86400 + 9 × 3600
    expect(secs).toBe(Date.UTC(2026, 0, 5, 9) / 1000);
    const a = parseWorkflowFile(onDisk({ startedAt: secs, workflowProgress: [] }), MTIME);
    expect(a.run!.ts).toBe(secs * 1000);
    const b = parseWorkflowFile(onDisk({ startedAt: secs * 1000, workflowProgress: [] }), MTIME);
    expect(b.run!.ts).toBe(secs * 1000);
    const c = parseWorkflowFile(
      onDisk({
        workflowProgress: [
          { type: 'workflow_agent', phaseTitle: 'A', tokens: 1 },
          { type: 'workflow_agent', phaseTitle: 'A', tokens: 2, startedAt: '2026-01-05T09:00:00Z' },
        ],
      }),
      MTIME,
    );
    expect(c.run!.ts).toBe(secs * 1000);
    expect(c.run!.agents[1]!.startedAt).toBe(secs * 1000);
    // an unparseable time falls back to the file's time
    const d = parseWorkflowFile(onDisk({ startedAt: 'yesterday-ish', workflowProgress: [] }), MTIME);
    expect(d.run!.ts).toBe(MTIME);
  });

  it('an agent without a phaseTitle is in the "(no stage)" stage', () => {
    const { run } = parseWorkflowFile(
      onDisk({ totalTokens: 5, workflowProgress: [{ type: 'workflow_agent', tokens: 5 }] }),
      MTIME,
    );
    expect(NO_STAGE).toBe('(no stage)');
    expect(run!.agents).toEqual([{ index: 0, stage: '(no stage)', tokens: 5 }]);
    expect(run!.phases).toEqual(['(no stage)']);
  });

  it('negative, fractional or missing token counts are 0 and a problem each', () => {
    const file = onDisk({
      workflowProgress: [
        { type: 'workflow_agent', phaseTitle: 'A', tokens: -5 },
        { type: 'workflow_agent', phaseTitle: 'A', tokens: 1.5 },
        { type: 'workflow_agent', phaseTitle: 'A' },
        { type: 'workflow_agent', phaseTitle: 'A', tokens: 7 },
      ],
    });
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(problems.map((p) => p.reason)).toEqual([
      'workflowProgress[0]: tokens -5 is not a token count; counted as 0',
      'workflowProgress[1]: tokens 1.5 is not a token count; counted as 0',
      'workflowProgress[2]: tokens missing is not a token count; counted as 0',
    ]);
    expect(run!.agents.map((a) => a.tokens)).toEqual([0, 0, 0, 7]);
  });

  it('a bad totalTokens is a problem and no reported total', () => {
    const file = onDisk({ totalTokens: 'lots', workflowProgress: [] });
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(problems).toEqual([{ file, line: 0, reason: 'totalTokens "lots" is not a token count' }]);
    expect(run!.reportedTotalTokens).toBeUndefined();
  });

  it('items that are not objects are skipped with a problem; other item types are ignored silently', () => {
    const file = onDisk({
      workflowProgress: [
        { type: 'workflow_agent', phaseTitle: 'A', tokens: 1 },
        'oops',
        { type: 'workflow_note', tokens: 1000 },
        null,
        { type: 'workflow_agent', phaseTitle: 'A', tokens: 2 },
      ],
    });
    const { run, problems } = parseWorkflowFile(file, MTIME);
    expect(problems.map((p) => p.reason)).toEqual([
      'workflowProgress[1] is not an object; skipped',
      'workflowProgress[3] is not an object; skipped',
    ]);
    expect(run!.agents.map((a) => [a.index, a.tokens])).toEqual([
      [0, 1],
      [4, 2],
    ]);
  });

  it('empty strings are absent values: an empty runId falls back to the file', () => {
    const file = onDisk({ runId: '', workflowName: '', status: '', workflowProgress: [] });
    const { run } = parseWorkflowFile(file, MTIME);
    expect(run!.id).toBe(file);
    expect(run!.workflow).toBeUndefined();
    expect(run!.status).toBeUndefined();
  });

  it('a phase listed twice is one phase', () => {
    const { run } = workflowRunFromJson(
      {
        workflowProgress: [
          { type: 'workflow_phase', phaseTitle: 'A' },
          { type: 'workflow_phase', phaseTitle: 'B' },
          { type: 'workflow_phase', phaseTitle: 'A' },
        ],
      },
      'mem.json',
      MTIME,
    );
    expect(run!.phases).toEqual(['A', 'B']);
  });
});
