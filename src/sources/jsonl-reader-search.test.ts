// scanJsonl with the SIMD search and with the plain fallback, against a line-by-line reference, on
// files built so that matches straddle the read chunks and lines outgrow the read buffer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as Reader from './jsonl-reader.js';
import { READ_CHUNK_BYTES } from './jsonl-reader.js';
import { MAX_WASM_BUFFER } from './simd-search.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-jsonl-search-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: Buffer): string {
  const f = join(dir, `f${++n}.jsonl`);
  writeFileSync(f, content);
  return f;
}

interface Seen {
  candidates: [number, string][];
  malformed: number[];
  lines: number;
  endOffset: number;
}

function scan(reader: typeof Reader, f: string, patterns: Buffer[], from = 0, linesBefore = 0): Seen {
  const seen: Seen = { candidates: [], malformed: [], lines: 0, endOffset: 0 };
  const r = reader.scanJsonl(f, {
    from,
    linesBefore,
    patterns,
    onCandidate: (buf, start, end, line) => seen.candidates.push([line, buf.toString('latin1', start, end)]),
    onMalformed: (line) => seen.malformed.push(line),
  });
  return { ...seen, lines: r.lines, endOffset: r.endOffset };
}

/** What scanJsonl must report, one whole line at a time (no chunks, no BOM in these files). */
function reference(content: Buffer, patterns: Buffer[], from = 0, linesBefore = 0): Seen {
  const seen: Seen = { candidates: [], malformed: [], lines: linesBefore, endOffset: from };
  for (
    let pos = from, nl = content.indexOf(10, pos);
    nl !== -1;
    pos = nl + 1, nl = content.indexOf(10, pos)
  ) {
    seen.lines++;
    seen.endOffset = nl + 1;
    let s = pos;
    let e = nl > pos && content[nl - 1] === 13 ? nl - 1 : nl;
    while (s < e && (content[s] === 0x20 || content[s] === 0x09)) s++;
    while (e > s && (content[e - 1] === 0x20 || content[e - 1] === 0x09)) e--;
    if (s === e) continue;
    const text = content.subarray(s, e);
    if (text[0] !== 0x7b || text[e - s - 1] !== 0x7d) seen.malformed.push(seen.lines);
    else if (patterns.some((p) => text.includes(p)))
      seen.candidates.push([seen.lines, text.toString('latin1')]);
  }
  return seen;
}

/** A deterministic PRNG, so a failure is reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const USAGE = Buffer.from('output_tokens"');
const AGENT = Buffer.from('agentId"');

/** Lines of JSON-ish filler; some hold a pattern or a near miss, some are blank, malformed or CRLF. */
function randomLines(seed: number, bytes: number, patterns: Buffer[]): Buffer {
  const next = rng(seed);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = next();
    let line: string;
    if (r < 0.05) line = r < 0.02 ? '' : ' \t';
    else if (r < 0.08) line = 'not json';
    else {
      const fill = (k: number) => 'ab"o:, '.repeat(Math.ceil(k / 7)).slice(0, k);
      const len = Math.floor(next() * (next() < 0.02 ? 40_000 : 600));
      const cut = Math.floor(next() * len);
      const pattern = patterns[Math.floor(next() * patterns.length)]!.toString('latin1');
      const middle = r < 0.5 ? pattern : r < 0.7 ? pattern.slice(0, -1) : r < 0.8 ? pattern.slice(1) : '';
      line = `{${fill(cut)}${middle}${fill(len - cut)}}`;
    }
    const eol = next() < 0.1 ? '\r\n' : '\n';
    parts.push(line + eol);
    size += line.length + eol.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** 100-byte `{…}` lines, then one whose pattern has `split` bytes before file offset `at`. */
function straddling(pattern: Buffer, at: number, split: number): Buffer {
  const head = `{${'x'.repeat(97)}}\n`.repeat(Math.floor((at - split) / 100) - 1);
  const partial = `{${'x'.repeat(at - split - head.length - 1)}`;
  return Buffer.concat([Buffer.from(head + partial), pattern, Buffer.from('}\n{"no":"match"}\n')]);
}

/** A fresh jsonl-reader; with `fallback`, the embedded module does not validate, as without SIMD. */
async function loadReader(fallback: boolean): Promise<typeof Reader> {
  vi.resetModules();
  vi.doUnmock('./simd-search.wasm.js');
  if (fallback) vi.doMock('./simd-search.wasm.js', () => ({ SIMD_SEARCH_WASM_BASE64: 'AGFzbQkJCQk=' }));
  return import('./jsonl-reader.js');
}

describe.each([
  ['SIMD search', false],
  ['plain fallback', true],
])('scanJsonl with the %s', (_name, fallback) => {
  it('uses the search it is meant to', async () => {
    await loadReader(fallback);
    const { createWasmSearch } = await import('./simd-search.js');
    expect(createWasmSearch() === undefined).toBe(fallback);
  });

  it('hands over the same lines as the line-by-line reference on random files', async () => {
    const reader = await loadReader(fallback);
    for (let seed = 1; seed <= 6; seed++) {
      const patterns = seed % 2 ? [USAGE] : [USAGE, AGENT];
      const content = randomLines(seed, 3 * READ_CHUNK_BYTES, patterns);
      const f = file(content);
      expect(scan(reader, f, patterns)).toEqual(reference(content, patterns));
      // An incremental read starts at a line boundary, which moves every chunk boundary.
      const from = content.indexOf(10, 100_000) + 1;
      const before = reference(content.subarray(0, from), patterns).lines;
      expect(scan(reader, f, patterns, from, before)).toEqual(reference(content, patterns, from, before));
    }
  });

  it('finds a pattern of 2..20 bytes split across the end of a read chunk', async () => {
    const reader = await loadReader(fallback);
    for (let len = 2; len <= 20; len++) {
      const pattern = Buffer.from('output_tokens"agentId"'.slice(0, len));
      for (const split of [1, Math.floor(len / 2), len - 1]) {
        const content = straddling(pattern, READ_CHUNK_BYTES, split);
        const seen = scan(reader, file(content), [pattern]);
        expect(seen).toEqual(reference(content, [pattern]));
        expect(seen.candidates).toHaveLength(1);
      }
    }
  });

  it('finds patterns in lines longer than the read buffer, also past what WebAssembly memory holds', async () => {
    const reader = await loadReader(fallback);
    const patterns = [USAGE, AGENT];
    for (const long of [READ_CHUNK_BYTES + 10, 3 * READ_CHUNK_BYTES, MAX_WASM_BUFFER + 10]) {
      const body = Buffer.alloc(long, 'o');
      USAGE.copy(body, long - USAGE.length - 1); // at the very end of the long line
      body[0] = 0x7b;
      body[long - 1] = 0x7d;
      const content = Buffer.concat([
        randomLines(long, 200_000, patterns),
        body,
        Buffer.from('\n'),
        randomLines(long + 1, 300_000, patterns),
      ]);
      expect(scan(reader, file(content), patterns)).toEqual(reference(content, patterns));
      // The next file gets the normal buffer back, in memory that may have grown meanwhile.
      const after = randomLines(long + 2, 400_000, patterns);
      expect(scan(reader, file(after), patterns)).toEqual(reference(after, patterns));
    }
  });

  it('searches for a pattern added during the scan from the next line on', async () => {
    const reader = await loadReader(fallback);
    const content = Buffer.from('{"agentId":1}\n{"output_tokens":1}\n{"agentId":2}\n{"agentId":3}\n');
    const patterns = [USAGE];
    const lines: number[] = [];
    reader.scanJsonl(file(content), {
      patterns,
      onCandidate: (_buf, _start, _end, line) => {
        lines.push(line);
        if (!patterns.includes(AGENT)) patterns.push(AGENT);
      },
      onMalformed: () => {},
    });
    expect(lines).toEqual([2, 3, 4]);
  });
});
