import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyUsage, totalInputTokens, type UsageBuckets } from '../core/usage.js';
import {
  type ClaudeCallCopy,
  type ClaudeFileInfo,
  type ClaudeFileScan,
  parseClaudeTranscript,
} from './claude-code.js';

const fx = (rel: string) => fileURLToPath(new URL(`../../test/fixtures/claude-code/${rel}`, import.meta.url));
const F01 = fx('01-ccusage-project-alpha-chat.jsonl');
const F02 = fx('02-ccusage-streaming-dedup-synthetic.jsonl');
const F03_MAIN = fx('03-ccusage-agent-progress/projects/project-a/session-a.jsonl');
const F03_AGENT = fx('03-ccusage-agent-progress/projects/project-a/session-a/subagents/agent-a.jsonl');
const F04 = fx('04-claude-code-log-sidechain-integrated.jsonl');
const F05_DIR =
  '05-claude-code-log-subagents/projects/-workspace-example-app/55550000-0000-4000-8000-000000000001';
const F05_MAIN = fx(`${F05_DIR}.jsonl`);
const F05_AGENT = fx(`${F05_DIR}/subagents/agent-showcol1.jsonl`);

const dir = mkdtempSync(join(tmpdir(), 'tl-claude-code-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function tmpFile(content: string | Buffer, name = `t${++n}.jsonl`): string {
  const f = join(dir, name);
  writeFileSync(f, content);
  return f;
}

const u = (p: Partial<UsageBuckets>): UsageBuckets => ({ ...emptyUsage(), ...p });

/** Usage of each distinct call in a scan: the largest copy (output, then input), as the merge keeps. */
function callsOf(scan: ClaudeFileScan): Map<string, { usage: UsageBuckets; copy: ClaudeCallCopy }> {
  const out = new Map<string, { usage: UsageBuckets; copy: ClaudeCallCopy }>();
  for (const c of scan.calls) {
    const prev = out.get(c.key);
    const larger =
      !prev ||
      c.usage.outputTokens > prev.usage.outputTokens ||
      (c.usage.outputTokens === prev.usage.outputTokens &&
        totalInputTokens(c.usage) > totalInputTokens(prev.usage));
    if (!prev) out.set(c.key, { usage: c.usage, copy: c });
    else if (larger) prev.usage = c.usage;
  }
  return out;
}

function parse(
  file: string,
  extra: Omit<ClaudeFileInfo, 'file'> = {},
  from?: { offset: number; lines: number },
) {
  return parseClaudeTranscript({ file, ...extra }, from);
}

// ── Line builders in the real transcript shape ───────────────────────────────────────────────────────
interface UsageSpec {
  input?: number;
  output?: number;
  read?: number;
  write?: number;
  split?: { m5?: number; h1?: number };
  speed?: string;
  web?: number;
}
function usageJson(s: UsageSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {
    input_tokens: s.input ?? 0,
    cache_creation_input_tokens: s.write ?? 0,
    cache_read_input_tokens: s.read ?? 0,
  };
  if (s.split) {
    const c: Record<string, number> = {};
    if (s.split.m5 !== undefined) c.ephemeral_5m_input_tokens = s.split.m5;
    if (s.split.h1 !== undefined) c.ephemeral_1h_input_tokens = s.split.h1;
    o.cache_creation = c;
  }
  o.output_tokens = s.output ?? 0;
  o.service_tier = 'standard';
  if (s.web !== undefined) o.server_tool_use = { web_search_requests: s.web, web_fetch_requests: 0 };
  if (s.speed) o.speed = s.speed;
  return o;
}
interface CallSpec extends UsageSpec {
  id?: string;
  req?: string;
  model?: string;
  ts?: string;
  session?: string;
  side?: boolean;
  agentId?: string;
  content?: unknown[];
  version?: string;
}
function assistant(c: CallSpec): string {
  const rec: Record<string, unknown> = {
    parentUuid: null,
    isSidechain: c.side ?? false,
    userType: 'external',
    cwd: '/home/dev/app',
    sessionId: c.session ?? 'sess-1',
    version: c.version ?? '2.1.30',
    gitBranch: 'main',
  };
  if (c.agentId) rec.agentId = c.agentId;
  const message: Record<string, unknown> = {
    type: 'message',
    role: 'assistant',
    model: c.model ?? 'claude-sonnet-4-5-20250929',
    content: c.content ?? [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: usageJson(c),
  };
  if (c.id !== undefined) message.id = c.id;
  rec.message = message;
  if (c.req) rec.requestId = c.req;
  rec.type = 'assistant';
  rec.uuid = `uuid-${c.id ?? 'none'}`;
  rec.timestamp = c.ts ?? '2026-02-01T10:00:00.000Z';
  return JSON.stringify(rec);
}
const body = (lines: (string | Buffer)[]) =>
  Buffer.concat(
    lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')])),
  );

// ── The copied real-format fixtures ──────────────────────────────────────────────────────────────────
describe('parseClaudeTranscript on the shared fixtures', () => {
  it('01 (ccusage chat): three calls with their exact buckets, one fast', () => {
    const scan = parse(F01);
    expect(scan.problems).toEqual([]);
    expect(scan.synthetic).toBe(0);
    const calls = callsOf(scan);
    expect([...calls.keys()].sort()).toEqual([
      'msg-alpha-1|req-alpha-1',
      'msg-alpha-2|req-alpha-2',
      'msg-alpha-3|req-alpha-3',
    ]);
    // input_tokens is uncached only; cache_creation (no split) → 5m writes
    expect(calls.get('msg-alpha-1|req-alpha-1')?.usage).toEqual(
      u({ inputTokens: 100, outputTokens: 50, cacheWrite5mTokens: 25, cacheReadTokens: 10 }),
    );
    expect(calls.get('msg-alpha-2|req-alpha-2')?.usage).toEqual(
      u({ inputTokens: 200, outputTokens: 75, cacheWrite5mTokens: 50, cacheReadTokens: 20 }),
    );
    expect(calls.get('msg-alpha-3|req-alpha-3')?.usage).toEqual(
      u({ inputTokens: 300, outputTokens: 125, cacheReadTokens: 40 }),
    );
    const fast = calls.get('msg-alpha-2|req-alpha-2')!.copy;
    expect(fast.speed).toBe('fast');
    expect(fast.model).toBe('claude-opus-4-20250514');
    expect(calls.get('msg-alpha-1|req-alpha-1')!.copy.speed).toBeUndefined();
    for (const { copy } of calls.values()) {
      expect(copy.session).toBe('session-alpha');
      expect(copy.sidechain).toBe(false);
      expect(copy.viaProgress).toBe(false);
    }
    expect(scan.firstTs).toBe(Date.parse('2026-01-09T10:00:00.000Z'));
    expect(scan.lines).toBe(3);
    expect(scan.endOffset).toBe(statSync(F01).size);
    expect(scan.bytesRead).toBe(statSync(F01).size);
  });

  it('02 (streaming + synthetic): not-semver reported, one call with the larger snapshot, synthetic skipped', () => {
    const scan = parse(F02);
    expect(scan.problems).toHaveLength(1);
    expect(scan.problems[0]!.line).toBe(1);
    expect(scan.problems[0]!.file).toBe(F02);
    expect(scan.problems[0]!.reason).toContain('not-semver');
    expect(scan.synthetic).toBe(1);
    const calls = callsOf(scan);
    expect([...calls.keys()]).toEqual(['msg_123|req_456']);
    // lines 2–3: output 25 → 250; input 100, cache write 10, cache read 5
    expect(calls.get('msg_123|req_456')!.usage).toEqual(
      u({ inputTokens: 100, outputTokens: 250, cacheWrite5mTokens: 10, cacheReadTokens: 5 }),
    );
    // speed "standard" is not a premium mode
    expect(calls.get('msg_123|req_456')!.copy.speed).toBeUndefined();
    // the rejected line 1 (09:59) does not count toward the file's start
    expect(scan.firstTs).toBe(Date.parse('2025-01-10T10:00:00.000Z'));
  });

  it('03 (agent progress): the parent holds its own calls and a progress copy of the sub-agent call', () => {
    const scan = parse(F03_MAIN, { project: 'project-a', session: 'session-a' });
    expect(scan.problems).toEqual([]);
    const calls = callsOf(scan);
    expect([...calls.keys()].sort()).toEqual([
      'msg_fast|req_fast',
      'msg_haiku|req_haiku',
      'msg_opus|req_opus',
    ]);
    const haiku = calls.get('msg_haiku|req_haiku')!;
    expect(haiku.copy.viaProgress).toBe(true);
    expect(haiku.copy.sidechain).toBe(true);
    expect(haiku.copy.model).toBe('claude-haiku-4-5-20251001');
    // the inner record's timestamp, not the progress line's (…01.001Z)
    expect(haiku.copy.ts).toBe(Date.parse('2026-03-10T06:00:01.000Z'));
    expect(haiku.usage).toEqual(u({ inputTokens: 20, outputTokens: 2 }));
    expect(calls.get('msg_fast|req_fast')!.copy.speed).toBe('fast');
    expect(calls.get('msg_fast|req_fast')!.usage).toEqual(u({ inputTokens: 10, outputTokens: 1 }));
    expect(calls.get('msg_opus|req_opus')!.usage).toEqual(u({ inputTokens: 30, outputTokens: 3 }));
    expect(calls.get('msg_opus|req_opus')!.copy.sidechain).toBe(false);

    const sub = parse(F03_AGENT, { project: 'project-a', session: 'session-a', agentId: 'a' });
    const subCalls = callsOf(sub);
    expect([...subCalls.keys()]).toEqual(['msg_haiku|req_haiku']);
    const c = subCalls.get('msg_haiku|req_haiku')!.copy;
    expect(c.agentId).toBe('a');
    expect(c.sidechain).toBe(true);
    expect(c.viaProgress).toBe(false);
    expect(subCalls.get('msg_haiku|req_haiku')!.usage).toEqual(u({ inputTokens: 20, outputTokens: 2 }));
  });

  it('04 (inline sidechain): Task spawn, agentId from user records, content-block split counted once', () => {
    const scan = parse(F04);
    expect(scan.problems).toEqual([]);
    expect(scan.spawns).toEqual([
      {
        toolUseId: 'toolu_01JA2mLseQCAW3MdwPE4qWEk',
        session: '88a8d761-7b9a-4bf1-a8ca-c1febe6bf358',
        agentType: 'general-purpose',
        description: 'Research data-border-color usage and CSS class mat...',
      },
    ]);
    // line 2 (main chain) holds the Task's tool_result; agentId sits on the record itself
    expect(scan.results).toEqual([{ toolUseId: 'toolu_01JA2mLseQCAW3MdwPE4qWEk', agentId: 'e1c84ba5' }]);
    const calls = callsOf(scan);
    expect([...calls.keys()].sort()).toEqual([
      'msg_011b5A5rZCXR7eBYR4VbohVZ|req_011CVJ5Au8m6JgC6Ly7SbVPv',
      'msg_017zj75dqWUNqVxCUrhqbTkf|req_011CVJ51ytkcBEjrQhRNswqR',
      'msg_01H4wg8bFy2psdmQvJMU6kpD|req_011CVJ517iGrQqjVFtrWsUgP',
    ]);
    // line 1: 3 input, 141,272 cache writes, 365 output
    const first = calls.get('msg_01H4wg8bFy2psdmQvJMU6kpD|req_011CVJ517iGrQqjVFtrWsUgP')!;
    expect(first.usage).toEqual(u({ inputTokens: 3, cacheWrite5mTokens: 141_272, outputTokens: 365 }));
    expect(first.copy.sidechain).toBe(false);
    expect(first.copy.session).toBe('88a8d761-7b9a-4bf1-a8ca-c1febe6bf358');
    // lines 3–4: one call in two content-block lines, identical usage; agentId from line 5
    const side = calls.get('msg_017zj75dqWUNqVxCUrhqbTkf|req_011CVJ51ytkcBEjrQhRNswqR')!;
    expect(side.usage).toEqual(u({ inputTokens: 3, cacheWrite5mTokens: 19_830, outputTokens: 183 }));
    expect(side.copy.sidechain).toBe(true);
    const sideCopies = scan.calls.filter((c) => c.key === side.copy.key);
    for (const c of sideCopies) expect(c.agentId).toBe('e1c84ba5');
    // line 6: 3 input, 2,952 writes, 141,272 reads, 190 output
    expect(calls.get('msg_011b5A5rZCXR7eBYR4VbohVZ|req_011CVJ5Au8m6JgC6Ly7SbVPv')!.usage).toEqual(
      u({ inputTokens: 3, cacheWrite5mTokens: 2952, cacheReadTokens: 141_272, outputTokens: 190 }),
    );
    // server_tool_use is null in this file: no web searches
    for (const { usage } of calls.values()) expect(usage.webSearchRequests).toBe(0);
  });

  it('05 (subagents layout): five main calls keyed on message.id, two Agent spawns and their agentIds', () => {
    const scan = parse(F05_MAIN, {
      project: '-workspace-example-app',
      session: '55550000-0000-4000-8000-000000000001',
    });
    expect(scan.problems).toEqual([]);
    const calls = callsOf(scan);
    // no requestId in this file: the key is message.id alone
    expect([...calls.keys()].sort()).toEqual([
      'msg_sc-a1',
      'msg_sc-a2',
      'msg_sc-a3',
      'msg_sc-a4',
      'msg_sc-a5',
    ]);
    for (const { usage, copy } of calls.values()) {
      expect(usage).toEqual(u({ inputTokens: 120, outputTokens: 40 }));
      expect(copy.sidechain).toBe(false);
    }
    expect(scan.spawns.map((s) => [s.toolUseId, s.agentType, s.description, s.spawnerAgentId])).toEqual([
      ['toolu_sc_showcol1', 'general-purpose', 'Survey the web module', undefined],
      ['toolu_sc_showcol2', 'general-purpose', 'Survey the jobs module', undefined],
    ]);
    expect(scan.results).toEqual([
      { toolUseId: 'toolu_sc_showcol1', agentId: 'showcol1' },
      { toolUseId: 'toolu_sc_showcol2', agentId: 'showcol2' },
    ]);
    // mcp__… and ScheduleWakeup tool_use blocks are not spawns (checked above: only the two Agent blocks)

    const sub = parse(F05_AGENT, {
      project: '-workspace-example-app',
      session: '55550000-0000-4000-8000-000000000001',
      agentId: 'showcol1',
    });
    const subCalls = callsOf(sub);
    expect([...subCalls.keys()]).toEqual(['msg_showcol1-a1']);
    expect(subCalls.get('msg_showcol1-a1')!.copy.agentId).toBe('showcol1');
    expect(subCalls.get('msg_showcol1-a1')!.usage).toEqual(u({ inputTokens: 120, outputTokens: 40 }));
  });

  it('reads a CRLF copy of fixture 01 exactly like the original', () => {
    const crlf = tmpFile(readFileSync(F01, 'utf8').replace(/\n/g, '\r\n'));
    const a = callsOf(parse(F01));
    const b = callsOf(parse(crlf));
    expect(parse(crlf).problems).toEqual([]);
    expect([...b.entries()].map(([k, v]) => [k, v.usage, v.copy.line, v.copy.speed])).toEqual(
      [...a.entries()].map(([k, v]) => [k, v.usage, v.copy.line, v.copy.speed]),
    );
  });
});

// ── Usage conversion ─────────────────────────────────────────────────────────────────────────────────
describe('usage buckets from Anthropic usage', () => {
  function one(spec: UsageSpec) {
    const scan = parse(tmpFile(body([assistant({ id: 'm', req: 'r', ...spec })])));
    expect(scan.problems).toEqual([]);
    return callsOf(scan).get('m|r')!.usage;
  }

  it('splits cache writes into 5m and 1h', () => {
    // 1,000 writes: 400 5m + 600 1h
    expect(one({ write: 1000, split: { m5: 400, h1: 600 } })).toEqual(
      u({ cacheWrite5mTokens: 400, cacheWrite1hTokens: 600 }),
    );
    // split with only the 5m part given: all 5m
    expect(one({ write: 1000, split: { m5: 1000 } })).toEqual(u({ cacheWrite5mTokens: 1000 }));
    // split says all 1h
    expect(one({ write: 1000, split: { m5: 0, h1: 1000 } })).toEqual(u({ cacheWrite1hTokens: 1000 }));
    // no split: all 5m
    expect(one({ write: 1000 })).toEqual(u({ cacheWrite5mTokens: 1000 }));
  });

  it('clamps a split whose parts exceed the total to the total', () => {
    // total 100 but 5m 80 + 1h 50 = 130: the billed total stays 100, 1h gets its 50, 5m the rest
    const a = one({ write: 100, split: { m5: 80, h1: 50 } });
    expect(a).toEqual(u({ cacheWrite5mTokens: 50, cacheWrite1hTokens: 50 }));
    // 1h alone above the total: all 100 are 1h
    const b = one({ write: 100, split: { m5: 0, h1: 150 } });
    expect(b).toEqual(u({ cacheWrite5mTokens: 0, cacheWrite1hTokens: 100 }));
    expect(b.cacheWrite5mTokens + b.cacheWrite1hTokens).toBe(100);
  });

  it('keeps input uncached and counts web searches', () => {
    expect(one({ input: 7, read: 9000, write: 300, output: 11, web: 3 })).toEqual(
      u({
        inputTokens: 7,
        cacheReadTokens: 9000,
        cacheWrite5mTokens: 300,
        outputTokens: 11,
        webSearchRequests: 3,
      }),
    );
  });

  it('rejects token counts that are not non-negative integers, with the line', () => {
    const f = tmpFile(
      body([
        assistant({ id: 'ok', req: 'r', output: 1 }),
        assistant({ id: 'neg', req: 'r', output: -1 }),
        assistant({ id: 'frac', req: 'r', input: 1.5 }),
        assistant({ id: 'str', req: 'r', read: '12' as unknown as number }),
      ]),
    );
    const scan = parse(f);
    expect([...callsOf(scan).keys()]).toEqual(['ok|r']);
    expect(scan.problems.map((p) => p.line)).toEqual([2, 3, 4]);
    for (const p of scan.problems) expect(p.reason).toMatch(/non-negative integer/);
  });

  it('reports an assistant record without a valid timestamp', () => {
    const noTs = JSON.parse(assistant({ id: 'x', req: 'r', output: 1 })) as Record<string, unknown>;
    delete noTs.timestamp;
    const badTs = JSON.parse(assistant({ id: 'y', req: 'r', output: 1, ts: 'yesterday' })) as Record<
      string,
      unknown
    >;
    const scan = parse(tmpFile(body([JSON.stringify(noTs), JSON.stringify(badTs)])));
    expect(scan.calls).toEqual([]);
    expect(scan.problems.map((p) => p.line)).toEqual([1, 2]);
    for (const p of scan.problems) expect(p.reason).toMatch(/timestamp/);
  });
});

// ── Keys, versions, synthetic, speed ─────────────────────────────────────────────────────────────────
describe('call identity and skipped records', () => {
  it('keys on message.id|requestId, or message.id alone, or the line when there is no message.id', () => {
    const f = tmpFile(
      body([
        assistant({ id: 'm1', req: 'r1', output: 1 }),
        assistant({ id: 'm2', output: 2 }),
        assistant({ output: 3 }),
        assistant({ output: 4 }),
      ]),
    );
    const scan = parse(f);
    expect(scan.problems).toEqual([]);
    // two lines without message.id are two calls (nothing to match them on)
    expect([...callsOf(scan).keys()]).toEqual(['m1|r1', 'm2', `${f}#3`, `${f}#4`]);
  });

  it('content-block lines of one call (same message.id + requestId) give one call', () => {
    const f = tmpFile(
      body([
        assistant({
          id: 'm',
          req: 'r',
          input: 5,
          output: 9,
          content: [{ type: 'thinking', thinking: 'hmm' }],
        }),
        assistant({ id: 'm', req: 'r', input: 5, output: 9, content: [{ type: 'text', text: 'answer' }] }),
        assistant({
          id: 'm',
          req: 'r',
          input: 5,
          output: 9,
          content: [{ type: 'tool_use', id: 'toolu_1', name: 'Read', input: {} }],
        }),
      ]),
    );
    const calls = callsOf(parse(f));
    expect(calls.size).toBe(1);
    expect(calls.get('m|r')!.usage).toEqual(u({ inputTokens: 5, outputTokens: 9 }));
    expect(calls.get('m|r')!.copy.line).toBe(1);
  });

  it('rejects records whose version is not semver, and accepts pre-release versions', () => {
    const f = tmpFile(
      body([
        assistant({ id: 'a', req: 'r', output: 1, version: 'not-semver' }),
        assistant({ id: 'b', req: 'r', output: 1, version: '2.1.0-beta.1' }),
        assistant({ id: 'c', req: 'r', output: 1, version: '2.1' }),
      ]),
    );
    const scan = parse(f);
    expect([...callsOf(scan).keys()]).toEqual(['b|r']);
    expect(scan.problems.map((p) => [p.line, p.reason.includes('invalid version')])).toEqual([
      [1, true],
      [3, true],
    ]);
  });

  it('does not count <synthetic> messages, in assistant or progress records', () => {
    const progress = JSON.stringify({
      type: 'progress',
      sessionId: 'sess-1',
      version: '2.1.30',
      timestamp: '2026-02-01T10:00:00.000Z',
      data: {
        message: {
          type: 'assistant',
          timestamp: '2026-02-01T10:00:00.000Z',
          message: { id: 's2', model: '<synthetic>', content: [], usage: usageJson({ input: 1, output: 1 }) },
          requestId: 'r',
        },
      },
    });
    const scan = parse(
      tmpFile(body([assistant({ id: 's1', req: 'r', model: '<synthetic>', output: 3 }), progress])),
    );
    expect(scan.calls).toEqual([]);
    expect(scan.synthetic).toBe(2);
    expect(scan.problems).toEqual([]);
  });

  it('marks fast calls', () => {
    const scan = parse(
      tmpFile(
        body([
          assistant({ id: 'f', req: 'r', speed: 'fast', output: 1 }),
          assistant({ id: 's', req: 'r', output: 1 }),
        ]),
      ),
    );
    const calls = callsOf(scan);
    expect(calls.get('f|r')!.copy.speed).toBe('fast');
    expect(calls.get('s|r')!.copy.speed).toBeUndefined();
  });

  it('counts a call whose content text mentions "stop_reason" and whose tool input has that key', () => {
    // The parser cuts the content array out before parsing; tricky content must not change the usage.
    const tricky = [
      { type: 'text', text: 'a "quoted" ,"stop_reason":"fake" and a \\ backslash, content":[ too' },
      {
        type: 'tool_use',
        id: 'toolu_x',
        name: 'Edit',
        input: { a: 1, stop_reason: 'end_turn', usage: { output_tokens: 999 } },
      },
      { type: 'text', text: '🎉 ünïcödé' },
    ];
    const scan = parse(
      tmpFile(body([assistant({ id: 'm', req: 'r', input: 12, output: 34, read: 56, content: tricky })])),
    );
    expect(scan.problems).toEqual([]);
    expect(callsOf(scan).get('m|r')!.usage).toEqual(
      u({ inputTokens: 12, outputTokens: 34, cacheReadTokens: 56 }),
    );
  });

  it('counts a call whose message has stop_reason before content (other key order)', () => {
    const rec = {
      type: 'assistant',
      timestamp: '2026-02-01T10:00:00.000Z',
      sessionId: 's',
      requestId: 'r',
      message: {
        id: 'm',
        model: 'claude-sonnet-4-5',
        stop_reason: 'end_turn',
        usage: usageJson({ input: 1, output: 2 }),
        content: [{ type: 'text', text: 'x' }],
      },
    };
    const scan = parse(tmpFile(body([JSON.stringify(rec)])));
    expect(callsOf(scan).get('m|r')!.usage).toEqual(u({ inputTokens: 1, outputTokens: 2 }));
  });

  it('records a Task spawn without subagent_type (older versions) whatever the key order', () => {
    // Before custom sub-agents, Task's input was just {description, prompt}. The same record written
    // with content before stop_reason (Claude Code's order) or after it must give the same spawn.
    const task = (toolUseId: string) => [
      { type: 'tool_use', id: toolUseId, name: 'Task', input: { description: 'Old style', prompt: 'do it' } },
    ];
    const rec = (id: string, contentFirst: boolean) => {
      const usage = usageJson({ input: 1, output: 2 });
      const message = contentFirst
        ? {
            id,
            model: 'claude-sonnet-4-20250514',
            content: task(`toolu_${id}`),
            stop_reason: 'tool_use',
            usage,
          }
        : {
            id,
            model: 'claude-sonnet-4-20250514',
            stop_reason: 'tool_use',
            content: task(`toolu_${id}`),
            usage,
          };
      return JSON.stringify({
        type: 'assistant',
        timestamp: '2025-06-01T10:00:00.000Z',
        sessionId: 's',
        version: '1.0.30',
        message,
        requestId: `r_${id}`,
      });
    };
    const scan = parse(tmpFile(body([rec('a', true), rec('b', false)])));
    expect(scan.problems).toEqual([]);
    expect(scan.spawns).toEqual([
      { toolUseId: 'toolu_a', session: 's', description: 'Old style' },
      { toolUseId: 'toolu_b', session: 's', description: 'Old style' },
    ]);
  });

  it('finds a spawn whatever the spacing around its name, and only a tool named exactly Task or Agent', () => {
    // The content cut keeps a content array whose `"name"` key is followed by "Task" or "Agent";
    // "name" as a value, inside a text, or a longer tool name must not be taken for one.
    const line = (id: string, content: string) =>
      `{"type":"assistant","timestamp":"2025-06-01T10:00:00.000Z","sessionId":"s","version":"1.0.30","message":{"id":"${id}","model":"claude-sonnet-4-5","content":[${content}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}},"requestId":"r_${id}"}`;
    const spawn = (id: string, name: string, gap: string) =>
      `{"type":"tool_use","id":"toolu_${id}","name"${gap}:${gap}"${name}","input":{"description":"d ${id}"}}`;
    const scan = parse(
      tmpFile(
        body([
          line('a', spawn('a', 'Task', '')),
          line('b', spawn('b', 'Agent', ' \t')),
          line('c', `{"type":"text","text":"the \\"name\\":\\"Task\\" key"},{"type":"text","text":"name"}`),
          line('d', spawn('d', 'Taskmaster', ' ')),
          line('e', `{"type":"tool_use","id":"toolu_e","name":"Read","input":{"name":"Task"}}`),
        ]),
      ),
    );
    expect(scan.problems).toEqual([]);
    expect(scan.calls).toHaveLength(5);
    expect(scan.spawns.map((s) => [s.toolUseId, s.description])).toEqual([
      ['toolu_a', 'd a'],
      ['toolu_b', 'd b'],
    ]);
  });
});

// ── Broken and partial files ─────────────────────────────────────────────────────────────────────────
describe('broken, partial and empty files', () => {
  it('reports a file that cannot be read (deleted since it was found) as its problem, without throwing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenledger-gone-'));
    const gone = join(dir, 'deleted.jsonl');
    try {
      const scan = parseClaudeTranscript({ file: gone, project: 'p', session: 'deleted' });
      expect(scan.unreadable).toBe(true);
      expect(scan.calls).toEqual([]);
      expect(scan.problems).toEqual([
        { file: gone, line: 0, reason: expect.stringMatching(/^cannot read: ENOENT/) },
      ]);
      // An incremental read keeps its place: nothing was read.
      const later = parseClaudeTranscript({ file: gone }, { offset: 120, lines: 3 });
      expect([later.endOffset, later.lines, later.bytesRead]).toEqual([120, 3, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports garbage lines with their line numbers while the valid lines around them count', () => {
    const lines: (string | Buffer)[] = [
      assistant({ id: 'v1', req: 'r', input: 1, output: 10 }), // 1
      Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x80, 0x22, 0x01]), // 2: binary, not {…}
      assistant({ id: 'v2', req: 'r', input: 2, output: 20 }), // 3
      Buffer.concat([
        Buffer.from('{\xff'),
        Buffer.from('output_tokens" \x00 '),
        Buffer.from([0xc3, 0x28, 0x7d]),
      ]), // 4: {…} with the usage key: decoded, fails
      Buffer.from([0x7b, 0x93, 0x00, 0x0d, 0xee, 0x7d]), // 5: {…}-shaped binary, no pattern: never decoded, not a problem
      '{"type":"assistant","message":{"id":"cut","usage":{"output_tokens":', // 6: crash mid-write, then the writer went on
      assistant({ id: 'v3', req: 'r', input: 3, output: 30 }), // 7
      Buffer.from([0xef, 0xbb, 0xbf, 0x20, 0x09]), // 8: stray bytes
    ];
    const scan = parse(tmpFile(body(lines)));
    expect(scan.problems.map((p) => p.line)).toEqual([2, 4, 6, 8]);
    expect(scan.problems[1]!.reason).toMatch(/malformed JSON/);
    const calls = callsOf(scan);
    expect([...calls.keys()]).toEqual(['v1|r', 'v2|r', 'v3|r']);
    expect(calls.get('v1|r')!.usage).toEqual(u({ inputTokens: 1, outputTokens: 10 }));
    expect(calls.get('v2|r')!.usage).toEqual(u({ inputTokens: 2, outputTokens: 20 }));
    expect(calls.get('v3|r')!.usage).toEqual(u({ inputTokens: 3, outputTokens: 30 }));
    expect(calls.get('v3|r')!.copy.line).toBe(7);
    expect(scan.lines).toBe(8);
  });

  it('leaves a truncated last line alone: not a problem, not a call, not past endOffset', () => {
    const done = body([
      assistant({ id: 'a', req: 'r', output: 1 }),
      assistant({ id: 'b', req: 'r', output: 2 }),
    ]);
    const partial = assistant({ id: 'c', req: 'r', output: 3 }).slice(0, 120);
    const f = tmpFile(Buffer.concat([done, Buffer.from(partial)]));
    const scan = parse(f);
    expect(scan.problems).toEqual([]);
    expect([...callsOf(scan).keys()]).toEqual(['a|r', 'b|r']);
    expect(scan.endOffset).toBe(done.length);
    expect(scan.lines).toBe(2);

    // the writer finishes the line: reading on from endOffset counts it once, as line 3
    writeFileSync(f, Buffer.concat([done, Buffer.from(`${assistant({ id: 'c', req: 'r', output: 3 })}\n`)]));
    const more = parse(f, {}, { offset: scan.endOffset, lines: scan.lines });
    expect(more.problems).toEqual([]);
    expect(more.calls.map((c) => [c.key, c.line])).toEqual([['c|r', 3]]);
    expect(more.lines).toBe(3);
    expect(more.bytesRead).toBe(statSync(f).size - done.length);
  });

  it('counts a complete last record that lacks its newline', () => {
    const done = body([assistant({ id: 'a', req: 'r', output: 1 })]);
    const f = tmpFile(Buffer.concat([done, Buffer.from(assistant({ id: 'b', req: 'r', output: 2 }))]));
    const scan = parse(f);
    expect(scan.calls.map((c) => [c.key, c.line])).toEqual([
      ['a|r', 1],
      ['b|r', 2],
    ]);
    // not yet safe to skip: the next read starts at the unterminated line again
    expect(scan.endOffset).toBe(done.length);
  });

  it('reads a 0-byte file as empty', () => {
    const scan = parse(tmpFile(''));
    expect(scan).toMatchObject({
      calls: [],
      spawns: [],
      results: [],
      problems: [],
      synthetic: 0,
      endOffset: 0,
      lines: 0,
      bytesRead: 0,
      firstTs: Number.POSITIVE_INFINITY,
    });
  });

  it('reads incrementally from an offset with correct line numbers', () => {
    const l1 = `${assistant({ id: 'a', req: 'r', output: 1 })}\n`;
    const l2 = 'garbage\n';
    const l3 = `${assistant({ id: 'b', req: 'r', output: 2 })}\n`;
    const f = tmpFile(l1 + l2 + l3);
    const scan = parse(f, {}, { offset: Buffer.byteLength(l1), lines: 1 });
    expect(scan.problems.map((p) => p.line)).toEqual([2]);
    expect(scan.calls.map((c) => [c.key, c.line])).toEqual([['b|r', 3]]);
    expect(scan.endOffset).toBe(Buffer.byteLength(l1 + l2 + l3));
    expect(scan.lines).toBe(3);
  });
});
