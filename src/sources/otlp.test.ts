import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProvider } from '@pydantic/genai-prices';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { buildDelegationTree, type DelegationNode } from '../core/delegation.js';
import type { UsageEvent } from '../core/event.js';
import { emptyUsage, totalTokens, type UsageBuckets } from '../core/usage.js';
import { createPriceBook } from '../prices/price-book.js';
import { looksLikeOtlp, type OtlpParse, parseOtlpFile } from './otlp.js';

// Real @pydantic/genai-prices data (genai-prices@0.1.8), no overrides. $/MTok used below:
//   claude-sonnet-4-5   in 3      out 15   cache read 0.30   cache write 5m 3.75
//   claude-haiku-4-5    in 1      out 5    cache read 0.10   cache write 5m 1.25
//   gpt-4o              in 2.50   out 10   cache read 1.25
//   gpt-4o-mini         in 0.15   out 0.60 cache read 0.075
//   o4-mini             in 1.10   out 4.40 cache read 0.275
//   gemini-2.5-flash    in 0.30   out 2.50 cache read 0.03
// tokens × $/MTok = micro-dollars; × 1000 = nano-dollars.
const book = createPriceBook();

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/otlp/${name}`, import.meta.url));
const parse = (name: string): OtlpParse => parseOtlpFile(fixture(name), book);
const u = (p: Partial<UsageBuckets>): UsageBuckets => ({ ...emptyUsage(), ...p });
const byId = (r: OtlpParse, id: string): UsageEvent => {
  const e = r.events.find((x) => x.id === id);
  if (!e) throw new Error(`no event ${id} in ${r.events.map((x) => x.id).join(', ')}`);
  return e;
};

afterAll(removeTempDirs);

function writeTemp(name: string, content: string): string {
  const f = join(tempDir('tl-otlp-'), name);
  writeFileSync(f, content);
  return f;
}

function nodeAt(root: DelegationNode, path: string): DelegationNode {
  if (root.path === path) return root;
  for (const c of root.children) {
    if (path === c.path || path.startsWith(`${c.path}/`)) return nodeAt(c, path);
  }
  throw new Error(`no node ${path}`);
}

/** What a test compares of an event: everything but the cost details and ids. */
const shape = (e: UsageEvent) => ({
  ts: e.ts,
  provider: e.provider,
  model: e.model,
  usage: e.usage,
  agentPath: e.attribution.agentPath,
  agentName: e.attribution.agentName,
  agentId: e.attribution.agentId,
  session: e.attribution.session,
  status: e.attribution.status,
});

// Span builders for the small files written by single tests.
type Attr = { key: string; value: Record<string, unknown> };
const str = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const int = (key: string, v: number | string): Attr => ({ key, value: { intValue: String(v) } });
const TRACE = 'abcdefabcdefabcdefabcdefabcdef01';
function span(spanId: string, attributes: Attr[], extra: Record<string, unknown> = {}) {
  return {
    traceId: TRACE,
    spanId,
    parentSpanId: '',
    name: 'chat',
    startTimeUnixNano: '1767952800000000000',
    endTimeUnixNano: '1767952801000000000',
    attributes,
    ...extra,
  };
}
const tracesLine = (...spans: unknown[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
const chat = (input: number, output: number, more: Attr[] = []) => [
  str('gen_ai.operation.name', 'chat'),
  str('gen_ai.provider.name', 'openai'),
  str('gen_ai.request.model', 'gpt-4o'),
  int('gen_ai.usage.input_tokens', input),
  int('gen_ai.usage.output_tokens', output),
  ...more,
];

describe('looksLikeOtlp', () => {
  it('recognises traces, logs and metrics documents, also from a cut head or pretty-printed', () => {
    for (const f of ['genai-current.jsonl', 'claude-code-logs.jsonl', 'broken.jsonl']) {
      const head = readFileSync(fixture(f), 'utf8');
      expect(looksLikeOtlp(head.slice(0, 4096)), f).toBe(true);
      expect(looksLikeOtlp(head.slice(0, 20)), f).toBe(true); // `{"resourceSpans":[{"` / `{"resourceLogs":[{"r`
    }
    expect(looksLikeOtlp('{"resourceMetrics":[]}')).toBe(true);
    expect(looksLikeOtlp('\uFEFF{\n  "resourceSpans": [\n    {')).toBe(true);
    // A later top-level key counts, after a nested value that holds braces and escaped quotes.
    expect(looksLikeOtlp('{"meta":{"note":"a \\"}\\" b","x":[1,{"y":2}]},"resourceLogs":[]}')).toBe(true);
  });

  it('rejects other JSON: transcripts, nested or quoted keys, keys after the first object', () => {
    expect(looksLikeOtlp('{"type":"assistant","message":{"usage":{"input_tokens":1}}}')).toBe(false);
    expect(looksLikeOtlp('{"data":{"resourceSpans":[]}}')).toBe(false);
    expect(looksLikeOtlp('{"msg":"resourceSpans"}')).toBe(false);
    expect(looksLikeOtlp('{"msg":"\\"resourceSpans\\": []"}')).toBe(false);
    expect(looksLikeOtlp('{"a":1}\n{"resourceSpans":[]}')).toBe(false);
    expect(looksLikeOtlp('[{"resourceSpans":[]}]')).toBe(false);
    expect(looksLikeOtlp('{"resourceSpan')).toBe(false); // cut inside the key: not known yet
    expect(looksLikeOtlp('')).toBe(false);
    expect(looksLikeOtlp('resourceSpans')).toBe(false);
  });
});

describe('parseOtlpFile: GenAI spans, current semantic conventions (genai-current.jsonl)', () => {
  // One trace, written over two lines, children before parents:
  //   invoke_agent orchestrator (orch-1, conversation conv-42)
  //   ├─ chat C1 claude-sonnet-4-5   ├─ chat C5 gpt-4o (status error)
  //   └─ invoke_agent researcher (res-1)
  //      ├─ chat C2 gpt-4o           ├─ execute_tool web_search
  //      └─ invoke_agent fact-checker (fc-1)
  //         ├─ chat C3 gpt-4o-mini   └─ chat C4 claude-haiku-4-5
  const r = parse('genai-current.jsonl');
  const T = 'otlp:4bf92f3577b34da6a3ce929d0e0e4736';

  it('reads every span, counts only the five chat spans, reports nothing', () => {
    expect(r.problems).toEqual([]);
    expect(r.spans).toBe(9); // 3 invoke_agent + 5 chat + 1 execute_tool
    expect(r.skippedMetrics).toBe(0);
    // Ordered by time: C1 (+1 s), C2 (+3 s), C3 (+6 s), C4 (+7 s), C5 (+9.999999999 s).
    expect(r.events.map((e) => e.id)).toEqual([
      `${T}:c1c1c1c1c1c1c1c1`,
      `${T}:c2c2c2c2c2c2c2c2`,
      `${T}:c3c3c3c3c3c3c3c3`,
      `${T}:c4c4c4c4c4c4c4c4`,
      `${T}:c5c5c5c5c5c5c5c5`,
    ]);
    for (const e of r.events) {
      expect(e.source).toBe('otlp');
      expect(e.attribution.run).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(e.attribution.tags).toEqual({ service: 'research-bot' });
    }
  });

  it('turns each span into disjoint buckets, agent path and agent name', () => {
    const orch = { agentPath: 'main/orch-1', agentName: 'orchestrator', agentId: 'orch-1' };
    const res = { agentPath: 'main/orch-1/res-1', agentName: 'researcher', agentId: 'res-1' };
    const fc = { agentPath: 'main/orch-1/res-1/fc-1', agentName: 'fact-checker', agentId: 'fc-1' };
    // The conversation id is on the root agent span only: every call inherits it.
    const common = { session: 'conv-42', status: undefined };
    expect(r.events.map(shape)).toEqual([
      {
        // C1, Anthropic style: cache 30,000 + 2,000 = 32,000 > input 1,200 → input is exclusive.
        ts: Date.parse('2026-01-09T10:00:01Z'),
        provider: 'anthropic',
        model: 'claude-sonnet-4-5-20250929', // the response model wins over the request model
        usage: u({ inputTokens: 1200, cacheReadTokens: 30_000, cacheWrite5mTokens: 2000, outputTokens: 800 }),
        ...orch,
        ...common,
      },
      {
        // C2, OpenAI style: cache 3,000 ≤ input 5,000 → inclusive: uncached = 5,000 − 3,000 = 2,000.
        ts: Date.parse('2026-01-09T10:00:03Z'),
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        usage: u({ inputTokens: 2000, cacheReadTokens: 3000, outputTokens: 400 }),
        ...res,
        ...common,
      },
      {
        // C3: inclusive, uncached = 2,500 − 1,000 = 1,500.
        ts: Date.parse('2026-01-09T10:00:06Z'),
        provider: 'openai',
        model: 'gpt-4o-mini', // request model only
        usage: u({ inputTokens: 1500, cacheReadTokens: 1000, outputTokens: 300 }),
        ...fc,
        ...common,
      },
      {
        // C4: no cache, 0 ≤ 400 → inclusive, uncached = 400 − 0.
        ts: Date.parse('2026-01-09T10:00:07Z'),
        provider: 'anthropic',
        model: 'claude-haiku-4-5-20251001',
        usage: u({ inputTokens: 400, outputTokens: 150 }),
        ...fc,
        ...common,
      },
      {
        // C5: startTimeUnixNano "1767952809999999999" → 1767952809999 ms. As a double the nanos round
        // to 1767952810000000000, so float math would give the next millisecond.
        ts: 1_767_952_809_999,
        provider: 'openai',
        model: 'gpt-4o',
        usage: u({ inputTokens: 100, outputTokens: 20 }),
        ...orch,
        session: 'conv-42',
        status: 'error', // status.code 2
      },
    ]);
  });

  it('prices each call with the book, by hand', () => {
    const nano = (id: string) => byId(r, `${T}:${id}`).cost.nanoUsd;
    // C1 claude-sonnet-4-5: 1,200×3 + 800×15 + 30,000×0.30 + 2,000×3.75
    //   = 3,600 + 12,000 + 9,000 + 7,500 = 32,100 µ$ = $0.0321
    expect(nano('c1c1c1c1c1c1c1c1')).toBe(32_100_000);
    // C2 gpt-4o: 2,000×2.50 + 3,000×1.25 + 400×10 = 5,000 + 3,750 + 4,000 = 12,750 µ$
    expect(nano('c2c2c2c2c2c2c2c2')).toBe(12_750_000);
    // C3 gpt-4o-mini: 1,500×0.15 + 1,000×0.075 + 300×0.60 = 225 + 75 + 180 = 480 µ$
    expect(nano('c3c3c3c3c3c3c3c3')).toBe(480_000);
    // C4 claude-haiku-4-5: 400×1 + 150×5 = 400 + 750 = 1,150 µ$
    expect(nano('c4c4c4c4c4c4c4c4')).toBe(1_150_000);
    // C5 gpt-4o: 100×2.50 + 20×10 = 250 + 200 = 450 µ$
    expect(nano('c5c5c5c5c5c5c5c5')).toBe(450_000);
    for (const e of r.events) {
      expect(e.cost.priceSource).toBe('genai-prices@0.1.8');
      expect(e.cost.estimated).toBe(false);
    }
  });

  it('rolls up into a three-level delegation tree: own vs subtree', () => {
    const tree = buildDelegationTree(r.events);
    const orch = nodeAt(tree, 'main/orch-1');
    const res = nodeAt(tree, 'main/orch-1/res-1');
    const fc = nodeAt(tree, 'main/orch-1/res-1/fc-1');
    expect([orch.name, res.name, fc.name]).toEqual(['orchestrator', 'researcher', 'fact-checker']);
    expect(tree.children.map((c) => c.path)).toEqual(['main/orch-1']);
    expect(orch.children.map((c) => c.path)).toEqual(['main/orch-1/res-1']);
    expect(res.children.map((c) => c.path)).toEqual(['main/orch-1/res-1/fc-1']);

    // fact-checker own = C3 + C4: (1,500 + 1,000 + 300) + (400 + 150) = 2,800 + 550 = 3,350
    expect(totalTokens(fc.own.usage)).toBe(3350);
    expect(totalTokens(fc.subtree.usage)).toBe(3350);
    expect(fc.own.costNano).toBe(480_000 + 1_150_000);
    // researcher own = C2: 2,000 + 3,000 + 400 = 5,400; subtree = 5,400 + 3,350 = 8,750
    expect(totalTokens(res.own.usage)).toBe(5400);
    expect(totalTokens(res.subtree.usage)).toBe(8750);
    expect(res.subtree.costNano).toBe(12_750_000 + 1_630_000);
    // orchestrator own = C1 + C5: (1,200 + 30,000 + 2,000 + 800) + (100 + 20) = 34,000 + 120 = 34,120
    // subtree = 34,120 + 8,750 = 42,870
    expect(totalTokens(orch.own.usage)).toBe(34_120);
    expect(totalTokens(orch.subtree.usage)).toBe(42_870);
    expect(orch.own.events).toBe(2);
    expect(orch.subtree.events).toBe(5);
    expect(orch.subtree.costNano).toBe(32_550_000 + 14_380_000);
    // Nothing is the root's own: every call ran under an agent.
    expect(tree.own.events).toBe(0);
    expect(totalTokens(tree.subtree.usage)).toBe(42_870);
  });
});

describe('parseOtlpFile: older attribute spellings (genai-legacy.jsonl)', () => {
  // The same shape written the OpenLLMetry way: gen_ai.system ("Anthropic", "OpenAI"),
  // prompt_tokens / completion_tokens / cache_read_input_tokens / cache_creation_input_tokens, no
  // operation name on the model calls, status code "STATUS_CODE_ERROR"; other trace and span ids,
  // other line order.
  const current = parse('genai-current.jsonl');
  const legacy = parse('genai-legacy.jsonl');

  it('gives the same events apart from ids', () => {
    expect(legacy.problems).toEqual([]);
    expect(legacy.spans).toBe(9);
    const strip = (e: UsageEvent) => ({ ...e, id: '', attribution: { ...e.attribution, run: '' } });
    expect(legacy.events.map(strip)).toEqual(current.events.map(strip));
    expect(legacy.events.map((e) => e.id)).not.toEqual(current.events.map((e) => e.id));
    expect(legacy.events[0]!.id).toBe('otlp:5ce0a4aa8d1f4b0e9a3c7e21f0d2b6c8:1c1c1c1c1c1c1c1c');
    expect(legacy.events[0]!.attribution.run).toBe('5ce0a4aa8d1f4b0e9a3c7e21f0d2b6c8');
  });
});

describe('parseOtlpFile: agent spans carrying their children’s usage (genai-agent-sum.jsonl)', () => {
  // Trace 7d3e…:  invoke_agent planner (no agent id; usage 3,700 in / 370 out = the sum below)
  //   ├─ chat D1 gpt-4o 1,000 / 100     ├─ chat D2 o4-mini 2,000 / 200 (150 reasoning)
  //   ├─ execute_tool lookup (usage 999 / 99)
  //   └─ invoke_agent summarizer sum-1 (usage 700 / 70) └─ execute_tool write_file (no usage)
  // Trace 8e4f…:  create_agent helper (usage 50 / 5);  generate_content, no operation name, gcp.gemini
  const r = parse('genai-agent-sum.jsonl');
  const T = 'otlp:7d3e9c1f2a4b4c5d8e6f0a1b2c3d4e5f';
  const planner = 'main/b1b1b1b1b1b1b1b1'; // no gen_ai.agent.id: the span id is the segment

  it('counts an agent span only when nothing below it has usage; never tools or create_agent', () => {
    expect(r.problems).toEqual([]);
    expect(r.spans).toBe(8);
    expect(r.events.map((e) => e.id)).toEqual([
      `${T}:d1d1d1d1d1d1d1d1`,
      `${T}:d2d2d2d2d2d2d2d2`,
      `${T}:b2b2b2b2b2b2b2b2`, // summarizer: its only child has no usage
      'otlp:8e4f0d2a3b5c4d6e9f7a1b2c3d4e5f60:f2f2f2f2f2f2f2f2',
    ]);
    // Trace 7d3e: D1 + D2 + summarizer = (1,000 + 100) + (2,000 + 200) + (700 + 70) = 4,070 =
    // the planner's own 3,700 + 370, counted once. (Counting the planner too would give 8,140;
    // the tool's 999 + 99 would add 1,098.)
    const trace = r.events.filter((e) => e.id.startsWith(T));
    expect(trace.reduce((n, e) => n + totalTokens(e.usage), 0)).toBe(4070);
  });

  it('attributes calls to the nearest agent, by id or else span id', () => {
    expect(r.events.map(shape)).toEqual([
      {
        ts: Date.parse('2026-01-09T10:00:11Z'),
        provider: 'openai',
        model: 'gpt-4o',
        usage: u({ inputTokens: 1000, outputTokens: 100 }),
        agentPath: planner,
        agentName: 'planner',
        agentId: 'b1b1b1b1b1b1b1b1',
        session: undefined,
        status: undefined,
      },
      {
        ts: Date.parse('2026-01-09T10:00:12Z'),
        provider: 'openai',
        model: 'o4-mini-2025-04-16',
        // Output 200 includes the 150 reasoning tokens; reasoningTokens is display only.
        usage: u({ inputTokens: 2000, outputTokens: 200, reasoningTokens: 150 }),
        agentPath: planner,
        agentName: 'planner',
        agentId: 'b1b1b1b1b1b1b1b1',
        session: undefined,
        status: undefined,
      },
      {
        // The counted agent span is its own last path segment.
        ts: Date.parse('2026-01-09T10:00:14Z'),
        provider: 'openai',
        model: 'gpt-4o',
        usage: u({ inputTokens: 700, outputTokens: 70 }),
        agentPath: `${planner}/sum-1`,
        agentName: 'summarizer',
        agentId: 'sum-1',
        session: undefined,
        status: undefined,
      },
      {
        // No agent above it: main. gcp.gemini → genai-prices' `google`. Inclusive: 800 − 200 = 600.
        ts: Date.parse('2026-01-09T10:00:17Z'),
        provider: 'google',
        model: 'gemini-2.5-flash',
        usage: u({ inputTokens: 600, cacheReadTokens: 200, outputTokens: 60 }),
        agentPath: 'main',
        agentName: 'main',
        agentId: undefined,
        session: undefined,
        status: undefined,
      },
    ]);
  });

  it('prices them by hand', () => {
    // D1 gpt-4o: 1,000×2.50 + 100×10 = 2,500 + 1,000 = 3,500 µ$
    expect(byId(r, `${T}:d1d1d1d1d1d1d1d1`).cost.nanoUsd).toBe(3_500_000);
    // D2 o4-mini: 2,000×1.10 + 200×4.40 = 2,200 + 880 = 3,080 µ$ (reasoning is inside the 200)
    expect(byId(r, `${T}:d2d2d2d2d2d2d2d2`).cost.nanoUsd).toBe(3_080_000);
    // summarizer gpt-4o: 700×2.50 + 70×10 = 1,750 + 700 = 2,450 µ$
    expect(byId(r, `${T}:b2b2b2b2b2b2b2b2`).cost.nanoUsd).toBe(2_450_000);
    // gemini-2.5-flash: 600×0.30 + 200×0.03 + 60×2.50 = 180 + 6 + 150 = 336 µ$
    expect(r.events[3]!.cost.nanoUsd).toBe(336_000);
  });

  it('rolls the counted agent span up under its parent agent', () => {
    const tree = buildDelegationTree(r.events.filter((e) => e.id.startsWith(T)));
    const p = nodeAt(tree, planner);
    const s = nodeAt(tree, `${planner}/sum-1`);
    expect([p.name, s.name]).toEqual(['planner', 'summarizer']);
    expect(totalTokens(p.own.usage)).toBe(1100 + 2200); // D1 + D2
    expect(totalTokens(s.own.usage)).toBe(770);
    expect(totalTokens(p.subtree.usage)).toBe(4070); // = the planner span's own 3,700 + 370
  });
});

describe('parseOtlpFile: Claude Code OpenTelemetry logs (claude-code-logs.jsonl)', () => {
  // Line 1: user_prompt (ignored), api_request R1 (body name, string counts), tool_result (ignored).
  // Line 2: api_request R2 (event.name attribute, intValue counts, agent.name Explore),
  //         api_request R3 (top-level eventName, no request_id, sub-agent without a name).
  // Lines 3-4: resourceMetrics with 2 + 1 metrics.
  const r = parse('claude-code-logs.jsonl');

  it('makes one event per api_request and skips the metrics', () => {
    expect(r.problems).toEqual([]);
    expect(r.spans).toBe(0);
    expect(r.skippedMetrics).toBe(3); // token.usage + cost.usage + session.count
    expect(r.events.map((e) => e.id)).toEqual([
      'cc-otel:req_011CUaaa',
      'cc-otel:req_022CUbbb',
      'cc-otel:sess-1:1767952810000000000', // no request_id: session id + timeUnixNano
    ]);
    expect(r.events.map(shape)).toEqual([
      {
        ts: 1_767_952_800_999, // "1767952800999999999" ns, cut, not rounded by a double
        provider: 'anthropic',
        model: 'claude-sonnet-4-5-20250929',
        // Anthropic convention: input_tokens already excludes the cache, taken as is.
        usage: u({ inputTokens: 12, cacheReadTokens: 40_000, cacheWrite5mTokens: 1500, outputTokens: 450 }),
        agentPath: undefined,
        agentName: 'main',
        agentId: undefined,
        session: 'sess-1',
        status: undefined,
      },
      {
        ts: Date.parse('2026-01-09T10:00:05Z'),
        provider: 'anthropic',
        model: 'claude-haiku-4-5-20251001',
        usage: u({ inputTokens: 300, outputTokens: 40 }),
        agentPath: undefined,
        agentName: 'Explore',
        agentId: undefined,
        session: 'sess-1',
        status: undefined,
      },
      {
        ts: Date.parse('2026-01-09T10:00:10Z'),
        provider: 'anthropic',
        model: 'claude-haiku-4-5-20251001',
        usage: u({ inputTokens: 100, outputTokens: 10 }),
        agentPath: undefined,
        agentName: 'subagent',
        agentId: undefined,
        session: 'sess-1',
        status: undefined,
      },
    ]);
    expect(r.events.map((e) => e.attribution.user)).toEqual([
      'dev@example.com',
      '0f3c9a7e-user-hash',
      undefined,
    ]);
  });

  it('prices with the book and keeps the logged cost as a tag', () => {
    const [r1, r2, r3] = r.events;
    // R1 claude-sonnet-4-5: 12×3 + 450×15 + 40,000×0.30 + 1,500×3.75 = 36 + 6,750 + 12,000 + 5,625
    //   = 24,411 µ$, not the logged $0.0300.
    expect(r1!.cost.nanoUsd).toBe(24_411_000);
    expect(r1!.attribution.tags).toEqual({
      service: 'claude-code',
      querySource: 'main',
      reportedCostUsd: '0.0300',
    });
    // R2 claude-haiku-4-5: 300×1 + 40×5 = 500 µ$; the logged doubleValue 0.0005 kept as text.
    expect(r2!.cost.nanoUsd).toBe(500_000);
    expect(r2!.attribution.tags?.reportedCostUsd).toBe('0.0005');
    // R3: 100×1 + 10×5 = 150 µ$
    expect(r3!.cost.nanoUsd).toBe(150_000);
    expect(r3!.attribution.tags?.reportedCostUsd).toBe('0.00015');
  });
});

describe('parseOtlpFile: broken input (broken.jsonl)', () => {
  // 1 good span · 2 cut mid-line · 3 invalid JSON in braces · 4 JSON but not OTLP ·
  // 5 a span with input "12x" + a good span · 6 blank · 7 good span · 8 unterminated, does not parse
  const r = parse('broken.jsonl');

  it('reports each bad line where it is and reads the rest', () => {
    expect(r.problems.map((p) => p.line)).toEqual([2, 3, 4, 5]);
    for (const p of r.problems) expect(p.file).toBe(fixture('broken.jsonl'));
    expect(r.problems[0]!.reason).toMatch(/malformed or truncated/);
    expect(r.problems[1]!.reason).toMatch(/malformed JSON/);
    expect(r.problems[2]!.reason).toMatch(/not an OTLP document/);
    expect(r.problems[3]!.reason).toMatch(
      /0000000000000e02: gen_ai\.usage\.input_tokens is not a non-negative/,
    );
    const T = 'otlp:9a8b7c6d5e4f40312a1b2c3d4e5f6071';
    expect(r.events.map((e) => e.id)).toEqual([
      `${T}:0000000000000e01`,
      `${T}:0000000000000e03`,
      `${T}:0000000000000e04`,
    ]);
    expect(r.events.map((e) => totalTokens(e.usage))).toEqual([10 + 5, 20 + 7, 30 + 9]);
    expect(r.spans).toBe(4);
  });

  it('reads an unterminated last line when it parses', () => {
    const f = writeTemp(
      'tail.jsonl',
      `${tracesLine(span('0000000000000001', chat(10, 5)))}\n${tracesLine(span('0000000000000002', chat(20, 7)))}`,
    );
    const out = parseOtlpFile(f, book);
    expect(out.problems).toEqual([]);
    expect(out.events.map((e) => e.usage.inputTokens)).toEqual([10, 20]);
  });
});

describe('parseOtlpFile: file layouts and tree edge cases', () => {
  it('reads a whole pretty-printed document like the same spans as JSON Lines', () => {
    const lines = readFileSync(fixture('genai-current.jsonl'), 'utf8').trim().split('\n');
    const docs = lines.map((l) => JSON.parse(l) as { resourceSpans: unknown[] });
    const one = { resourceSpans: docs.flatMap((d) => d.resourceSpans) };
    const pretty = parseOtlpFile(writeTemp('pretty.json', JSON.stringify(one, null, 2)), book);
    expect(pretty.problems).toEqual([]);
    expect(pretty.events).toEqual(parse('genai-current.jsonl').events);
    // Lines in the other order: the tree is built after the whole file, so nothing changes.
    const swapped = parseOtlpFile(writeTemp('swapped.jsonl', `${lines[1]}\n${lines[0]}\n`), book);
    expect(swapped.events).toEqual(parse('genai-current.jsonl').events);
  });

  it('splits input at the inclusive/exclusive boundary: cache = input is inclusive, cache > input exclusive', () => {
    const read = (n: number) => int('gen_ai.usage.cache_read.input_tokens', n);
    const write = (n: number) => int('gen_ai.usage.cache_creation.input_tokens', n);
    const f = writeTemp(
      'boundary.jsonl',
      `${tracesLine(
        span('0000000000000001', chat(1000, 1, [read(600), write(400)])), // 600 + 400 = 1,000 = input → 1,000 − 1,000 = 0
        span('0000000000000002', chat(1000, 1, [read(600), write(401)])), // 1,001 > 1,000 → exclusive: 1,000
        span('0000000000000003', chat(1000, 1, [read(100)])), // 100 ≤ 1,000 → 1,000 − 100 = 900
      )}\n`,
    );
    const out = parseOtlpFile(f, book);
    expect(out.events.map((e) => e.usage)).toEqual([
      u({ inputTokens: 0, cacheReadTokens: 600, cacheWrite5mTokens: 400, outputTokens: 1 }),
      u({ inputTokens: 1000, cacheReadTokens: 600, cacheWrite5mTokens: 401, outputTokens: 1 }),
      u({ inputTokens: 900, cacheReadTokens: 100, outputTokens: 1 }),
    ]);
  });

  it('counts a span exported twice once, roots a span whose parent is elsewhere, keeps `/` out of segments', () => {
    const agent = span('00000000000000a1', [
      str('gen_ai.operation.name', 'invoke_agent'),
      str('gen_ai.agent.name', 'writer'),
      str('gen_ai.agent.id', 'team/writer'),
    ]);
    const call = span('00000000000000c1', chat(10, 1), { parentSpanId: '00000000000000a1' });
    const orphan = span('00000000000000c2', chat(20, 2), { parentSpanId: '00000000000000ff' });
    const f = writeTemp('edges.jsonl', `${tracesLine(call, orphan)}\n${tracesLine(agent, call)}\n`);
    const out = parseOtlpFile(f, book);
    expect(out.spans).toBe(3);
    expect(
      out.events.map((e) => [e.usage.inputTokens, e.attribution.agentPath, e.attribution.agentName]),
    ).toEqual([
      [10, 'main/team_writer', 'writer'],
      [20, 'main', 'main'],
    ]);
  });

  it('reports a counted span without a start time and bad Claude Code records', () => {
    const noTime = span('0000000000000001', chat(10, 1), { startTimeUnixNano: '0', endTimeUnixNano: '0' });
    const ccBad = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1767952800000000000',
                  body: { stringValue: 'claude_code.api_request' },
                  attributes: [str('model', 'claude-sonnet-4-5'), str('input_tokens', '-4')],
                },
                { body: { stringValue: 'claude_code.api_request' }, attributes: [str('model', 'x')] },
              ],
            },
          ],
        },
      ],
    };
    const f = writeTemp('bad-records.jsonl', `${tracesLine(noTime)}\n${JSON.stringify(ccBad)}\n`);
    const out = parseOtlpFile(f, book);
    expect(out.events).toEqual([]);
    expect(out.problems.map((p) => [p.line, p.reason])).toEqual([
      [1, 'span 0000000000000001 has usage but no valid startTimeUnixNano'],
      [2, 'claude_code.api_request with a token count that is not a non-negative integer'],
      [2, 'claude_code.api_request without a valid time'],
    ]);
  });

  it('maps provider names to genai-prices provider ids', () => {
    const names: [string, string][] = [
      ['openai', 'openai'],
      ['OpenAI', 'openai'],
      ['anthropic', 'anthropic'],
      ['gcp.gemini', 'google'],
      ['gcp.vertex_ai', 'google'],
      ['gcp.gen_ai', 'google'],
      ['gemini', 'google'],
      ['google', 'google'],
      ['aws.bedrock', 'aws'],
      ['azure.ai.openai', 'azure'],
      ['azure.ai.inference', 'azure'],
      ['mistral_ai', 'mistral'],
      ['x_ai', 'x-ai'],
      ['groq', 'groq'],
      ['deepseek', 'deepseek'],
      ['cohere', 'cohere'],
      ['ibm.watsonx.ai', 'ibm.watsonx.ai'], // unknown to genai-prices: passed through
    ];
    const spans = names.map(([name], i) =>
      span(`00000000000001${String(i).padStart(2, '0')}`, [
        str('gen_ai.provider.name', name),
        str('gen_ai.request.model', 'm'),
        int('gen_ai.usage.input_tokens', 1),
      ]),
    );
    const out = parseOtlpFile(writeTemp('providers.jsonl', `${tracesLine(...spans)}\n`), book);
    expect(out.events.map((e) => e.provider)).toEqual(names.map(([, id]) => id));
    for (const [name, id] of names) {
      if (id === name && !findProvider({ providerId: id })) continue; // the pass-through case
      // Every id is one genai-prices knows...
      expect(findProvider({ providerId: id })?.id, name).toBe(id);
      // ...and agrees with its own lookup of the name, except Azure OpenAI, which findProvider
      // sends to `openai` by substring while genai-prices' `azure` provider exists (and falls back
      // to OpenAI's models for prices).
      const found = findProvider({ providerId: name })?.id;
      if (found !== undefined && name !== 'azure.ai.openai') expect(found, name).toBe(id);
    }
  });
});
