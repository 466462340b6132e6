import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDelegationTree } from '../core/delegation.js';
import type { UsageEvent } from '../core/event.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { createPriceBook } from '../prices/price-book.js';
import { type ClaudeFileInfo, type ClaudeFileScan, parseClaudeTranscript } from './claude-code.js';
import { type ClaudeAgentMeta, discoverClaudeFiles, readClaudeAgentMeta } from './claude-discover.js';
import { ClaudeMerge } from './claude-merge.js';

const fx = (rel: string) => fileURLToPath(new URL(`../../test/fixtures/claude-code/${rel}`, import.meta.url));
const book = createPriceBook();
const u = (p: Partial<UsageBuckets>): UsageBuckets => ({ ...emptyUsage(), ...p });

const dir = mkdtempSync(join(tmpdir(), 'tl-claude-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmpFile(lines: string[], name = `t${++n}.jsonl`): string {
  const f = join(dir, name);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, lines.map((l) => `${l}\n`).join(''));
  return f;
}

interface Input {
  scans: { scan: ClaudeFileScan; project: string | undefined }[];
  metas: ClaudeAgentMeta[];
}

/** Discovers and parses everything under `paths` (real files), like the CLI does. */
function load(paths: string[]): Input {
  const found = discoverClaudeFiles(paths);
  expect(found.problems).toEqual([]);
  const problems: { file: string; line: number; reason: string }[] = [];
  const metas = found.metaFiles.map((f) => readClaudeAgentMeta(f, problems)).filter((m) => m !== null);
  expect(problems).toEqual([]);
  const scans = found.transcripts
    .sort((a, b) => (a.file < b.file ? -1 : 1))
    .map((info) => ({ scan: parseClaudeTranscript(info), project: info.project }));
  return { scans, metas };
}

function loadFiles(infos: ClaudeFileInfo[]): Input {
  return {
    scans: infos.map((info) => ({ scan: parseClaudeTranscript(info), project: info.project })),
    metas: [],
  };
}

/** Merges the scans in the given order (metas first, as the CLI does) and returns events by id. */
function merge(input: Input, order: 'forward' | 'reverse' = 'forward') {
  const m = new ClaudeMerge();
  for (const meta of input.metas) m.addMeta(meta);
  const scans = order === 'forward' ? input.scans : [...input.scans].reverse();
  for (const s of scans) m.addScan(s.scan, s.project);
  const events = [...m.events(book)].sort((a, b) => (a.id < b.id ? -1 : 1));
  const byId = new Map(events.map((e) => [e.id, e]));
  const get = (id: string) => {
    const e = byId.get(id);
    if (!e) throw new Error(`no event ${id}; have ${[...byId.keys()].join(', ')}`);
    return e;
  };
  return { m, events, get };
}

const sumNano = (events: UsageEvent[]) => events.reduce((s, e) => s + (e.cost.nanoUsd ?? 0), 0);
const sumUsage = (events: UsageEvent[]) => {
  const t = emptyUsage();
  for (const e of events) for (const k of Object.keys(t) as (keyof UsageBuckets)[]) t[k] += e.usage[k];
  return t;
};
/** What must not depend on the order files arrive in. */
const canonical = (events: UsageEvent[]) =>
  events.map((e) => ({
    id: e.id,
    ts: e.ts,
    model: e.model,
    speed: e.speed,
    usage: e.usage,
    cost: e.cost,
    a: e.attribution,
  }));

// ── Builders for temp transcripts in the real shape ──────────────────────────────────────────────────
interface Call {
  id: string;
  req?: string;
  ts: string;
  session?: string;
  model?: string;
  input?: number;
  output?: number;
  write?: number;
  h1?: number;
  speed?: string;
  side?: boolean;
  agentId?: string;
  content?: unknown[];
}
function usageJson(c: Call): Record<string, unknown> {
  const o: Record<string, unknown> = {
    input_tokens: c.input ?? 0,
    cache_creation_input_tokens: c.write ?? 0,
    cache_read_input_tokens: 0,
  };
  if (c.h1 !== undefined)
    o.cache_creation = { ephemeral_5m_input_tokens: (c.write ?? 0) - c.h1, ephemeral_1h_input_tokens: c.h1 };
  o.output_tokens = c.output ?? 0;
  o.service_tier = 'standard';
  if (c.speed) o.speed = c.speed;
  return o;
}
function message(c: Call): Record<string, unknown> {
  return {
    id: c.id,
    type: 'message',
    role: 'assistant',
    model: c.model ?? 'claude-sonnet-4-5-20250929',
    content: c.content ?? [{ type: 'text', text: `text of ${c.id}` }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: usageJson(c),
  };
}
function assistant(c: Call): string {
  const r: Record<string, unknown> = {
    parentUuid: null,
    isSidechain: c.side ?? false,
    userType: 'external',
    cwd: '/home/dev/app',
    sessionId: c.session ?? 'sess-1',
    version: '2.1.30',
  };
  if (c.agentId) r.agentId = c.agentId;
  Object.assign(r, { message: message(c), type: 'assistant', uuid: `u-${c.id}`, timestamp: c.ts });
  if (c.req) r.requestId = c.req;
  return JSON.stringify(r);
}
function progress(c: Call, extra: { parentToolUseID?: string; agentId?: string }): string {
  const data: Record<string, unknown> = {
    message: {
      type: 'assistant',
      timestamp: c.ts,
      message: message(c),
      requestId: c.req,
      uuid: `in-${c.id}`,
    },
    type: 'agent_progress',
  };
  if (extra.agentId) data.agentId = extra.agentId;
  const r: Record<string, unknown> = {
    parentUuid: null,
    isSidechain: false,
    sessionId: c.session ?? 'sess-1',
    version: '2.1.30',
    type: 'progress',
    data,
    uuid: `p-${c.id}`,
    timestamp: c.ts,
  };
  if (extra.parentToolUseID) r.parentToolUseID = extra.parentToolUseID;
  return JSON.stringify(r);
}
function spawnCall(c: Call, toolUseId: string, agentType: string, description: string): string {
  return assistant({
    ...c,
    content: [
      { type: 'text', text: 'Delegating.' },
      {
        type: 'tool_use',
        id: toolUseId,
        name: 'Agent',
        input: { description, subagent_type: agentType, prompt: 'go' },
      },
    ],
  });
}
function toolResult(
  toolUseId: string,
  agentId: string,
  ts: string,
  session = 'sess-1',
  side = false,
): string {
  return JSON.stringify({
    parentUuid: null,
    isSidechain: side,
    sessionId: session,
    version: '2.1.30',
    type: 'user',
    message: {
      role: 'user',
      content: [{ tool_use_id: toolUseId, type: 'tool_result', content: [{ type: 'text', text: 'done' }] }],
    },
    toolUseResult: { status: 'completed', agentId },
    uuid: `r-${toolUseId}`,
    timestamp: ts,
  });
}

// ── The shared fixtures, merged ──────────────────────────────────────────────────────────────────────
describe('ClaudeMerge on the shared fixtures', () => {
  it('02: the streamed call counts once with output 250; synthetic is not an event', () => {
    const input = loadFiles([{ file: fx('02-ccusage-streaming-dedup-synthetic.jsonl') }]);
    const { m, events, get } = merge(input);
    expect(events.map((e) => e.id)).toEqual(['cc:msg_123|req_456']);
    const e = get('cc:msg_123|req_456');
    expect(e.usage).toEqual(
      u({ inputTokens: 100, outputTokens: 250, cacheWrite5mTokens: 10, cacheReadTokens: 5 }),
    );
    expect(e.model).toBe('claude-opus-4-6');
    // claude-opus-4-6: 100×$5 + 250×$25 + 10×$6.25 + 5×$0.50 = 500 + 6,250 + 62.5 + 2.5 = 6,815 µ$
    expect(e.cost).toEqual({ nanoUsd: 6_815_000, priceSource: 'genai-prices@0.1.8', estimated: false });
    expect(e.attribution).toEqual({ session: 'session-a', agentPath: 'main', agentName: 'main' });
    expect(m.synthetic).toBe(1);
    expect(m.size).toBe(1);
  });

  it('03: the progress echo and the sub-agent file copy count once, attributed to the sub-agent', () => {
    const input = load([fx('03-ccusage-agent-progress')]);
    expect(input.scans.map((s) => relative(fx('03-ccusage-agent-progress'), s.scan.file))).toEqual([
      'projects/project-a/session-a.jsonl',
      'projects/project-a/session-a/subagents/agent-a.jsonl',
    ]);
    for (const order of ['forward', 'reverse'] as const) {
      const { events, get } = merge(input, order);
      expect(events.map((e) => e.id)).toEqual([
        'cc:msg_fast|req_fast',
        'cc:msg_haiku|req_haiku',
        'cc:msg_opus|req_opus',
      ]);
      const haiku = get('cc:msg_haiku|req_haiku');
      expect(haiku.usage).toEqual(u({ inputTokens: 20, outputTokens: 2 }));
      expect(haiku.attribution).toEqual({
        project: 'project-a',
        session: 'session-a',
        agentId: 'a',
        agentName: 'subagent',
        agentPath: 'main/a',
      });
      // claude-haiku-4-5: 20×$1 + 2×$5 = 30 µ$
      expect(haiku.cost.nanoUsd).toBe(30_000);
      // claude-opus-4-6 (2026-03-10): 30×$5 + 3×$25 = 225 µ$
      const opus = get('cc:msg_opus|req_opus');
      expect(opus.cost.nanoUsd).toBe(225_000);
      expect(opus.attribution).toEqual({
        project: 'project-a',
        session: 'session-a',
        agentPath: 'main',
        agentName: 'main',
      });
      // fast without a fast price: standard rates 10×$5 + 1×$25 = 75 µ$, flagged as an estimate
      const fast = get('cc:msg_fast|req_fast');
      expect(fast.speed).toBe('fast');
      expect(fast.cost.nanoUsd).toBe(75_000);
      expect(fast.cost.estimated).toBe(true);
      // totals: input 10 + 20 + 30 = 60, output 1 + 2 + 3 = 6, cost 330 µ$
      expect(sumUsage(events)).toEqual(u({ inputTokens: 60, outputTokens: 6 }));
      expect(sumNano(events)).toBe(330_000);
    }
  });

  it('03: without the sub-agent file, the progress echo still counts, as an unknown sub-agent', () => {
    const input = loadFiles([
      { file: fx('03-ccusage-agent-progress/projects/project-a/session-a.jsonl'), project: 'project-a' },
    ]);
    const { events, get } = merge(input);
    expect(events).toHaveLength(3);
    expect(get('cc:msg_haiku|req_haiku').attribution).toEqual({
      project: 'project-a',
      session: 'session-a',
      agentName: 'subagent',
      agentPath: 'main/?',
    });
  });

  it('04: three calls; the inline sidechain call belongs to the Task sub-agent with its type and description', () => {
    const input = loadFiles([{ file: fx('04-claude-code-log-sidechain-integrated.jsonl'), project: 'fx04' }]);
    const { events, get } = merge(input);
    expect(events).toHaveLength(3);
    const session = '88a8d761-7b9a-4bf1-a8ca-c1febe6bf358';
    const side = get('cc:msg_017zj75dqWUNqVxCUrhqbTkf|req_011CVJ51ytkcBEjrQhRNswqR');
    expect(side.attribution).toEqual({
      project: 'fx04',
      session,
      agentId: 'e1c84ba5',
      agentName: 'general-purpose',
      agentType: 'general-purpose',
      agentDescription: 'Research data-border-color usage and CSS class mat...',
      agentPath: 'main/e1c84ba5',
    });
    // claude-sonnet-4-5 base rates (all requests below 200k input):
    // 3×$3 + 19,830×$3.75 + 183×$15 = 9 + 74,362.5 + 2,745 = 77,116.5 µ$
    expect(side.cost.nanoUsd).toBe(77_116_500);
    const first = get('cc:msg_01H4wg8bFy2psdmQvJMU6kpD|req_011CVJ517iGrQqjVFtrWsUgP');
    expect(first.attribution.agentPath).toBe('main');
    // 3×$3 + 141,272×$3.75 + 365×$15 = 9 + 529,770 + 5,475 = 535,254 µ$
    expect(first.cost.nanoUsd).toBe(535_254_000);
    // 3×$3 + 2,952×$3.75 + 141,272×$0.30 + 190×$15 = 9 + 11,070 + 42,381.6 + 2,850 = 56,310.6 µ$
    expect(get('cc:msg_011b5A5rZCXR7eBYR4VbohVZ|req_011CVJ5Au8m6JgC6Ly7SbVPv').cost.nanoUsd).toBe(56_310_600);
    // totals: input 9, writes 141,272 + 19,830 + 2,952 = 164,054, reads 141,272, output 365 + 183 + 190 = 738
    expect(sumUsage(events)).toEqual(
      u({ inputTokens: 9, cacheWrite5mTokens: 164_054, cacheReadTokens: 141_272, outputTokens: 738 }),
    );
    expect(sumNano(events)).toBe(668_681_100);
  });

  it('05: six calls; the sub-agent file call is the Agent-spawned general-purpose sub-agent', () => {
    const input = load([fx('05-claude-code-log-subagents')]);
    for (const order of ['forward', 'reverse'] as const) {
      const { events, get } = merge(input, order);
      expect(events.map((e) => e.id)).toEqual([
        'cc:msg_sc-a1',
        'cc:msg_sc-a2',
        'cc:msg_sc-a3',
        'cc:msg_sc-a4',
        'cc:msg_sc-a5',
        'cc:msg_showcol1-a1',
      ]);
      expect(get('cc:msg_showcol1-a1').attribution).toEqual({
        project: '-workspace-example-app',
        session: '55550000-0000-4000-8000-000000000001',
        agentId: 'showcol1',
        agentName: 'general-purpose',
        agentType: 'general-purpose',
        agentDescription: 'Survey the web module',
        agentPath: 'main/showcol1',
      });
      expect(get('cc:msg_sc-a3').attribution.agentPath).toBe('main');
      // claude-haiku-4-5: 6 × (120×$1 + 40×$5) = 6 × 320 µ$ = 1,920 µ$
      expect(sumUsage(events)).toEqual(u({ inputTokens: 720, outputTokens: 240 }));
      expect(sumNano(events)).toBe(1_920_000);
    }
  });
});

// ── Dedup rules ──────────────────────────────────────────────────────────────────────────────────────
describe('ClaudeMerge dedup rules', () => {
  it('keeps the larger streamed snapshot when it comes first in the file', () => {
    const f = tmpFile([
      assistant({ id: 'm', req: 'r', ts: '2026-02-01T10:00:01.000Z', input: 100, output: 250 }),
      assistant({ id: 'm', req: 'r', ts: '2026-02-01T10:00:00.000Z', input: 100, output: 25 }),
    ]);
    const { events } = merge(loadFiles([{ file: f }]));
    expect(events).toHaveLength(1);
    expect(events[0]!.usage).toEqual(u({ inputTokens: 100, outputTokens: 250 }));
    // sonnet-4-5: 100×$3 + 250×$15 = 300 + 3,750 = 4,050 µ$
    expect(events[0]!.cost.nanoUsd).toBe(4_050_000);
  });

  it('keeps the larger snapshot across files, whichever file is added first', () => {
    const small = tmpFile([
      assistant({ id: 'm', req: 'r', ts: '2026-02-01T10:00:00.000Z', input: 100, output: 25 }),
    ]);
    const large = tmpFile([
      assistant({ id: 'm', req: 'r', ts: '2026-02-01T10:00:01.000Z', input: 100, output: 250 }),
    ]);
    const input = loadFiles([{ file: small }, { file: large }]);
    const a = merge(input, 'forward');
    const b = merge(input, 'reverse');
    for (const r of [a, b]) {
      expect(r.events).toHaveLength(1);
      expect(r.events[0]!.usage.outputTokens).toBe(250);
    }
    expect(canonical(a.events)).toEqual(canonical(b.events));
  });

  it('keys calls without requestId on message.id across files', () => {
    const f1 = tmpFile([assistant({ id: 'msg_nr', ts: '2026-02-01T10:00:00.000Z', input: 5, output: 7 })]);
    const f2 = tmpFile([assistant({ id: 'msg_nr', ts: '2026-02-01T10:00:00.000Z', input: 5, output: 7 })]);
    const { events } = merge(loadFiles([{ file: f1 }, { file: f2 }]));
    expect(events.map((e) => e.id)).toEqual(['cc:msg_nr']);
    expect(events[0]!.usage).toEqual(u({ inputTokens: 5, outputTokens: 7 }));
  });

  it("a resumed session's file repeating calls counts them once, owned by the session that started first", () => {
    // The resumed file's name sorts BEFORE the original's: ownership must come from the start time.
    const proj = join(dir, 'resumed', 'projects', '-home-dev-app');
    const OLD = '9a000000-0000-4000-8000-000000000001';
    const NEW = '1b000000-0000-4000-8000-000000000002';
    tmpFile(
      [
        assistant({
          id: 'r1',
          req: 'q1',
          session: OLD,
          ts: '2026-02-01T10:00:00.000Z',
          input: 10,
          output: 1,
        }),
        assistant({
          id: 'r2',
          req: 'q2',
          session: OLD,
          ts: '2026-02-01T10:05:00.000Z',
          input: 20,
          output: 2,
        }),
      ],
      relative(dir, join(proj, `${OLD}.jsonl`)),
    );
    tmpFile(
      [
        assistant({
          id: 'r2',
          req: 'q2',
          session: NEW,
          ts: '2026-02-01T10:05:00.000Z',
          input: 20,
          output: 2,
        }),
        assistant({
          id: 'r3',
          req: 'q3',
          session: NEW,
          ts: '2026-02-01T11:00:00.000Z',
          input: 30,
          output: 3,
        }),
      ],
      relative(dir, join(proj, `${NEW}.jsonl`)),
    );
    const input = load([join(dir, 'resumed')]);
    const a = merge(input, 'forward');
    const b = merge(input, 'reverse');
    for (const r of [a, b]) {
      expect(r.events.map((e) => [e.id, e.attribution.session])).toEqual([
        ['cc:r1|q1', OLD],
        ['cc:r2|q2', OLD],
        ['cc:r3|q3', NEW],
      ]);
      // input 10 + 20 + 30, output 1 + 2 + 3: the repeated call once
      expect(sumUsage(r.events)).toEqual(u({ inputTokens: 60, outputTokens: 6 }));
      expect(r.events[1]!.attribution.project).toBe('-home-dev-app');
    }
    expect(canonical(a.events)).toEqual(canonical(b.events));
  });

  it('keeps the speed of the snapshot whose usage it keeps, in one file as across files', () => {
    // Two snapshots of one fast call; only the later, larger one carries speed:"fast".
    const lines = [
      assistant({
        id: 'm',
        req: 'r',
        ts: '2026-02-01T10:00:00.000Z',
        model: 'claude-opus-4-6',
        input: 10,
        output: 1,
      }),
      assistant({
        id: 'm',
        req: 'r',
        ts: '2026-02-01T10:00:00.000Z',
        model: 'claude-opus-4-6',
        input: 10,
        output: 100,
        speed: 'fast',
      }),
    ];
    const split = merge(loadFiles([{ file: tmpFile([lines[0]!]) }, { file: tmpFile([lines[1]!]) }]));
    const joined = merge(loadFiles([{ file: tmpFile(lines) }]));
    expect(split.events).toHaveLength(1);
    expect(split.events[0]!.speed).toBe('fast');
    expect(joined.events).toHaveLength(1);
    expect(joined.events[0]!.usage.outputTokens).toBe(100);
    expect(joined.events[0]!.speed).toBe('fast');
  });

  it('does not depend on the order of copies whose usage ties on output and total input', () => {
    // Same call, same totals, but one copy knows the 1h part of the cache write and the other does not.
    const withSplit = tmpFile([
      assistant({
        id: 'm',
        req: 'r',
        ts: '2026-02-01T10:00:00.000Z',
        input: 1,
        write: 100_000,
        h1: 100_000,
        output: 5,
      }),
    ]);
    const without = tmpFile([
      assistant({ id: 'm', req: 'r', ts: '2026-02-01T10:00:00.000Z', input: 1, write: 100_000, output: 5 }),
    ]);
    const input = loadFiles([{ file: withSplit }, { file: without }]);
    const a = merge(input, 'forward');
    const b = merge(input, 'reverse');
    expect(a.events).toHaveLength(1);
    // 100k as 1h writes ($0.60) or as 5m writes ($0.375): the result must not hinge on arrival order
    expect(canonical(b.events)).toEqual(canonical(a.events));
  });
});

// ── Sub-agent attribution ────────────────────────────────────────────────────────────────────────────
describe('ClaudeMerge sub-agent attribution', () => {
  const NESTED = fx('extra/nested');
  const S = '7e570000-0000-4000-8000-000000000001';
  const P = '-home-dev-nested-app';

  function checkNested(events: UsageEvent[], get: (id: string) => UsageEvent) {
    expect(events.map((e) => e.id)).toEqual([
      'cc:msg_a1|req_a1',
      'cc:msg_a2|req_a2',
      'cc:msg_b1|req_b1',
      'cc:msg_main1|req_main1',
      'cc:msg_main2|req_main2',
    ]);
    const explore = {
      project: P,
      session: S,
      agentId: 'aaa111',
      agentName: 'Explore',
      agentType: 'Explore',
      agentDescription: 'Map the repo',
      agentPath: 'main/aaa111',
    };
    // progress echo (output 10) and the sub-agent's own copy (output 40): one call, the larger usage,
    // the sub-agent's attribution
    expect(get('cc:msg_a1|req_a1').usage).toEqual(u({ inputTokens: 200, outputTokens: 40 }));
    expect(get('cc:msg_a1|req_a1').attribution).toEqual(explore);
    expect(get('cc:msg_a2|req_a2').attribution).toEqual(explore);
    // the nested sub-agent, spawned by aaa111
    expect(get('cc:msg_b1|req_b1').attribution).toEqual({
      project: P,
      session: S,
      agentId: 'bbb222',
      agentName: 'Plan',
      agentType: 'Plan',
      agentDescription: 'Draft the plan',
      agentPath: 'main/aaa111/bbb222',
    });
    expect(get('cc:msg_main1|req_main1').attribution).toEqual({
      project: P,
      session: S,
      agentPath: 'main',
      agentName: 'main',
    });
    // main1: 1,000 input, 2,000 writes split 500 5m + 1,500 1h, 3,000 reads, 100 output
    expect(get('cc:msg_main1|req_main1').usage).toEqual(
      u({
        inputTokens: 1000,
        cacheWrite5mTokens: 500,
        cacheWrite1hTokens: 1500,
        cacheReadTokens: 3000,
        outputTokens: 100,
      }),
    );
    // costs (sonnet-4-5 $3/$15/$0.30/$3.75/$6, haiku-4-5 $1/$5):
    // main1 1,000×3 + 100×15 + 3,000×0.3 + 500×3.75 + 1,500×6 = 3,000 + 1,500 + 900 + 1,875 + 9,000 = 16,275 µ$
    // main2 50×3 + 20×15 + 6,000×0.3 = 150 + 300 + 1,800 = 2,250 µ$
    // a1 200×1 + 40×5 = 400 µ$ ; a2 300×1 + 30×5 = 450 µ$ ; b1 400×3 + 60×15 + 1,000×0.3 = 2,400 µ$
    expect(events.map((e) => e.cost.nanoUsd)).toEqual([400_000, 450_000, 2_400_000, 16_275_000, 2_250_000]);
    expect(sumNano(events)).toBe(21_775_000);

    const tree = buildDelegationTree(events);
    expect(tree.own.costNano).toBe(18_525_000); // 16,275 + 2,250 µ$
    expect(tree.subtree.costNano).toBe(21_775_000);
    const a = tree.children.find((c) => c.id === 'aaa111')!;
    expect(a.name).toBe('Explore');
    expect(a.own.costNano).toBe(850_000); // 400 + 450 µ$
    expect(a.subtree.costNano).toBe(3_250_000); // + 2,400 µ$
    expect(a.children.map((c) => [c.path, c.name, c.own.costNano])).toEqual([
      ['main/aaa111/bbb222', 'Plan', 2_400_000],
    ]);
  }

  it('newer layout with meta.json: types, descriptions and the nested path main/a/b', () => {
    const input = load([NESTED]);
    expect(input.metas).toHaveLength(2);
    for (const order of ['forward', 'reverse'] as const) {
      const { events, get } = merge(input, order);
      checkNested(events, get);
    }
  });

  it('newer layout without meta.json: the same, from the Agent spawns and toolUseResult.agentId links', () => {
    // Copy only the transcripts (as Claude Code versions that write no meta.json leave them).
    const root = join(dir, 'nested-no-meta');
    const src = join(NESTED, 'projects', P);
    const copy = (rel: string) => {
      mkdirSync(dirname(join(root, 'projects', P, rel)), { recursive: true });
      copyFileSync(join(src, rel), join(root, 'projects', P, rel));
    };
    copy(`${S}.jsonl`);
    for (const f of readdirSync(join(src, S, 'subagents')).filter((x) => x.endsWith('.jsonl')))
      copy(join(S, 'subagents', f));
    const input = load([root]);
    expect(input.metas).toEqual([]);
    expect(input.scans).toHaveLength(3);
    const { events, get } = merge(input);
    checkNested(events, get);
  });

  it('a meta.json alone names the sub-agent even when its spawn is not in the data', () => {
    const input = load([NESTED]);
    const only = {
      scans: input.scans.filter((s) => s.scan.file.endsWith('agent-bbb222.jsonl')),
      metas: input.metas,
    };
    const { events } = merge(only);
    expect(events).toHaveLength(1);
    expect(events[0]!.attribution).toEqual({
      project: P,
      session: S,
      agentId: 'bbb222',
      agentName: 'Plan',
      agentType: 'Plan',
      agentDescription: 'Draft the plan',
      agentPath: 'main/bbb222',
    });
  });

  it('links a progress-only sub-agent call to its spawn through parentToolUseID and the tool_result', () => {
    const f = tmpFile([
      spawnCall(
        { id: 'mm', req: 'rm', ts: '2026-02-01T10:00:00.000Z', input: 1, output: 1 },
        'toolu_P',
        'Explore',
        'Look around',
      ),
      progress(
        {
          id: 'mp',
          req: 'rp',
          ts: '2026-02-01T10:00:01.000Z',
          model: 'claude-haiku-4-5',
          input: 4,
          output: 2,
        },
        {
          parentToolUseID: 'toolu_P',
        },
      ),
      toolResult('toolu_P', 'ppp', '2026-02-01T10:00:05.000Z'),
    ]);
    const { events, get } = merge(loadFiles([{ file: f, project: 'proj' }]));
    expect(events).toHaveLength(2);
    expect(get('cc:mp|rp').attribution).toEqual({
      project: 'proj',
      session: 'sess-1',
      agentId: 'ppp',
      agentName: 'Explore',
      agentType: 'Explore',
      agentDescription: 'Look around',
      agentPath: 'main/ppp',
    });
    // haiku-4-5: 4×$1 + 2×$5 = 14 µ$
    expect(get('cc:mp|rp').cost.nanoUsd).toBe(14_000);
  });

  it('a progress copy that names its agentId is attributed to it', () => {
    const f = tmpFile([
      progress(
        { id: 'mq', req: 'rq', ts: '2026-02-01T10:00:01.000Z', input: 4, output: 2 },
        { agentId: 'qqq' },
      ),
    ]);
    const { events } = merge(loadFiles([{ file: f }]));
    expect(events[0]!.attribution).toMatchObject({
      agentId: 'qqq',
      agentName: 'subagent',
      agentPath: 'main/qqq',
    });
  });

  it('older inline layout: each of two sequential Task sub-agents gets its own calls', () => {
    const { events, get } = merge(
      loadFiles([{ file: fx('extra/inline-two-sidechains.jsonl'), project: 'legacy' }]),
    );
    expect(events).toHaveLength(7);
    const agentOf = (id: string) => {
      const a = get(id).attribution;
      return [a.agentId, a.agentName, a.agentPath];
    };
    expect(agentOf('cc:msg_m1|req_m1')).toEqual([undefined, 'main', 'main']);
    expect(agentOf('cc:msg_x1|req_x1')).toEqual(['xxxx1111', 'Explore', 'main/xxxx1111']);
    expect(agentOf('cc:msg_x2|req_x2')).toEqual(['xxxx1111', 'Explore', 'main/xxxx1111']);
    expect(agentOf('cc:msg_y2|req_y2')).toEqual(['yyyy2222', 'Plan', 'main/yyyy2222']);
    // the second sub-agent's FIRST call: its chain (parentUuid null → y10 with agentId yyyy2222) names it
    expect(agentOf('cc:msg_y1|req_y1')).toEqual(['yyyy2222', 'Plan', 'main/yyyy2222']);
    // sonnet-4-5 $3/$15: main 780 + 960 + 1,140 = 2,880 µ$ ; x 450 + 900 = 1,350 µ$ ; y 1,350 + 1,800 = 3,150 µ$
    expect(sumNano(events)).toBe(7_380_000);
    const tree = buildDelegationTree(events);
    expect(tree.children.map((c) => [c.id, c.own.costNano])).toEqual([
      ['yyyy2222', 3_150_000],
      ['xxxx1111', 1_350_000],
    ]);
  });
});

describe('ClaudeMerge bookkeeping', () => {
  it('prices unknown models as unpriced (null), never $0', () => {
    const f = tmpFile([
      assistant({
        id: 'z',
        req: 'r',
        ts: '2026-02-01T10:00:00.000Z',
        model: 'claude-nonexistent-9',
        input: 5,
      }),
    ]);
    const { events } = merge(loadFiles([{ file: f }]));
    expect(events[0]!.cost.nanoUsd).toBeNull();
    expect(events[0]!.model).toBe('claude-nonexistent-9');
  });

  it('clearCalls forgets calls but keeps the links, so a later batch is still attributed', () => {
    const input = load([fx('05-claude-code-log-subagents')]);
    // (the fixture's folder name itself contains "subagents": look at path segments)
    const inSubagents = (f: string) => f.split(sep).includes('subagents');
    const main = input.scans.find((s) => !inSubagents(s.scan.file))!;
    const sub = input.scans.find((s) => inSubagents(s.scan.file))!;
    const m = new ClaudeMerge();
    m.addScan(main.scan, main.project);
    expect(m.size).toBe(5);
    m.clearCalls();
    expect(m.size).toBe(0);
    expect([...m.events(book)]).toEqual([]);
    m.addScan(sub.scan, sub.project);
    const [e] = [...m.events(book)];
    expect(e?.attribution).toMatchObject({ agentName: 'general-purpose', agentPath: 'main/showcol1' });
  });

  it('storedEvents reports where the attribution came from', () => {
    const input = load([fx('03-ccusage-agent-progress')]);
    const m = new ClaudeMerge();
    for (const s of [...input.scans].reverse()) m.addScan(s.scan, s.project);
    const stored = [...m.storedEvents(book)].find((x) => x.event.id === 'cc:msg_haiku|req_haiku')!;
    // the sub-agent's own file (rank 0) beats the parent's progress echo
    expect(stored.origin.file.endsWith(join('subagents', 'agent-a.jsonl'))).toBe(true);
    expect(stored.origin.line).toBe(1);
    expect(stored.origin.rank).toBe(0);
    expect(stored.origin.firstTs).toBe(Date.parse('2026-03-10T06:00:01.000Z'));
    // sanity: the file really is the fixture
    expect(readFileSync(stored.origin.file, 'utf8')).toContain('msg_haiku');
  });
});
