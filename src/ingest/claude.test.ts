import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sortedUnpriced } from '../../test/helpers/aggregate.js';
import { FIXTURES_DIR, GEN_CORPUS } from '../../test/helpers/paths.js';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { assistantLine, jsonl, userLine } from '../../test/helpers/transcript.js';
import { aggregate, GROUP_BYS } from '../core/aggregate.js';
import type { Problem, UsageEvent } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import { parsePriceOverrides } from '../prices/overrides.js';
import { createPriceBook } from '../prices/price-book.js';
import type { LedgerStore } from '../store/ledger.js';
import { openSqliteLedger } from '../store/sqlite.js';
import { ingestClaude, scanClaudeDirect, treeFingerprint } from './claude.js';

// vitest.config.ts sets TZ=UTC.
const book = createPriceBook();

function overrideBook(
  models: Record<string, { input_mtok: number; output_mtok: number }>,
  version: string,
): PriceBook {
  return createPriceBook({ overrides: parsePriceOverrides({ models }), overridesVersion: version });
}

const ledgers: LedgerStore[] = [];
function newLedger(dir: string, name = 'ledger.db'): LedgerStore {
  const l = openSqliteLedger(join(dir, name));
  ledgers.push(l);
  return l;
}

afterEach(() => {
  for (const l of ledgers.splice(0)) l.close();
  removeTempDirs();
});

/** A folder shaped like ~/.claude with one project; returns the root and the project folder. */
function claudeTree(): { root: string; project: string } {
  const root = tempDir('tokenledger-ingest-');
  const project = join(root, 'projects', '-home-dev-app');
  mkdirSync(project, { recursive: true });
  return { root, project };
}

const sortById = (events: UsageEvent[]) => [...events].sort((a, b) => (a.id < b.id ? -1 : 1));

/** The five real-format fixtures (test/fixtures/claude-code/README.md), by name: the folder also holds others. */
const FIXTURES = [
  '01-ccusage-project-alpha-chat.jsonl',
  '02-ccusage-streaming-dedup-synthetic.jsonl',
  '03-ccusage-agent-progress',
  '04-claude-code-log-sidechain-integrated.jsonl',
  '05-claude-code-log-subagents',
].map((f) => join(FIXTURES_DIR, f));
const F02 = join(FIXTURES_DIR, '02-ccusage-streaming-dedup-synthetic.jsonl');
const INVALID_VERSION = 'invalid version "not-semver" (not a Claude Code record)';
const MALFORMED = 'not a JSON object (malformed or truncated line)';

describe('ingest of the real-format fixtures', () => {
  it('stores each call once; a second ingest reads 0 bytes and inserts 0', async () => {
    const dir = tempDir();
    const ledger = newLedger(dir);
    const r1 = await ingestClaude(FIXTURES, ledger, book);
    // 01: 3 calls; 02: 1 (line 1 rejected, lines 2–3 one call, line 4 <synthetic>); 03: 3 (msg_haiku
    // in the progress echo and in agent-a.jsonl is one call); 04: 3 (msg_017zj… on two lines);
    // 05: 5 main + 1 sub-agent. 3+1+3+3+6 = 16.
    expect(r1).toMatchObject({ inserted: 16, updated: 0, unchanged: 0, repriced: 0 });
    expect(r1.stats).toMatchObject({ files: 7, filesRead: 7, synthetic: 1 });
    expect(r1.problems).toEqual([{ file: F02, line: 1, reason: INVALID_VERSION }]);
    const t = ledger.aggregate('day').totals;
    expect(t.events).toBe(16);
    // input:  01: 100+200+300; 02: 100; 03: 10+20+30; 04: 3+3+3; 05: 6×120 → 600+100+60+9+720 = 1489
    // output: 01: 50+75+125;   02: 250 (largest snapshot); 03: 1+2+3; 04: 365+183+190; 05: 6×40
    //         → 250+250+6+738+240 = 1484
    // cache read:  01: 10+20+40; 02: 5; 04: 141272 → 141347
    // cache write: 01: 25+50; 02: 10; 04: 141272+19830+2952 → 75+10+164054 = 164139
    expect(t.usage).toMatchObject({
      inputTokens: 1489,
      outputTokens: 1484,
      cacheReadTokens: 141_347,
      cacheWrite5mTokens: 164_139,
      cacheWrite1hTokens: 0,
    });
    // $ (µ$ per token = $/MTok): sonnet-4-5 (04): 9+529770+5475 + 9+74362.5+2745 + 9+11070+42381.6+2850
    // = 668681.1; opus-4 fast at standard (01): 3000+5625+937.5+30 = 9592.5; opus-4-6 (02, 03):
    // 500+6250+62.5+2.5 + 150+75 + fast 50+25 = 7115; sonnet-4 (01): 1146.75+2787 = 3933.75;
    // haiku-4-5 (03, 05): 7 calls, 740×1 + 242×5 = 1950 → 691272.35 µ$
    expect(t.costNano).toBe(691_272_350);
    expect(t.estimatedEvents).toBe(2); // the two fast-mode calls
    const g1 = ledger.generation();

    const r2 = await ingestClaude(FIXTURES, ledger, book);
    expect(r2.stats).toMatchObject({ files: 7, filesRead: 0, bytesRead: 0, lines: 0 });
    expect(r2).toMatchObject({ inserted: 0, updated: 0, unchanged: 0, repriced: 0, problems: [] });
    expect(ledger.generation()).toBe(g1);
    expect(ledger.aggregate('day').totals).toEqual(t);
    expect(ledger.problems()).toEqual([{ file: F02, line: 1, reason: INVALID_VERSION }]);
  });

  it('holds the same events and groups as a direct (no-ledger) scan of the same files', async () => {
    const ledger = newLedger(tempDir());
    await ingestClaude(FIXTURES, ledger, book);
    const direct = await scanClaudeDirect(FIXTURES, book);
    expect(sortById(ledger.events())).toEqual(sortById(direct.events));
    for (const by of GROUP_BYS)
      expect(sortedUnpriced(ledger.aggregate(by))).toEqual(sortedUnpriced(aggregate(direct.events, by)));
    expect(ledger.problems()).toEqual(direct.problems);
    // agents: 03's msg_haiku is in agent-a.jsonl (no type known: "subagent"); 04's sidechain call is
    // e1c84ba5 and 05's is showcol1, both spawned as general-purpose; the other 13 calls are main.
    expect(ledger.aggregate('agent').groups.map((g) => [g.key, g.events])).toEqual([
      ['main', 13],
      ['general-purpose', 2],
      ['subagent', 1],
    ]);
  });
});

describe('ingest of a generated corpus (bench/gen-corpus.mjs)', () => {
  let corpus: string;
  let expected: {
    assistantMessages: number;
    input: number;
    output: number;
    cacheCreate: number;
    cacheCreate1h: number;
    cacheRead: number;
  };
  const fullFiles = new Map<string, Buffer>();

  let corpusRoot: string;
  beforeAll(() => {
    // Not a tempDir(): it must outlive the per-test cleanup; removed in afterAll.
    corpusRoot = mkdtempSync(join(tmpdir(), 'tokenledger-corpus-'));
    corpus = join(corpusRoot, 'claude');
    expected = JSON.parse(
      execFileSync(process.execPath, [GEN_CORPUS, corpus, '2', '7'], { encoding: 'utf8' }),
    );
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const f = join(d, e.name);
        if (e.isDirectory()) walk(f);
        else if (e.name.endsWith('.jsonl')) fullFiles.set(f, readFileSync(f));
      }
    };
    walk(corpus);
  });

  afterAll(() => {
    rmSync(corpusRoot, { recursive: true, force: true });
  });

  /** Puts every transcript back to its generated content (a test below rewrites them). */
  function restoreCorpus(): void {
    for (const [f, body] of fullFiles) writeFileSync(f, body);
  }

  it('matches the generator’s totals and a direct scan', async () => {
    restoreCorpus();
    const ledger = newLedger(tempDir());
    const r = await ingestClaude([corpus], ledger, book);
    expect(r.problems).toEqual([]);
    const t = ledger.aggregate('model').totals;
    expect(t.events).toBe(expected.assistantMessages);
    expect(t.usage.inputTokens).toBe(expected.input);
    expect(t.usage.outputTokens).toBe(expected.output);
    expect(t.usage.cacheReadTokens).toBe(expected.cacheRead);
    expect(t.usage.cacheWrite5mTokens + t.usage.cacheWrite1hTokens).toBe(expected.cacheCreate);
    expect(t.usage.cacheWrite1hTokens).toBe(expected.cacheCreate1h);
    const direct = await scanClaudeDirect([corpus], book);
    expect(sortById(ledger.events())).toEqual(sortById(direct.events));
  });

  for (const seed of [1, 2, 3]) {
    it(`read in two ingests (every file cut at a random byte, seed ${seed}) equals one full read`, async () => {
      restoreCorpus();
      // Cut every file at a pseudo-random byte (mid-line, mid-UTF-8 character, anywhere), ingest,
      // then append the rest and ingest again.
      let state = seed;
      const rnd = () => {
        state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
        return state / 2 ** 32;
      };
      const cuts = new Map<string, number>();
      for (const [f, body] of fullFiles) {
        const at = Math.floor(rnd() * (body.length + 1));
        cuts.set(f, at);
        writeFileSync(f, body.subarray(0, at));
      }
      const ledger = newLedger(tempDir());
      await ingestClaude([corpus], ledger, book);
      let rest = 0;
      for (const [f, body] of fullFiles) {
        appendFileSync(f, body.subarray(cuts.get(f)));
        rest += body.length - cuts.get(f)!;
      }
      const r2 = await ingestClaude([corpus], ledger, book);
      expect(r2.problems).toEqual([]);
      // The second read starts at each file's last complete line: at least the appended bytes.
      expect(r2.stats.bytesRead).toBeGreaterThanOrEqual(rest);
      const direct = await scanClaudeDirect([corpus], book);
      expect(sortById(ledger.events())).toEqual(sortById(direct.events));
      expect(ledger.aggregate('day').totals.events).toBe(expected.assistantMessages);
      expect(ledger.problems()).toEqual([]);
    });
  }
});

describe('incremental ingest', () => {
  // sonnet-4-5 base rates, µ$ per token: input 3, output 15, cache read 0.3, cache write 3.75.
  const c1 = assistantLine({
    id: 'msg_1',
    requestId: 'req_1',
    ts: '2026-01-05T10:00:00.000Z',
    input: 100,
    output: 20,
  });
  const c2 = assistantLine({
    id: 'msg_2',
    requestId: 'req_2',
    ts: '2026-01-05T10:01:00.000Z',
    input: 200,
    output: 40,
    cacheRead: 1000,
  });
  const c3 = assistantLine({
    id: 'msg_3',
    requestId: 'req_3',
    ts: '2026-01-06T09:00:00.000Z',
    input: 300,
    output: 60,
  });

  it('reads only the appended bytes and adds only the new calls', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, jsonl([userLine('2026-01-05T09:59:00.000Z', 'hi'), c1, c2]));
    const ledger = newLedger(root);
    const r1 = await ingestClaude([root], ledger, book);
    expect(r1.inserted).toBe(2);
    const appended = jsonl([userLine('2026-01-06T08:59:00.000Z', 'more'), c3]);
    appendFileSync(file, appended);
    const r2 = await ingestClaude([root], ledger, book);
    expect(r2.stats.bytesRead).toBe(Buffer.byteLength(appended));
    expect(r2.stats.filesRead).toBe(1);
    expect(r2.stats.lines).toBe(5); // lines up to the new end: 3 before + 2 appended
    expect(r2).toMatchObject({ inserted: 1, updated: 0, unchanged: 0 });
    const t = ledger.aggregate('day').totals;
    expect(t.events).toBe(3);
    expect(t.usage.inputTokens).toBe(600); // 100+200+300
    expect(t.usage.outputTokens).toBe(120); // 20+40+60
    expect(t.usage.cacheReadTokens).toBe(1000);
    // (100×3+20×15) + (200×3+40×15+1000×0.3) + (300×3+60×15) = 600 + 1500 + 1800 = 3900 µ$
    expect(t.costNano).toBe(3_900_000);
    expect(ledger.aggregate('day').groups.map((g) => [g.key, g.events])).toEqual([
      ['2026-01-05', 2],
      ['2026-01-06', 1],
    ]);
  });

  it('notices a transcript renamed between ingests (same inode, size and mtime: only the path differs)', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, jsonl([c1, c2]));
    const ledger = newLedger(root);
    expect((await ingestClaude([root], ledger, book)).inserted).toBe(2);
    const moved = join(project, 's1-renamed.jsonl');
    renameSync(file, moved);
    const r2 = await ingestClaude([root], ledger, book);
    // The tree changed, so the new path is read (its calls are already stored: nothing is added twice).
    expect(r2.stats.filesRead).toBe(1);
    expect(r2).toMatchObject({ inserted: 0 });
    expect(ledger.fileStates().has(moved)).toBe(true);
    expect(ledger.aggregate('day').totals.events).toBe(2);
    // And unchanged since: the next ingest reads nothing.
    expect((await ingestClaude([root], ledger, book)).stats.filesRead).toBe(0);
  });

  it('keeps the largest streamed snapshot of a call whose later lines arrive in later ingests', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    const snap = (output: number) =>
      assistantLine({ id: 'msg_s', requestId: 'req_s', ts: '2026-01-05T10:00:00.000Z', input: 100, output });
    writeFileSync(file, jsonl([snap(25)]));
    const ledger = newLedger(root);
    await ingestClaude([root], ledger, book);
    // 100×3 + 25×15 = 675 µ$
    expect(ledger.events()[0]?.cost.nanoUsd).toBe(675_000);
    appendFileSync(file, jsonl([snap(250)]));
    expect(await ingestClaude([root], ledger, book)).toMatchObject({ inserted: 0, updated: 1, unchanged: 0 });
    let [e] = ledger.events();
    expect(e?.usage.outputTokens).toBe(250);
    expect(e?.cost.nanoUsd).toBe(4_050_000); // 100×3 + 250×15 = 4050 µ$
    appendFileSync(file, jsonl([snap(100)])); // a smaller, older snapshot written late
    expect(await ingestClaude([root], ledger, book)).toMatchObject({ inserted: 0, updated: 0, unchanged: 1 });
    [e] = ledger.events();
    expect(e?.usage.outputTokens).toBe(250);
    expect(ledger.aggregate('day').totals.events).toBe(1);
  });

  it('leaves an incomplete last line for later: no problem now, read once it is completed', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    const half = Math.floor(c2.length / 2);
    writeFileSync(file, `${c1}\n${c2.slice(0, half)}`);
    const ledger = newLedger(root);
    const r1 = await ingestClaude([root], ledger, book);
    expect(r1.inserted).toBe(1);
    expect(r1.problems).toEqual([]);
    expect(ledger.problems()).toEqual([]);
    expect(ledger.fileStates().get(file)).toMatchObject({ offset: Buffer.byteLength(`${c1}\n`), lines: 1 });
    appendFileSync(file, `${c2.slice(half)}\n`);
    const r2 = await ingestClaude([root], ledger, book);
    // re-read from the end of line 1: the whole of line 2 and its newline
    expect(r2.stats.bytesRead).toBe(Buffer.byteLength(`${c2}\n`));
    expect(r2).toMatchObject({ inserted: 1, updated: 0, unchanged: 0, problems: [] });
    expect(ledger.problems()).toEqual([]);
    expect(ledger.aggregate('day').totals.usage.inputTokens).toBe(300); // 100 + 200
  });

  it('counts a complete but unterminated last line once, also after the writer ends it', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, `${c1}\n${c2}`);
    const ledger = newLedger(root);
    expect((await ingestClaude([root], ledger, book)).inserted).toBe(2);
    appendFileSync(file, `\n${c3}\n`);
    const r2 = await ingestClaude([root], ledger, book);
    expect(r2).toMatchObject({ inserted: 1, updated: 0, unchanged: 1 }); // c2 re-read, c3 new
    expect(ledger.aggregate('day').totals.events).toBe(3);
  });

  it('re-reads a truncated file from the start and replaces its problems', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, jsonl([c1, 'this is not json', c2]));
    const ledger = newLedger(root);
    const r1 = await ingestClaude([root], ledger, book);
    expect(r1.inserted).toBe(2);
    expect(ledger.problems()).toEqual([{ file, line: 2, reason: MALFORMED }]);
    const identity = ledger.fileStates().get(file)?.identity;
    truncateSync(file, Buffer.byteLength(`${c1}\n`)); // shorter than the stored offset
    const r2 = await ingestClaude([root], ledger, book);
    expect(r2.stats.bytesRead).toBe(Buffer.byteLength(`${c1}\n`)); // from byte 0
    expect(r2).toMatchObject({ inserted: 0, updated: 0, unchanged: 1, problems: [] });
    expect(ledger.problems()).toEqual([]); // line 2 is gone, and so is its problem
    expect(ledger.fileStates().get(file)).toMatchObject({
      identity, // same inode: the truncation, not a new file, triggered the re-read
      offset: Buffer.byteLength(`${c1}\n`),
      lines: 1,
    });
    // calls read before stay: the spend happened
    expect(ledger.aggregate('day').totals.events).toBe(2);
  });

  it('re-reads a file replaced by a new one (new inode) from the start and replaces its problems', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, jsonl([c1, 'garbage one', c2]));
    const ledger = newLedger(root);
    await ingestClaude([root], ledger, book);
    expect(ledger.problems()).toEqual([{ file, line: 2, reason: MALFORMED }]);
    const before = ledger.fileStates().get(file)!;
    const replacement = jsonl(['garbage two', c1, c3, c2]); // longer than before
    const tmp = join(project, 'replacement.tmp');
    writeFileSync(tmp, replacement);
    renameSync(tmp, file);
    const r2 = await ingestClaude([root], ledger, book);
    expect(ledger.fileStates().get(file)?.identity).not.toBe(before.identity);
    expect(r2.stats.bytesRead).toBe(Buffer.byteLength(replacement));
    expect(r2).toMatchObject({ inserted: 1, updated: 0, unchanged: 2 }); // c3 new; c1, c2 known
    expect(ledger.problems()).toEqual([{ file, line: 1, reason: MALFORMED }]);
    expect(ledger.aggregate('day').totals.events).toBe(3);
  });

  it('re-reads a file rewritten in place with the same size but different first bytes', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    const a = assistantLine({
      id: 'msg_aaaa',
      requestId: 'req_a',
      ts: '2026-01-05T10:00:00.000Z',
      input: 10,
      output: 1,
    });
    const b = assistantLine({
      id: 'msg_bbbb',
      requestId: 'req_b',
      ts: '2026-01-05T10:00:00.000Z',
      input: 10,
      output: 1,
    });
    expect(b.length).toBe(a.length);
    writeFileSync(file, jsonl([a, c2, 'oops']));
    const ledger = newLedger(root);
    await ingestClaude([root], ledger, book);
    expect(ledger.problems()).toEqual([{ file, line: 3, reason: MALFORMED }]);
    const before = ledger.fileStates().get(file)!;
    const rewritten = jsonl([b, c2, '{  }']); // same byte length, first line differs
    expect(Buffer.byteLength(rewritten)).toBe(before.size);
    writeFileSync(file, rewritten); // in place: same inode
    const later = new Date(before.mtimeMs + 10_000);
    utimesSync(file, later, later);
    const r2 = await ingestClaude([root], ledger, book);
    expect(ledger.fileStates().get(file)?.identity).toBe(before.identity);
    expect(r2.stats.bytesRead).toBe(before.size); // all of it, from byte 0
    expect(r2).toMatchObject({ inserted: 1, updated: 0, unchanged: 1 }); // msg_bbbb new, c2 known
    expect(ledger.problems()).toEqual([]);
    expect(
      ledger
        .events()
        .map((e) => e.id)
        .sort(),
    ).toEqual(['cc:msg_2|req_2', 'cc:msg_aaaa|req_a', 'cc:msg_bbbb|req_b']);
  });

  it('a line appended while an ingest runs is read by the next ingest', async () => {
    // A live session keeps writing while the ingest runs. The file is appended after it was scanned
    // but before the batch is committed (the progress callback runs in between).
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    writeFileSync(file, jsonl([c1]));
    const ledger = newLedger(root);
    let appended = false;
    await ingestClaude([root], ledger, book, () => {
      if (!appended) appendFileSync(file, jsonl([c2]));
      appended = true;
    });
    expect(appended).toBe(true);
    const r2 = await ingestClaude([root], ledger, book);
    // expected: c2's line (and only it) is read now and its call inserted
    expect(r2.stats.bytesRead).toBe(Buffer.byteLength(`${c2}\n`));
    expect(r2.inserted).toBe(1);
    expect(ledger.aggregate('day').totals.events).toBe(2);
  });
});

describe('problems', () => {
  it('are persisted with file, line and reason, and returned by the ingest that found them', async () => {
    const { root, project } = claudeTree();
    const file = join(project, 's1.jsonl');
    const negative = assistantLine({
      id: 'msg_neg',
      ts: '2026-01-05T10:00:00.000Z',
      input: 5,
      output: 1,
    }).replace('"output_tokens":1', '"output_tokens":-1');
    const noTime = assistantLine({ id: 'msg_nt', ts: 'not a time', input: 5, output: 1 });
    writeFileSync(
      file,
      jsonl([
        assistantLine({ id: 'msg_ok', ts: '2026-01-05T10:00:00.000Z', input: 5, output: 1 }),
        '{"message":{"usage":{"output_tokens": 5,}}}', // braces, but not JSON
        negative,
        '[1, 2]',
        noTime,
      ]),
    );
    const ledger = newLedger(root);
    const r = await ingestClaude([root], ledger, book);
    const expected: Problem[] = [
      { file, line: 2, reason: expect.stringMatching(/^malformed JSON: /) as unknown as string },
      { file, line: 3, reason: 'usage has a token count that is not a non-negative integer' },
      { file, line: 4, reason: MALFORMED },
      { file, line: 5, reason: 'assistant record without a valid timestamp' },
    ];
    expect(r.problems).toEqual(expected);
    expect(r.inserted).toBe(1);
    ledger.close();
    const reopened = newLedger(root);
    expect(reopened.problems()).toEqual(expected);
    // a later ingest of the unchanged file neither repeats nor drops them
    const again = await ingestClaude([root], reopened, book);
    expect(again.problems).toEqual([]);
    expect(reopened.problems()).toEqual(expected);
  });
});

describe('sub-agent links that arrive after the sub-agent’s calls', () => {
  it('resolves the agent type afterwards (Agent spawn + tool_result in a later ingest)', async () => {
    const root = tempDir();
    cpSync(join(FIXTURES_DIR, '05-claude-code-log-subagents'), root, { recursive: true });
    const main = join(
      root,
      'projects',
      '-workspace-example-app',
      '55550000-0000-4000-8000-000000000001.jsonl',
    );
    const lines = readFileSync(main, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(11);
    // Lines 1–7: three main calls (sc-a1..a3); line 8 (sc-a4) spawns showcol1, line 9 answers it.
    writeFileSync(main, jsonl(lines.slice(0, 7)));
    const ledger = newLedger(tempDir());
    const r1 = await ingestClaude([root], ledger, book);
    expect(r1.inserted).toBe(4); // sc-a1..a3 + showcol1's own call
    const sub = () => ledger.events().find((e) => e.id === 'cc:msg_showcol1-a1');
    expect(sub()?.attribution).toEqual({
      project: '-workspace-example-app',
      session: '55550000-0000-4000-8000-000000000001',
      agentId: 'showcol1',
      agentName: 'subagent',
      agentPath: 'main/showcol1',
    });
    expect(ledger.unresolvedAgents()).toEqual(['showcol1']);
    const g1 = ledger.generation();

    appendFileSync(main, jsonl(lines.slice(7)));
    const r2 = await ingestClaude([root], ledger, book);
    expect(r2.inserted).toBe(2); // sc-a4, sc-a5; the sub-agent file was not read again
    expect(r2.stats.filesRead).toBe(1);
    expect(sub()?.attribution).toEqual({
      project: '-workspace-example-app',
      session: '55550000-0000-4000-8000-000000000001',
      agentId: 'showcol1',
      agentName: 'general-purpose',
      agentType: 'general-purpose',
      agentDescription: 'Survey the web module',
      agentPath: 'main/showcol1',
    });
    expect(ledger.unresolvedAgents()).toEqual([]);
    expect(ledger.generation()).toBeGreaterThan(g1);
    expect(ledger.aggregate('agent').groups.map((g) => [g.key, g.events])).toEqual([
      ['main', 5],
      ['general-purpose', 1],
    ]);
    const direct = await scanClaudeDirect([root], book);
    expect(sortById(ledger.events())).toEqual(sortById(direct.events));
  });

  it('links a spawn read in one ingest to its tool_result read from the next incremental read', async () => {
    const root = tempDir();
    cpSync(join(FIXTURES_DIR, '05-claude-code-log-subagents'), root, { recursive: true });
    const main = join(
      root,
      'projects',
      '-workspace-example-app',
      '55550000-0000-4000-8000-000000000001.jsonl',
    );
    const lines = readFileSync(main, 'utf8').split('\n').filter(Boolean);
    // Lines 1–8 hold the Agent spawn (line 8); the tool_result naming showcol1 (line 9) comes later.
    writeFileSync(main, jsonl(lines.slice(0, 8)));
    const ledger = newLedger(tempDir());
    await ingestClaude([root], ledger, book);
    expect(ledger.unresolvedAgents()).toEqual(['showcol1']);
    appendFileSync(main, jsonl(lines.slice(8)));
    const r2 = await ingestClaude([root], ledger, book);
    expect(r2.stats.filesRead).toBe(1); // only the main transcript, from its stored offset
    expect(ledger.unresolvedAgents()).toEqual([]);
    const sub = ledger.events().find((e) => e.id === 'cc:msg_showcol1-a1');
    expect(sub?.attribution.agentType).toBe('general-purpose');
    expect(sub?.attribution.agentDescription).toBe('Survey the web module');
  });

  it('resolves an inline sidechain call whose agentId line arrives in a later ingest (older layout)', async () => {
    // Fixture 04 (Claude Code 2.0.46): the sidechain call msg_017zj… (lines 3–4) has no agentId; the
    // sidechain user line 5 names the agent (e1c84ba5), which the main user line 2 links to the
    // general-purpose Task spawn of line 1. Here lines 5–6 are written after the first ingest.
    const root = tempDir();
    const file = join(root, 'session.jsonl');
    const lines = readFileSync(join(FIXTURES_DIR, '04-claude-code-log-sidechain-integrated.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    writeFileSync(file, jsonl(lines.slice(0, 4)));
    const ledger = newLedger(tempDir());
    await ingestClaude([root], ledger, book);
    appendFileSync(file, jsonl(lines.slice(4)));
    await ingestClaude([root], ledger, book);
    const direct = await scanClaudeDirect([root], book);
    const sidechain = (events: UsageEvent[]) =>
      events.find((e) => e.id === 'cc:msg_017zj75dqWUNqVxCUrhqbTkf|req_011CVJ51ytkcBEjrQhRNswqR')
        ?.attribution;
    // what one read of the whole file says
    expect(sidechain(direct.events)).toMatchObject({
      agentId: 'e1c84ba5',
      agentName: 'general-purpose',
      agentPath: 'main/e1c84ba5',
    });
    expect(sidechain(ledger.events())).toEqual(sidechain(direct.events));
  });
});

describe('prices', () => {
  const F05 = join(FIXTURES_DIR, '05-claude-code-log-subagents');
  // fixture 05: 6 haiku calls of 120 input + 40 output → 720 input, 240 output
  it('re-prices the stored calls when the price data changes, and only then', async () => {
    const ledger = newLedger(tempDir());
    const cheap = overrideBook(
      { 'claude-haiku-4-5-20251001': { input_mtok: 2, output_mtok: 10 } },
      'overrides:a',
    );
    const dear = overrideBook(
      { 'claude-haiku-4-5-20251001': { input_mtok: 4, output_mtok: 20 } },
      'overrides:b',
    );
    await ingestClaude([F05], ledger, cheap);
    expect(ledger.aggregate('day').totals.costNano).toBe(3_840_000); // 720×2 + 240×10 = 3840 µ$
    const r2 = await ingestClaude([F05], ledger, dear);
    expect(r2.repriced).toBe(6);
    expect(ledger.aggregate('day').totals.costNano).toBe(7_680_000); // 720×4 + 240×20 = 7680 µ$
    expect((await ingestClaude([F05], ledger, dear)).repriced).toBe(0);
    const r4 = await ingestClaude([F05], ledger, book); // list price: $1 / $5
    expect(r4.repriced).toBe(6);
    expect(ledger.aggregate('day').totals.costNano).toBe(1_920_000); // 720×1 + 240×5 = 1920 µ$
  });

  it('re-prices calls committed by an ingest that was interrupted before it finished', async () => {
    // An ingest commits a batch once 25,000 call copies are pending (BATCH_COPIES in claude.ts). One
    // file of 50,000 calls makes the first batch; the ingest then dies (here: the progress callback
    // throws) before it records which prices it used. The next ingest runs with other prices.
    const { root, project } = claudeTree();
    const line = (i: number) =>
      `{"type":"assistant","timestamp":"2026-01-05T10:00:00.000Z","message":{"id":"m${i}","model":"x-model","usage":{"input_tokens":1000,"output_tokens":100}}}\n`;
    const big: string[] = [];
    for (let i = 0; i < 50_000; i++) big.push(line(i));
    writeFileSync(join(project, 'big.jsonl'), big.join(''));
    writeFileSync(join(project, 'small.jsonl'), line(50_000));
    const v1 = overrideBook({ 'x-model': { input_mtok: 1, output_mtok: 1 } }, 'overrides:v1');
    const v2 = overrideBook({ 'x-model': { input_mtok: 2, output_mtok: 2 } }, 'overrides:v2');
    const ledger = newLedger(root);
    await expect(
      ingestClaude([root], ledger, v1, (p) => {
        if (p.filesDone === 1) throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(ledger.aggregate('day').totals.events).toBe(50_000); // the first batch was committed
    await ingestClaude([root], ledger, v2);
    const t = ledger.aggregate('day').totals;
    expect(t.events).toBe(50_001);
    // every call at v2 prices: (1000 + 100) tokens × $2/MTok = $0.0022 = 2,200,000 nano-$;
    // 50,001 calls × 2,200,000 = 110,002,200,000 nano-$ ($110.0022). At v1 the first 50,000 were half that.
    expect(t.costNano).toBe(110_002_200_000);
  });
});

describe('ingest progress', () => {
  it('reports every file read and the bytes to read', async () => {
    const { root, project } = claudeTree();
    const a = jsonl([assistantLine({ id: 'm1', ts: '2026-01-05T10:00:00.000Z', input: 1 })]);
    const b = jsonl([assistantLine({ id: 'm2', ts: '2026-01-05T10:00:00.000Z', input: 2 })]);
    writeFileSync(join(project, 'a.jsonl'), a);
    writeFileSync(join(project, 'b.jsonl'), b);
    const seen: { filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number }[] = [];
    await ingestClaude([root], newLedger(root), book, (p) => seen.push({ ...p }));
    const total = Buffer.byteLength(a) + Buffer.byteLength(b);
    expect(seen.length).toBe(2);
    expect(seen[0]).toMatchObject({ filesDone: 1, filesTotal: 2, bytesTotal: total });
    expect(seen[1]).toEqual({ filesDone: 2, filesTotal: 2, bytesDone: total, bytesTotal: total });
  });
});

describe('tree fingerprint', () => {
  const st = { dev: 2049, ino: 1_234_567, size: 4_096, mtimeMs: 1_764_000_000_123.456 };
  const base = treeFingerprint(['/p/a.jsonl', '/p/b.jsonl'], [st, { ...st, ino: 7 }]);

  it('is stable for the same tree and a 40-hex-digit SHA-1', () => {
    expect(treeFingerprint(['/p/a.jsonl', '/p/b.jsonl'], [st, { ...st, ino: 7 }])).toBe(base);
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    expect(treeFingerprint([], [])).not.toBe(base);
  });

  it('changes with any path, device, inode, size or mtime (even by a fraction of a millisecond)', () => {
    const variants = [
      treeFingerprint(['/p/a.jsonl', '/p/c.jsonl'], [st, { ...st, ino: 7 }]),
      treeFingerprint(
        ['/p/a.jsonl', '/p/b.jsonl'],
        [
          { ...st, dev: 2050 },
          { ...st, ino: 7 },
        ],
      ),
      treeFingerprint(['/p/a.jsonl', '/p/b.jsonl'], [st, { ...st, ino: 8 }]),
      treeFingerprint(
        ['/p/a.jsonl', '/p/b.jsonl'],
        [
          { ...st, size: 4_097 },
          { ...st, ino: 7 },
        ],
      ),
      treeFingerprint(['/p/a.jsonl', '/p/b.jsonl'], [st, { ...st, ino: 7, mtimeMs: st.mtimeMs + 0.001 }]),
      // the files' order is part of the tree as discovered
      treeFingerprint(['/p/b.jsonl', '/p/a.jsonl'], [{ ...st, ino: 7 }, st]),
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('keeps where one path ends and the next begins', () => {
    expect(treeFingerprint(['/p/ab', '/p/c'], [st, st])).not.toBe(
      treeFingerprint(['/p/a', 'b/p/c'], [st, st]),
    );
  });
});
