import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Agg from '../src/core/aggregate.js';
import type { PriceBook } from '../src/core/pricing.js';
import type * as Ingest from '../src/ingest/claude.js';
import type * as Overrides from '../src/prices/overrides.js';
import type * as Prices from '../src/prices/price-book.js';
import type { ClaudeFileScan } from '../src/sources/claude-code.js';
import type * as Discover from '../src/sources/claude-discover.js';
import type * as Scan from '../src/sources/claude-scan.js';
import { sortedUnpriced } from './helpers/aggregate.js';
import { GEN_CORPUS } from './helpers/paths.js';
import { assistantLine } from './helpers/transcript.js';

// Worker threads run the COMPILED worker (dist/sources/claude-scan-worker.js; the test setup builds
// dist), so this suite imports the compiled scanner: from src it would fall back to the main thread.
const dist = (p: string) => new URL(`../dist/${p}`, import.meta.url).href;
const { scanClaudeFiles, fullScanJobs } = (await import(dist('sources/claude-scan.js'))) as typeof Scan;
const { discoverClaudeFiles } = (await import(dist('sources/claude-discover.js'))) as typeof Discover;
const fixtures = fileURLToPath(new URL('./fixtures/claude-code', import.meta.url));

async function scanAll(workers: number): Promise<{ scans: ClaudeFileScan[]; hooks: number }> {
  const jobs = fullScanJobs(discoverClaudeFiles([fixtures]).transcripts);
  const scans: ClaudeFileScan[] = [];
  let hooks = 0;
  await scanClaudeFiles(jobs, {
    workers,
    onScan: (scan) => scans.push(scan),
    whileWorkersParse: () => hooks++,
  });
  scans.sort((a, b) => a.file.localeCompare(b.file));
  return { scans, hooks };
}

describe('scanning transcripts on worker threads', () => {
  it('gives every file the same scan as the main thread alone', async () => {
    const alone = await scanAll(0);
    const shared = await scanAll(2);
    expect(alone.scans.length).toBe(11);
    expect(shared.scans).toEqual(alone.scans);
    expect(alone.scans.reduce((n, s) => n + s.calls.length, 0)).toBeGreaterThan(20);
  });

  it('lets the main thread do its own work once while workers parse, and only then', async () => {
    expect((await scanAll(0)).hooks).toBe(0);
    expect((await scanAll(1)).hooks).toBe(1);
  });
});

// Reports that tally whole projects per thread (ingest/claude-partition.ts) against one merge of all
// the files on the main thread: the same sums, problems and counts, for every grouping.
const { reportClaudeDirect, scanClaudeDirect } = (await import(dist('ingest/claude.js'))) as typeof Ingest;
const { createPriceBook } = (await import(dist('prices/price-book.js'))) as typeof Prices;
const { parsePriceOverrides } = (await import(dist('prices/overrides.js'))) as typeof Overrides;
const { aggregate, GROUP_BYS } = (await import(dist('core/aggregate.js'))) as typeof Agg;

describe('a direct report tallied by project on worker threads', () => {
  const book = createPriceBook();
  let root: string;

  beforeAll(() => {
    // Three generated trees (~3 MB, two projects each, named the same in every tree) moved into one,
    // each project under a name of its own: six projects that balance across two or three threads.
    root = mkdtempSync(join(tmpdir(), 'tokenledger-partition-'));
    mkdirSync(join(root, 'claude', 'projects'), { recursive: true });
    for (const seed of [7, 8, 9]) {
      const tree = join(root, `gen-${seed}`);
      execFileSync(process.execPath, [GEN_CORPUS, tree, '3', String(seed)]);
      readdirSync(join(tree, 'projects'))
        .sort()
        .forEach((project, i) => {
          const to = join(root, 'claude', 'projects', `-home-dev-p${seed}-${i}`);
          renameSync(join(tree, 'projects', project), to);
        });
      rmSync(tree, { recursive: true, force: true });
    }
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function expectSameAsMerged(
    paths: string[],
    workers: number,
    opts: { book?: PriceBook; filter?: Agg.EventFilter } = {},
  ) {
    const b = opts.book ?? book;
    const merged = await scanClaudeDirect(paths, b);
    const perProject: boolean[] = [];
    for (const by of GROUP_BYS) {
      const filter = opts.filter ?? {};
      const r = await reportClaudeDirect(paths, b, { by, filter }, undefined, { workers });
      expect(sortedUnpriced(r.agg), by).toEqual(sortedUnpriced(aggregate(merged.events, by, filter)));
      expect(r.problems).toEqual(merged.problems);
      expect(r.stats).toEqual(merged.stats);
      perProject.push(r.tally === 'per-project');
    }
    return perProject;
  }

  it('gives the sums of one merge of every file, for every grouping (2 and 3 threads)', async () => {
    const tree = join(root, 'claude');
    expect(await expectSameAsMerged([tree], 1)).toEqual(GROUP_BYS.map(() => true));
    expect(await expectSameAsMerged([tree], 2)).toEqual(GROUP_BYS.map(() => true));
    const merged = await scanClaudeDirect([tree], book);
    expect(merged.events.length).toBeGreaterThan(300);
    expect(new Set(merged.events.map((e) => e.attribution.project)).size).toBe(6);
    expect(merged.events.some((e) => e.attribution.agentType)).toBe(true);
  });

  it('with filters, and with the real-format fixtures (problems, progress echoes, metas) beside them', async () => {
    const paths = [join(root, 'claude'), fixtures];
    expect(await expectSameAsMerged(paths, 1)).toEqual(GROUP_BYS.map(() => true));
    // The generated calls are all on 2026-01-01; the fixtures' on other days.
    const day = { filter: { since: '2026-01-01', until: '2026-01-01' } };
    expect(await expectSameAsMerged(paths, 2, day)).toEqual(GROUP_BYS.map(() => true));
    const all = await reportClaudeDirect(paths, book, { by: 'day', filter: {} });
    const oneDay = await reportClaudeDirect(paths, book, { by: 'day', ...day });
    expect(oneDay.agg.totals.events).toBeGreaterThan(300);
    expect(oneDay.agg.totals.events).toBeLessThan(all.agg.totals.events);
    const one = { filter: { project: '-home-dev-p8-0' } };
    expect(await expectSameAsMerged(paths, 1, one)).toEqual(GROUP_BYS.map(() => true));
    expect((await scanClaudeDirect(paths, book)).problems.length).toBeGreaterThan(0);
  });

  it('counts a call copied into another thread’s project once, with its largest snapshot', async () => {
    // A session moved to another project folder: its call is in two projects. Each thread starts
    // with one of the two largest projects, so the copies are read by two threads: their sums would
    // count the call twice, and the files are merged on the main thread instead.
    const moved = join(root, 'moved', 'projects');
    mkdirSync(moved, { recursive: true });
    for (const p of ['-home-dev-p7-0', '-home-dev-p8-0'])
      cpSync(join(root, 'claude', 'projects', p), join(moved, p), { recursive: true });
    const p7 = join(moved, '-home-dev-p7-0');
    const session = readdirSync(p7).find((f) => f.endsWith('.jsonl'))!;
    const line = readFileSync(join(p7, session), 'utf8')
      .split('\n')
      .find((l) => l.includes('"output_tokens"') && l.includes('"type":"assistant"'))!;
    const bigger = line.replace(/"output_tokens":(\d+)/, (_m, n) => `"output_tokens":${Number(n) + 1000}`);
    const before = await scanClaudeDirect([moved], book);
    writeFileSync(join(moved, '-home-dev-p8-0', session), `${bigger}\n`);
    try {
      expect(await expectSameAsMerged([moved], 1)).toEqual(GROUP_BYS.map(() => false));
      const after = await scanClaudeDirect([moved], book);
      expect(after.events.length).toBe(before.events.length);
      const out = (es: typeof after.events) => es.reduce((n, e) => n + e.usage.outputTokens, 0);
      expect(out(after.events)).toBe(out(before.events) + 1000);
      // Without the copy the same two projects are tallied per thread.
      rmSync(join(moved, '-home-dev-p8-0', session));
      expect(await expectSameAsMerged([moved], 1)).toEqual(GROUP_BYS.map(() => true));
    } finally {
      rmSync(join(root, 'moved'), { recursive: true, force: true });
    }
  });

  it('merges on the main thread for a price book the workers cannot rebuild, or one dominant project', async () => {
    const custom: PriceBook = { version: 'custom', quote: (req) => book.quote(req) };
    expect(await expectSameAsMerged([join(root, 'claude')], 1, { book: custom })).toEqual(
      GROUP_BYS.map(() => false),
    );
    // One project holding nearly all the bytes.
    const dominant = [join(root, 'claude', 'projects', '-home-dev-p7-0'), fixtures];
    expect(await expectSameAsMerged(dominant, 1)).toEqual(GROUP_BYS.map(() => false));
  });

  it('reports progress up to every file and byte', async () => {
    const seen: Ingest.IngestProgress[] = [];
    const r = await reportClaudeDirect(
      [join(root, 'claude')],
      book,
      { by: 'day', filter: {} },
      (p) => seen.push({ ...p }),
      { workers: 1 },
    );
    expect(r.tally).toBe('per-project');
    const last = seen.at(-1)!;
    expect(last.filesDone).toBe(last.filesTotal);
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.filesTotal).toBe(r.stats.filesRead);
  });

  it('rebuilds a price book with overrides in the workers (their rates, not the bundled ones)', async () => {
    const overrides = parsePriceOverrides({
      models: {
        'claude-opus-4-1*': { input_mtok: 1, output_mtok: 2, cache_read_mtok: 0.5, cache_write_mtok: 1 },
      },
    });
    const custom = createPriceBook({ overrides, overridesVersion: 'test' });
    const tree = [join(root, 'claude')];
    expect(await expectSameAsMerged(tree, 1, { book: custom })).toEqual(GROUP_BYS.map(() => true));
    const withOverride = await reportClaudeDirect(tree, custom, { by: 'model', filter: {} }, undefined, {
      workers: 1,
    });
    const bundled = await reportClaudeDirect(tree, book, { by: 'model', filter: {} }, undefined, {
      workers: 1,
    });
    const opus = (r: Ingest.DirectReport) => r.agg.groups.find((g) => g.key.startsWith('claude-opus-4-1'))!;
    // $1/MTok input, $2 output, $0.5 cache read, $1 cache write, in nano-dollars (1,000 per token at $1/MTok)
    const u = opus(withOverride).usage;
    expect(opus(withOverride).costNano).toBe(
      u.inputTokens * 1000 +
        u.outputTokens * 2000 +
        u.cacheReadTokens * 500 +
        (u.cacheWrite5mTokens + u.cacheWrite1hTokens) * 1000,
    );
    expect(opus(bundled).costNano).toBeGreaterThan(opus(withOverride).costNano);
  });

  it('is taken by default when TOKENLEDGER_WORKERS asks for workers', async () => {
    const before = process.env.TOKENLEDGER_WORKERS;
    process.env.TOKENLEDGER_WORKERS = '1';
    try {
      const r = await reportClaudeDirect([join(root, 'claude')], book, { by: 'agent', filter: {} });
      expect(r.tally).toBe('per-project');
      const merged = await scanClaudeDirect([join(root, 'claude')], book);
      expect(sortedUnpriced(r.agg)).toEqual(sortedUnpriced(aggregate(merged.events, 'agent')));
    } finally {
      if (before === undefined) delete process.env.TOKENLEDGER_WORKERS;
      else process.env.TOKENLEDGER_WORKERS = before;
    }
  });

  it('links a sub-agent outside projects/ to its spawn (a session and its sub-agent folder)', async () => {
    // Outside projects/ a file's project is its parent folder: `dump` for the session, `subagents`
    // for its sub-agent. Read by two threads, the sub-agent's calls would lose their spawn link, so
    // such files form one group (claude-partition.test.ts); here the sums end to end.
    const dump = join(root, 'dump');
    const subagents = join(dump, 'sess-d', 'subagents');
    mkdirSync(subagents, { recursive: true });
    const spawn = JSON.stringify({
      type: 'assistant',
      timestamp: '2026-01-01T10:00:00.000Z',
      sessionId: 'sess-d',
      version: '2.1.30',
      message: {
        id: 'msg_spawn',
        model: 'claude-sonnet-4-5',
        content: [
          {
            type: 'tool_use',
            id: 'toolu_d',
            name: 'Task',
            input: { subagent_type: 'dump-reviewer', description: 'd' },
          },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 10, output_tokens: 5 },
      },
      requestId: 'req_spawn',
    });
    const result = JSON.stringify({
      type: 'user',
      timestamp: '2026-01-01T10:05:00.000Z',
      sessionId: 'sess-d',
      version: '2.1.30',
      message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_d', content: 'ok' }] },
      toolUseResult: { agentId: 'dd1' },
    });
    writeFileSync(join(dump, 'sess-d.jsonl'), `${spawn}\n${result}\n`);
    const sub = assistantLine({
      id: 'msg_sub',
      requestId: 'req_sub',
      ts: '2026-01-01T10:01:00.000Z',
      session: 'sess-d',
      output: 7,
      isSidechain: true,
      agentId: 'dd1',
    });
    writeFileSync(join(subagents, 'agent-dd1.jsonl'), `${sub}\n`);
    try {
      const paths = [join(root, 'claude'), dump];
      expect(await expectSameAsMerged(paths, 1)).toEqual(GROUP_BYS.map(() => true));
      const r = await reportClaudeDirect(paths, book, { by: 'agent', filter: {} }, undefined, { workers: 1 });
      expect(r.agg.groups.find((g) => g.key === 'dump-reviewer')?.events).toBe(1);
    } finally {
      rmSync(dump, { recursive: true, force: true });
    }
  });

  it('rejects a path that does not exist with the workers already started', async () => {
    await expect(
      reportClaudeDirect([join(root, 'nowhere')], book, { by: 'day', filter: {} }, undefined, { workers: 1 }),
    ).rejects.toThrow(/no such file or folder/);
  });
});
