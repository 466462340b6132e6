import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BufferSearch,
  createPlainSearch,
  createWasmSearch,
  MAX_SIMD_PATTERN,
  MAX_WASM_BUFFER,
} from './simd-search.js';

describe('simd-search.wasm.ts', () => {
  it('holds exactly what wabt builds from simd-search.wat', () => {
    const script = fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url));
    // Exits non-zero (and execFileSync throws) when the embedded bytes are stale.
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  });
});

/** Every match `search` reports in `hay[from, to)`, found one after another as the scanner does. */
function allMatches(search: BufferSearch, hay: Buffer, pattern: Buffer, from = 0, to = hay.length): number[] {
  const buf = search.buffer(hay.length, 0);
  hay.copy(buf);
  const found: number[] = [];
  for (let at = search.indexOf(pattern, from, to); at !== -1; at = search.indexOf(pattern, at + 1, to)) {
    found.push(at);
  }
  return found;
}

function expectedMatches(hay: Buffer, pattern: Buffer, from = 0, to = hay.length): number[] {
  const found: number[] = [];
  const region = hay.subarray(0, to);
  for (let at = region.indexOf(pattern, from); at !== -1; at = region.indexOf(pattern, at + 1))
    found.push(at);
  return found;
}

const wasm = createWasmSearch();
const searches: [string, () => BufferSearch][] = [
  ['wasm', () => createWasmSearch()!],
  ['plain', createPlainSearch],
];

describe('createWasmSearch', () => {
  it('runs here (the SIMD path is what the other tests exercise)', () => {
    expect(wasm).toBeDefined();
  });

  it('is undefined when the module does not validate, and the readers then use the plain search', () => {
    expect(createWasmSearch(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]))).toBeUndefined();
  });
});

describe.each(searches)('%s search', (_name, create) => {
  it('finds what Buffer.indexOf finds in random buffers, for patterns of 2..20 bytes', () => {
    const search = create();
    const alphabet = 'ab"o\n';
    const bytes = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 300 });
    fc.assert(
      fc.property(
        bytes,
        fc.string({ unit: fc.constantFrom(...alphabet), minLength: 2, maxLength: 20 }),
        (h, p) => {
          const hay = Buffer.from(h);
          const pattern = Buffer.from(p);
          expect(allMatches(search, hay, pattern)).toEqual(expectedMatches(hay, pattern));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('finds a pattern taken from the buffer itself, within any [from, to)', () => {
    const search = create();
    const arb = fc.uint8Array({ minLength: 2, maxLength: 400, max: 3 }).chain((h) =>
      fc.record({
        h: fc.constant(h),
        at: fc.nat(h.length - 2),
        len: fc.integer({ min: 2, max: 20 }),
        from: fc.nat(h.length),
        to: fc.nat(h.length),
      }),
    );
    fc.assert(
      fc.property(arb, ({ h, at, len, from, to }) => {
        const hay = Buffer.from(h);
        const pattern = Buffer.from(hay.subarray(at, Math.min(at + len, hay.length)));
        fc.pre(pattern.length >= 2);
        expect(allMatches(search, hay, pattern, from, to)).toEqual(expectedMatches(hay, pattern, from, to));
      }),
      { numRuns: 500 },
    );
  });

  it('finds a pattern at every offset, at the start and the end, and with overlapping prefixes', () => {
    const search = create();
    for (const len of [2, 3, 7, 8, 9, 14, 15, 16, 17, 31, 32, 33, MAX_SIMD_PATTERN, MAX_SIMD_PATTERN + 1]) {
      const pattern = Buffer.alloc(len, 'a');
      pattern[len - 1] = 0x62; // aaa…b: every run of a's is a partial match
      for (let at = 0; at <= 100; at++) {
        const hay = Buffer.alloc(at + len + 40, 'a');
        pattern.copy(hay, at);
        expect(allMatches(search, hay, pattern)).toEqual([at]);
        // The buffer ends with the pattern, and a region ending one byte early holds no match.
        expect(allMatches(search, hay.subarray(0, at + len), pattern)).toEqual([at]);
        expect(allMatches(search, hay, pattern, 0, at + len - 1)).toEqual([]);
        expect(allMatches(search, hay, pattern, at + 1)).toEqual([]);
      }
    }
  });

  it('reports overlapping matches one by one', () => {
    const search = create();
    const hay = Buffer.from(`${'x'.repeat(37)}abababababab${'y'.repeat(40)}`);
    expect(allMatches(search, hay, Buffer.from('abab'))).toEqual([37, 39, 41, 43, 45]);
  });

  it('keeps the bytes when the buffer grows, also past what WebAssembly memory holds, and back', () => {
    const search = create();
    const pattern = Buffer.from('output_tokens"');
    let size = 256 * 1024;
    let buf = search.buffer(size, 0);
    buf.fill('x');
    pattern.copy(buf, size - 7); // straddles the end of what has been read so far
    while (size <= MAX_WASM_BUFFER) {
      expect(search.indexOf(pattern, size - 20, size)).toBe(-1);
      const before = Buffer.from(buf); // growing WebAssembly memory detaches `buf`
      const next = search.buffer(size * 2, size);
      expect(next.subarray(0, size).equals(before)).toBe(true);
      next.fill('x', size);
      pattern.copy(next, size - 7);
      expect(search.indexOf(pattern, size - 20, size * 2)).toBe(size - 7);
      expect(search.indexOf(pattern, size - 6, size * 2)).toBe(-1);
      buf = next;
      size *= 2;
    }
    const small = search.buffer(1024, 0);
    small.fill('y');
    pattern.copy(small, 1000);
    expect(search.indexOf(pattern, 0, 1024)).toBe(1000);
  });
});
