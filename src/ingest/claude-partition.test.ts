import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { assistantLine } from '../../test/helpers/transcript.js';
import { createPriceBook } from '../prices/price-book.js';
import { PartitionReducer, partitionSkew, projectGroups } from './claude-partition.js';

afterEach(() => removeTempDirs());

const file = (name: string, project: string | undefined, size: number) => ({
  info: project === undefined ? { file: name } : { file: name, project },
  size,
});

describe('projectGroups', () => {
  const under = (project: string, name: string) =>
    ['', 'home', '.claude', 'projects', project, name].join(sep);

  it('puts each project’s files together, largest project first; files without a project share one group', () => {
    const a1 = under('alpha', 'a1.jsonl');
    const a2 = under('alpha', 'a2.jsonl');
    const b1 = under('beta', 'b1.jsonl');
    const groups = projectGroups([
      file(a1, 'alpha', 10),
      file(b1, 'beta', 50),
      file('x', undefined, 5),
      file(a2, 'alpha', 30),
      file('y', undefined, 1),
    ]);
    expect(groups.map((g) => [g.files.map((f) => f.file), g.bytes])).toEqual([
      [[b1], 50],
      [[a1, a2], 40],
      [['x', 'y'], 6],
    ]);
  });

  it('puts files found outside a projects/ folder in one group: their “project” is only their parent folder', () => {
    // A session and its sub-agent outside projects/ are named `dump` and `subagents`.
    const session = ['', 'tmp', 'dump', 's.jsonl'].join(sep);
    const agent = ['', 'tmp', 'dump', 's', 'subagents', 'agent-a.jsonl'].join(sep);
    const inside = under('alpha', 'a.jsonl');
    const groups = projectGroups([
      file(session, 'dump', 10),
      file(agent, 'subagents', 5),
      file(inside, 'alpha', 1),
    ]);
    expect(groups.map((g) => g.files.map((f) => f.file))).toEqual([[session, agent], [inside]]);
  });
});

describe('partitionSkew', () => {
  const groups = (...bytes: number[]) => bytes.map((b) => ({ files: [], bytes: b }));

  it('is 1 when the projects split evenly across the threads', () => {
    expect(partitionSkew(groups(40, 30, 20, 10), 2)).toBe(1); // 40+10 | 30+20
    expect(partitionSkew(groups(5, 5, 5), 3)).toBe(1);
  });

  it('is the slowest thread’s share over an even share', () => {
    // 2 threads, largest first to the least loaded: 60 | 30+10 → 60 / 50
    expect(partitionSkew(groups(60, 30, 10), 2)).toBeCloseTo(1.2);
    // one project holding everything: the other threads idle
    expect(partitionSkew(groups(100), 4)).toBe(4);
  });

  it('is 1 for no bytes at all', () => {
    expect(partitionSkew([], 2)).toBe(1);
  });
});

describe('PartitionReducer', () => {
  it('counts a call whose copies are in two of its projects once, with the largest snapshot', () => {
    const root = tempDir();
    const write = (project: string, name: string, lines: string[]) => {
      const dir = join(root, 'projects', project);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
      return { file: join(dir, name), project, session: name.replace('.jsonl', '') };
    };
    const call = (output: number) =>
      assistantLine({ id: 'msg_1', requestId: 'req_1', ts: '2026-01-05T10:00:00.000Z', output, input: 100 });
    const other = assistantLine({
      id: 'msg_2',
      requestId: 'req_2',
      ts: '2026-01-05T11:00:00.000Z',
      output: 3,
    });
    const a = write('-home-a', 's1.jsonl', [call(10), other]);
    const b = write('-home-b', 's2.jsonl', [call(25)]);
    const reducer = new PartitionReducer();
    const read: number[] = [];
    reducer.scanGroup({ files: [a], bytes: 0 }, (n) => read.push(n));
    reducer.scanGroup({ files: [b], bytes: 0 }, (n) => read.push(n));
    expect(read).toEqual([statSync(a.file).size, statSync(b.file).size]);
    const t = reducer.finish([], createPriceBook(), { by: 'project', filter: {} });
    expect(t.agg.totals.events).toBe(2);
    expect(t.agg.totals.usage.outputTokens).toBe(28); // 25 (the larger snapshot) + 3
    expect(t.keys.sort()).toEqual(['msg_1|req_1', 'msg_2|req_2']);
    expect(t.counts.filesRead).toBe(2);
    expect(t.counts.lines).toBe(3);
  });
});
