import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { UsageEvent } from '../core/event.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { createPriceBook } from '../prices/price-book.js';
import { type ClaudeFileScan, parseClaudeTranscript } from './claude-code.js';
import { ClaudeMerge } from './claude-merge.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-claude-props-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const book = createPriceBook();

// ── Property 1: garbage lines never break parsing, and never cost a valid record its usage ───────────
interface Valid {
  kind: 'valid';
  input: number;
  output: number;
  read: number;
  write: number;
  h1: number;
  text: string;
  crlf: boolean;
}
interface Garbage {
  kind: 'garbage';
  bytes: Uint8Array;
}
const tokens = fc.nat({ max: 2_000_000 });
const validArb: fc.Arbitrary<Valid> = fc.record({
  kind: fc.constant('valid' as const),
  input: tokens,
  output: tokens,
  read: tokens,
  write: tokens,
  h1: tokens,
  // arbitrary text in the content array: quotes, backslashes, `"stop_reason":`, any code point
  text: fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom('","stop_reason":"x"}', 'content":[', '\\"output_tokens\\":1', '{"a":[1,2]}'),
  ),
  crlf: fc.boolean(),
});
const garbageArb: fc.Arbitrary<Garbage> = fc.record({
  kind: fc.constant('garbage' as const),
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    // bytes that look like the start of a record: a crash mid-write
    fc
      .uint8Array({ maxLength: 60 })
      .map((b) => Buffer.concat([Buffer.from('{"type":"assistant","message":{"usage":{"output_tokens"'), b])),
  ),
});

function validLine(v: Valid, i: number): string {
  return JSON.stringify({
    parentUuid: null,
    isSidechain: false,
    sessionId: 'sess-p',
    version: '2.1.30',
    message: {
      id: `msg_${i}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'text', text: v.text },
        { type: 'tool_use', id: `toolu_${i}`, name: 'Read', input: { note: v.text } },
      ],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: v.input,
        cache_creation_input_tokens: v.write,
        cache_read_input_tokens: v.read,
        cache_creation: {
          ephemeral_5m_input_tokens: v.write - Math.min(v.h1, v.write),
          ephemeral_1h_input_tokens: v.h1,
        },
        output_tokens: v.output,
      },
    },
    requestId: `req_${i}`,
    type: 'assistant',
    timestamp: '2026-02-01T10:00:00.000Z',
  });
}

/** The reader's shape rule for a line: strip one CR before the LF, trim spaces/tabs, then `{…}`. */
function mustBeReported(line: Buffer): boolean {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  let s = 0;
  while (s < end && (line[s] === 0x20 || line[s] === 0x09)) s++;
  while (end > s && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
  if (s === end) return false;
  return line[s] !== 0x7b || line[end - 1] !== 0x7d;
}

describe('parseClaudeTranscript property', () => {
  it('never throws on arbitrary bytes mixed with valid records, and counts every valid record exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(validArb, garbageArb), { maxLength: 25 }),
        fc.boolean(),
        (entries, endsWithNewline) => {
          const parts: Buffer[] = [];
          const expected = new Map<string, UsageBuckets>();
          const garbageLines = new Set<number>();
          const reportable = new Set<number>();
          let line = 0;
          entries.forEach((e, i) => {
            const last = i === entries.length - 1;
            const eol = last && !endsWithNewline ? '' : '\n';
            if (e.kind === 'valid') {
              line++;
              parts.push(Buffer.from(`${validLine(e, i)}${e.crlf && eol ? '\r' : ''}${eol}`));
              const oneHour = Math.min(e.h1, e.write);
              expected.set(`msg_${i}|req_${i}`, {
                ...emptyUsage(),
                inputTokens: e.input,
                outputTokens: e.output,
                cacheReadTokens: e.read,
                cacheWrite5mTokens: e.write - oneHour,
                cacheWrite1hTokens: oneHour,
              });
            } else {
              const bytes = Buffer.from(e.bytes);
              // a garbage chunk holding newlines is several garbage lines
              let from = 0;
              for (;;) {
                const nl = bytes.indexOf(0x0a, from);
                const piece = bytes.subarray(from, nl === -1 ? bytes.length : nl);
                line++;
                garbageLines.add(line);
                const terminated = nl !== -1 || eol !== '';
                if (terminated && mustBeReported(piece)) reportable.add(line);
                if (nl === -1) break;
                from = nl + 1;
              }
              parts.push(Buffer.concat([bytes, Buffer.from(eol)]));
            }
          });
          const f = join(dir, `p1-${++n}.jsonl`);
          writeFileSync(f, Buffer.concat(parts));
          const scan = parseClaudeTranscript({ file: f });

          // every valid record: exactly one call with exactly its usage
          const got = new Map<string, UsageBuckets>();
          for (const c of scan.calls) {
            expect(got.has(c.key)).toBe(false);
            got.set(c.key, c.usage);
          }
          expect(got).toEqual(expected);
          // problems only ever point at garbage lines, and every non-{…} terminated garbage line is one
          const problemLines = new Set(scan.problems.map((p) => p.line));
          for (const l of problemLines) expect(garbageLines.has(l)).toBe(true);
          for (const l of reportable) expect(problemLines.has(l)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// ── Property 2: merged totals do not depend on the order scans are added ─────────────────────────────
interface CopySpec {
  where: 0 | 1 | 2; // 0, 1: main session files ; 2: the sub-agent's file
  progress: boolean; // in a main file: as a progress echo instead of an own line
  outputShare: number; // earlier streamed snapshot: this fraction of the final output
  tsOffset: number;
}
interface CallSpec {
  model: string;
  fast: boolean;
  input: number;
  read: number;
  write: number;
  h1: number;
  output: number;
  ts: number;
  copies: CopySpec[];
}
const copyArb: fc.Arbitrary<CopySpec> = fc.record({
  where: fc.constantFrom(0 as const, 1 as const, 2 as const),
  progress: fc.boolean(),
  outputShare: fc.double({ min: 0, max: 1, noNaN: true }),
  tsOffset: fc.nat({ max: 5000 }),
});
const callArb: fc.Arbitrary<CallSpec> = fc.record({
  model: fc.constantFrom('claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-6', 'not-a-real-model'),
  fast: fc.boolean(),
  input: fc.nat({ max: 300_000 }),
  read: fc.nat({ max: 300_000 }),
  write: fc.nat({ max: 100_000 }),
  h1: fc.nat({ max: 100_000 }),
  output: fc.nat({ max: 50_000 }),
  ts: fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2026-06-01T00:00:00Z') }),
  copies: fc.array(copyArb, { minLength: 1, maxLength: 4 }),
});

function recordOf(c: CallSpec, i: number, output: number, ts: number, sub: boolean): Record<string, unknown> {
  const usage: Record<string, unknown> = {
    input_tokens: c.input,
    cache_creation_input_tokens: c.write,
    cache_read_input_tokens: c.read,
    cache_creation: {
      ephemeral_5m_input_tokens: c.write - Math.min(c.h1, c.write),
      ephemeral_1h_input_tokens: c.h1,
    },
    output_tokens: output,
  };
  if (c.fast) usage.speed = 'fast';
  const r: Record<string, unknown> = {
    isSidechain: sub,
    sessionId: 'sess-0',
    version: '2.1.30',
    message: {
      id: `msg_${i}`,
      model: c.model,
      content: [{ type: 'text', text: 't' }],
      stop_reason: 'end_turn',
      usage,
    },
    requestId: `req_${i}`,
    type: 'assistant',
    timestamp: new Date(ts).toISOString(),
  };
  if (sub) r.agentId = 'sa';
  return r;
}

const canonical = (events: UsageEvent[]) =>
  events
    .map((e) => ({
      id: e.id,
      ts: e.ts,
      model: e.model,
      speed: e.speed,
      usage: e.usage,
      cost: e.cost,
      a: e.attribution,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

describe('ClaudeMerge property', () => {
  it('gives the same events and totals whatever order the file scans are added in', () => {
    const files = [
      'projects/p/sess-0.jsonl',
      'projects/p/sess-1.jsonl',
      'projects/p/sess-0/subagents/agent-sa.jsonl',
    ];
    fc.assert(
      fc.property(
        fc.array(callArb, { minLength: 1, maxLength: 8 }),
        fc.constantFrom([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]),
        (calls, order) => {
          const root = join(dir, `p2-${++n}`);
          const lines: string[][] = [[], [], []];
          const expected = new Map<string, UsageBuckets>();
          calls.forEach((c, i) => {
            c.copies.forEach((cp, k) => {
              // copy 0 is the final snapshot; the others are earlier, smaller ones
              const output = k === 0 ? c.output : Math.floor(c.output * cp.outputShare);
              const ts = c.ts + cp.tsOffset;
              const sub = cp.where === 2;
              const rec = recordOf(c, i, output, ts, sub);
              lines[cp.where]!.push(
                JSON.stringify(
                  !sub && cp.progress
                    ? {
                        type: 'progress',
                        sessionId: 'sess-0',
                        version: '2.1.30',
                        timestamp: rec.timestamp,
                        data: { message: rec },
                      }
                    : rec,
                ),
              );
            });
            const oneHour = Math.min(c.h1, c.write);
            expected.set(`cc:msg_${i}|req_${i}`, {
              ...emptyUsage(),
              inputTokens: c.input,
              cacheReadTokens: c.read,
              cacheWrite5mTokens: c.write - oneHour,
              cacheWrite1hTokens: oneHour,
              outputTokens: c.output,
            });
          });
          const scans: ClaudeFileScan[] = files.map((rel, w) => {
            const f = join(root, rel);
            mkdirSync(dirname(f), { recursive: true });
            writeFileSync(f, lines[w]!.map((l) => `${l}\n`).join(''));
            return parseClaudeTranscript({
              file: f,
              project: 'p',
              session: 'sess-0',
              ...(w === 2 ? { agentId: 'sa' } : {}),
            });
          });
          const run = (o: readonly number[]) => {
            const m = new ClaudeMerge();
            for (const w of o) m.addScan(scans[w]!, 'p');
            return canonical([...m.events(book)]);
          };
          const base = run([0, 1, 2]);
          const other = run(order);
          expect(other).toEqual(base);
          // and the totals are the calls counted once, with their final usage
          expect(new Map(base.map((e) => [e.id, e.usage]))).toEqual(expected);
          const total = (evs: typeof base) => evs.reduce((s, e) => s + (e.cost.nanoUsd ?? 0), 0);
          expect(total(other)).toBe(total(base));
        },
      ),
      { numRuns: 150 },
    );
  });
});
