import { describe, expect, it } from 'vitest';
import { partitionSkew, projectGroups } from './claude-partition.js';

const file = (name: string, project: string | undefined, size: number) => ({
  info: project === undefined ? { file: name } : { file: name, project },
  size,
});

describe('projectGroups', () => {
  it('puts each project’s files together, largest project first; files without a project share one group', () => {
    const groups = projectGroups([
      file('a1', 'alpha', 10),
      file('b1', 'beta', 50),
      file('x', undefined, 5),
      file('a2', 'alpha', 30),
      file('y', undefined, 1),
    ]);
    expect(groups.map((g) => [g.files.map((f) => f.file), g.bytes])).toEqual([
      [['b1'], 50],
      [['a1', 'a2'], 40],
      [['x', 'y'], 6],
    ]);
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
