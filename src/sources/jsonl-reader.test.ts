import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type JsonlScanOptions, type JsonlScanResult, READ_CHUNK_BYTES, scanJsonl } from './jsonl-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: string | Buffer): string {
  const f = join(dir, `f${++n}.jsonl`);
  writeFileSync(f, content);
  return f;
}

interface Seen {
  candidates: [number, string][];
  malformed: [number, string][];
  tails: [number, string][];
  result: JsonlScanResult;
}

function scan(f: string, patterns: string[], extra: Partial<JsonlScanOptions> = {}, withTail = true): Seen {
  const seen: Omit<Seen, 'result'> = { candidates: [], malformed: [], tails: [] };
  const opts: JsonlScanOptions = {
    patterns: patterns.map((p) => Buffer.from(p)),
    onCandidate: (buf, start, end, line) => seen.candidates.push([line, buf.toString('utf8', start, end)]),
    onMalformed: (line, reason) => seen.malformed.push([line, reason]),
    ...extra,
  };
  if (withTail) opts.onTail = (text, line) => seen.tails.push([line, text]);
  const result = scanJsonl(f, opts);
  return { ...seen, result };
}

describe('scanJsonl', () => {
  it('hands over only lines that contain a pattern, with 1-based line numbers', () => {
    const lines = [
      '{"type":"user","text":"hi"}',
      '{"type":"assistant","usage":{"output_tokens":5}}',
      '{"type":"summary"}',
      '{"agentId":"a1"}',
      '{"note":"output_tokens mentioned, but not as a key"}',
    ];
    const content = `${lines.join('\n')}\n`;
    const s = scan(file(content), ['output_tokens"', 'agentId"']);
    expect(s.candidates).toEqual([
      [2, lines[1]],
      [4, lines[3]],
    ]);
    expect(s.malformed).toEqual([]);
    expect(s.tails).toEqual([]);
    expect(s.result).toEqual({
      endOffset: Buffer.byteLength(content),
      lines: 5,
      bytesRead: Buffer.byteLength(content),
    });
  });

  it('hands over a line that holds several patterns once', () => {
    const s = scan(file('{"agentId":"x","output_tokens":1}\n'), ['output_tokens"', 'agentId"']);
    expect(s.candidates).toEqual([[1, '{"agentId":"x","output_tokens":1}']]);
  });

  it('reports lines that are not {…} with their line numbers, and never decodes {…} lines without a pattern', () => {
    const content = [
      '{"ok":1}', // 1
      '[1,2,3]', // 2: JSON, but not an object
      '{"truncated": "out', // 3: crash mid-write
      'garbage', // 4
      '{ not json at all }', // 5: object-shaped, no pattern: not decoded, not reported
      '"output_tokens"', // 6: has the pattern but is not an object
      '{"output_tokens":1}', // 7
    ].join('\n');
    const s = scan(file(`${content}\n`), ['output_tokens"']);
    expect(s.malformed.map(([line]) => line)).toEqual([2, 3, 4, 6]);
    for (const [, reason] of s.malformed) expect(reason).toMatch(/not a JSON object/);
    expect(s.candidates).toEqual([[7, '{"output_tokens":1}']]);
  });

  it('handles CRLF line endings: no CR in the line, lines counted once', () => {
    const content = '{"a":1}\r\n{"output_tokens":2}\r\nnope\r\n{"output_tokens":3}\r\n';
    const s = scan(file(content), ['output_tokens"']);
    expect(s.candidates).toEqual([
      [2, '{"output_tokens":2}'],
      [4, '{"output_tokens":3}'],
    ]);
    expect(s.malformed.map(([l]) => l)).toEqual([3]);
    expect(s.result.lines).toBe(4);
    expect(s.result.endOffset).toBe(Buffer.byteLength(content));
  });

  it('skips blank and whitespace-only lines but counts them, and trims spaces and tabs', () => {
    const content = '\n   \n\t\n\r\n  {"output_tokens":1}\t \n\n{"output_tokens":2}\n';
    const s = scan(file(content), ['output_tokens"']);
    expect(s.candidates).toEqual([
      [5, '{"output_tokens":1}'],
      [7, '{"output_tokens":2}'],
    ]);
    expect(s.malformed).toEqual([]);
    expect(s.result.lines).toBe(7);
  });

  it('reads from an offset and numbers lines after linesBefore', () => {
    const l1 = '{"output_tokens":1}\n';
    const l2 = '{"output_tokens":2}\n';
    const l3 = 'broken\n';
    const l4 = '{"output_tokens":4}\n';
    const f = file(l1 + l2 + l3 + l4);
    const from = Buffer.byteLength(l1 + l2);
    const s = scan(f, ['output_tokens"'], { from, linesBefore: 2 });
    expect(s.candidates).toEqual([[4, '{"output_tokens":4}']]);
    expect(s.malformed.map(([l]) => l)).toEqual([3]);
    expect(s.result.lines).toBe(4);
    expect(s.result.endOffset).toBe(Buffer.byteLength(l1 + l2 + l3 + l4));
    // only the bytes after the offset are read
    expect(s.result.bytesRead).toBe(Buffer.byteLength(l3 + l4));
  });

  it('stops endOffset after the last newline and hands the unterminated last line to onTail', () => {
    const done = '{"output_tokens":1}\n{"output_tokens":2}\n';
    const f = file(`${done}{"output_tokens":3,"partial`);
    const s = scan(f, ['output_tokens"']);
    expect(s.candidates.map(([l]) => l)).toEqual([1, 2]);
    expect(s.tails).toEqual([[3, '{"output_tokens":3,"partial']]);
    // the tail is neither a candidate nor malformed
    expect(s.malformed).toEqual([]);
    expect(s.result.endOffset).toBe(Buffer.byteLength(done));
    expect(s.result.lines).toBe(2);

    // resuming at endOffset once the line is complete reads exactly that line, as line 3
    writeFileSync(f, `${done}{"output_tokens":3,"partial":false}\n`);
    const again = scan(f, ['output_tokens"'], { from: s.result.endOffset, linesBefore: s.result.lines });
    expect(again.candidates).toEqual([[3, '{"output_tokens":3,"partial":false}']]);
    expect(again.tails).toEqual([]);
  });

  it('hands a complete but unterminated record to onTail without its trailing CR/spaces', () => {
    const s = scan(file('{"a":1}\n{"output_tokens":9} \r'), ['output_tokens"']);
    expect(s.tails).toEqual([[2, '{"output_tokens":9}']]);
    expect(s.candidates).toEqual([]);
    expect(s.result.endOffset).toBe(8);
  });

  it('ignores the tail when no onTail is given, and an all-whitespace tail', () => {
    const f = file('{"output_tokens":1}\n{"output_tokens":2}');
    const s = scan(f, ['output_tokens"'], {}, false);
    expect(s.candidates.map(([l]) => l)).toEqual([1]);
    expect(s.result.endOffset).toBe(20);
    const ws = scan(file('{"output_tokens":1}\n   '), ['output_tokens"']);
    expect(ws.tails).toEqual([]);
  });

  it('reads an empty file', () => {
    const s = scan(file(''), ['output_tokens"']);
    expect(s.candidates).toEqual([]);
    expect(s.malformed).toEqual([]);
    expect(s.tails).toEqual([]);
    expect(s.result).toEqual({ endOffset: 0, lines: 0, bytesRead: 0 });
  });

  it('reads a line longer than the read chunk (and than 4 chunks) whole, and the lines around it', () => {
    const pad = 'x'.repeat(4 * READ_CHUNK_BYTES + 12_345);
    const big = `{"pad":"${pad}","output_tokens":7}`;
    const content = `{"output_tokens":1}\n${big}\nnot json\n{"output_tokens":3}\n`;
    const s = scan(file(content), ['output_tokens"']);
    expect(s.candidates.map(([l, t]) => [l, t.length])).toEqual([
      [1, 19],
      [2, big.length],
      [4, 19],
    ]);
    expect(s.candidates[1]![1]).toBe(big);
    expect(s.malformed.map(([l]) => l)).toEqual([3]);
    expect(s.result.endOffset).toBe(Buffer.byteLength(content));
  });

  it('finds lines that straddle the read chunk boundary', () => {
    // line 1 ends 10 bytes before the chunk boundary; line 2 crosses it; line 3 starts after it
    const chunk = READ_CHUNK_BYTES;
    const l1 = `{"p":"${'a'.repeat(chunk - 10 - 8)}"}`; // 8 bytes of JSON around the padding
    expect(l1.length).toBe(chunk - 10);
    const l2 = '{"output_tokens":22222}';
    const l3 = '{"output_tokens":3}';
    const content = `${l1}\n${l2}\n${l3}\n`;
    const s = scan(file(content), ['output_tokens"']);
    expect(s.candidates).toEqual([
      [2, l2],
      [3, l3],
    ]);
    expect(s.malformed).toEqual([]);
    expect(s.result.lines).toBe(3);
  });

  it('a small file read after a big one sees only its own bytes', () => {
    // A big file leaves bytes of its own in the reused buffer; a small file read next must not see them.
    const big = `${'{"output_tokens":1}\n'.repeat(10)}${`{"q":"${'z'.repeat(1000)}"}\n`.repeat(9000)}`;
    scan(file(big), ['output_tokens"']);
    const s = scan(file('{"q":1}\n'), ['output_tokens"']);
    expect(s.candidates).toEqual([]);
    expect(s.malformed).toEqual([]);
    expect(s.result).toEqual({ endOffset: 8, lines: 1, bytesRead: 8 });
  });
});
