import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Problem } from '../core/event.js';
import {
  defaultClaudeRoots,
  describeClaudeFile,
  discoverClaudeFiles,
  PathNotFoundError,
  readClaudeAgentMeta,
} from './claude-discover.js';

const fx = (rel: string) => fileURLToPath(new URL(`../../test/fixtures/claude-code/${rel}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tl-claude-discover-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function touch(rel: string, content = '{}\n'): string {
  const f = join(dir, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, content);
  return f;
}

describe('discoverClaudeFiles', () => {
  it('throws PathNotFoundError for a folder that does not exist', () => {
    const missing = join(dir, 'no', 'such', 'folder');
    let err: unknown;
    try {
      discoverClaudeFiles([missing]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PathNotFoundError);
    expect((err as PathNotFoundError).code).toBe('PATH_NOT_FOUND');
    expect((err as PathNotFoundError).name).toBe('PathNotFoundError');
    expect((err as Error).message).toContain(missing);
    // one missing path among good ones is still an error
    expect(() => discoverClaudeFiles([fx('03-ccusage-agent-progress'), missing])).toThrow(PathNotFoundError);
  });

  it('finds fixture 03 (a root with projects/ inside) with project, session and agent from the paths', () => {
    const root = fx('03-ccusage-agent-progress');
    const found = discoverClaudeFiles([root]);
    expect(found.problems).toEqual([]);
    expect(found.metaFiles).toEqual([]);
    expect(found.workflowFiles).toEqual([]);
    const infos = found.transcripts
      .map((t) => ({ ...t, file: relative(root, t.file) }))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    expect(infos).toEqual([
      { file: join('projects', 'project-a', 'session-a.jsonl'), project: 'project-a', session: 'session-a' },
      {
        file: join('projects', 'project-a', 'session-a', 'subagents', 'agent-a.jsonl'),
        project: 'project-a',
        session: 'session-a',
        agentId: 'a',
      },
    ]);
  });

  it('finds fixture 05 and the extra nested layout with its meta.json files', () => {
    const f05 = discoverClaudeFiles([fx('05-claude-code-log-subagents')]);
    expect(f05.transcripts.map((t) => [basename(t.file), t.project, t.session, t.agentId]).sort()).toEqual([
      [
        '55550000-0000-4000-8000-000000000001.jsonl',
        '-workspace-example-app',
        '55550000-0000-4000-8000-000000000001',
        undefined,
      ],
      ['agent-showcol1.jsonl', '-workspace-example-app', '55550000-0000-4000-8000-000000000001', 'showcol1'],
    ]);

    const nested = discoverClaudeFiles([fx('extra/nested')]);
    expect(nested.transcripts).toHaveLength(3);
    expect(nested.metaFiles.map((f) => basename(f)).sort()).toEqual([
      'agent-aaa111.meta.json',
      'agent-bbb222.meta.json',
    ]);
    const problems: Problem[] = [];
    const metas = nested.metaFiles
      .map((f) => readClaudeAgentMeta(f, problems))
      .sort((a, b) => (a!.agentId < b!.agentId ? -1 : 1));
    expect(problems).toEqual([]);
    expect(metas).toEqual([
      {
        agentId: 'aaa111',
        session: '7e570000-0000-4000-8000-000000000001',
        agentType: 'Explore',
        description: 'Map the repo',
        toolUseId: 'toolu_A',
      },
      {
        agentId: 'bbb222',
        session: '7e570000-0000-4000-8000-000000000001',
        agentType: 'Plan',
        description: 'Draft the plan',
        toolUseId: 'toolu_B',
      },
    ]);
  });

  it('gives the same projects whether pointed at the root, its projects/ or one project folder', () => {
    const root = fx('05-claude-code-log-subagents');
    const key = (paths: string[]) =>
      discoverClaudeFiles(paths)
        .transcripts.map((t) => [t.file, t.project, t.session, t.agentId])
        .sort();
    const fromRoot = key([root]);
    expect(key([join(root, 'projects')])).toEqual(fromRoot);
    expect(key([join(root, 'projects', '-workspace-example-app')])).toEqual(fromRoot);
    // the same path twice: each file once
    expect(key([root, join(root, 'projects')])).toEqual(fromRoot);
  });

  it('reads a single file argument; outside projects/ the project is the folder name', () => {
    const copy = join(dir, 'loose', 'chat.jsonl');
    mkdirSync(dirname(copy), { recursive: true });
    copyFileSync(fx('01-ccusage-project-alpha-chat.jsonl'), copy);
    const found = discoverClaudeFiles([copy]);
    expect(found.transcripts).toEqual([{ file: copy, project: 'loose' }]);
    // and as a folder
    expect(discoverClaudeFiles([join(dir, 'loose')]).transcripts).toEqual([{ file: copy, project: 'loose' }]);
  });

  it('skips hidden folders and node_modules, lists wf_*.json as workflow files, ignores other files', () => {
    const root = join(dir, 'mixed');
    touch('mixed/projects/p1/s1.jsonl');
    touch('mixed/projects/p1/.hidden/s2.jsonl');
    touch('mixed/projects/p1/node_modules/s3.jsonl');
    touch('mixed/projects/p1/s1/workflows/wf_run-1.json');
    touch('mixed/projects/p1/notes.txt');
    touch('mixed/projects/p1/settings.json');
    const found = discoverClaudeFiles([root]);
    expect(found.transcripts.map((t) => relative(root, t.file))).toEqual([
      join('projects', 'p1', 's1.jsonl'),
    ]);
    expect(found.workflowFiles.map((f) => relative(root, f))).toEqual([
      join('projects', 'p1', 's1', 'workflows', 'wf_run-1.json'),
    ]);
    expect(found.metaFiles).toEqual([]);
  });
});

describe('describeClaudeFile', () => {
  const root = join(dir, 'claude');
  mkdirSync(root, { recursive: true });

  it('main transcript: project = first segment under projects/, session = file name', () => {
    const f = join(root, 'projects', '-home-dev-app', '6f1c2d3e-0000-4000-8000-000000000001.jsonl');
    expect(describeClaudeFile(f, root)).toEqual({
      file: f,
      project: '-home-dev-app',
      session: '6f1c2d3e-0000-4000-8000-000000000001',
    });
  });

  it('sub-agent transcript: session = the parent folder, agentId from agent-<id>.jsonl', () => {
    const f = join(root, 'projects', '-home-dev-app', 'sess-9', 'subagents', 'agent-a1b2c3.jsonl');
    expect(describeClaudeFile(f, root)).toEqual({
      file: f,
      project: '-home-dev-app',
      session: 'sess-9',
      agentId: 'a1b2c3',
    });
  });

  it('an agent-*.jsonl outside subagents/ is not a sub-agent; deeper files have no session from the path', () => {
    const f = join(root, 'projects', '-home-dev-app', 'agent-x.jsonl');
    expect(describeClaudeFile(f, root)).toEqual({ file: f, project: '-home-dev-app', session: 'agent-x' });
    // ccusage's nested layout projects/<p>/<session>/chat.jsonl: the session comes from the records
    const g = join(root, 'projects', 'project-alpha', 'session-alpha', 'chat.jsonl');
    expect(describeClaudeFile(g, root)).toEqual({ file: g, project: 'project-alpha' });
  });
});

describe('readClaudeAgentMeta', () => {
  it('reports an unreadable meta file as a problem of the whole file (line 0)', () => {
    const f = touch('metas/s1/subagents/agent-zz9.meta.json', '{"agentType": ');
    const problems: Problem[] = [];
    expect(readClaudeAgentMeta(f, problems)).toBeNull();
    expect(problems).toHaveLength(1);
    expect(problems[0]!.file).toBe(f);
    expect(problems[0]!.line).toBe(0);
    expect(problems[0]!.reason).toMatch(/agent meta/);
  });

  it('keeps only string fields', () => {
    const f = touch(
      'metas/s2/subagents/agent-q1.meta.json',
      JSON.stringify({ agentType: 7, description: 'd' }),
    );
    expect(readClaudeAgentMeta(f, [])).toEqual({ agentId: 'q1', session: 's2', description: 'd' });
  });
});

describe('defaultClaudeRoots', () => {
  it('uses every existing entry of CLAUDE_CONFIG_DIR, comma-separated, and drops missing ones', () => {
    const a = join(dir, 'cfg-a');
    const b = join(dir, 'cfg-b');
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    const env = { CLAUDE_CONFIG_DIR: ` ${a} ,${join(dir, 'cfg-missing')},${b},` };
    expect(defaultClaudeRoots(env, join(dir, 'home-unused'))).toEqual([a, b]);
  });

  it('falls back to ~/.config/claude and ~/.claude under the given home', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.claude'), { recursive: true });
    expect(defaultClaudeRoots({}, home)).toEqual([join(home, '.claude')]);
    mkdirSync(join(home, '.config', 'claude'), { recursive: true });
    expect(defaultClaudeRoots({}, home)).toEqual([join(home, '.config', 'claude'), join(home, '.claude')]);
    expect(defaultClaudeRoots({}, join(dir, 'empty-home'))).toEqual([]);
  });
});
