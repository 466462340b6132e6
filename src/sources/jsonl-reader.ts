import { closeSync, openSync, readSync } from 'node:fs';
import { type BufferSearch, createBufferSearch } from './simd-search.js';

/**
 * Reads in chunks so a multi-GB transcript never has to fit in memory. 256 KiB: most transcripts
 * are one read, and the bytes just read are still in the CPU cache when they are searched (8 MiB
 * chunks measured 5–10% slower on the benchmark corpus, 1 MiB and 128 KiB in between).
 */
export const READ_CHUNK_BYTES = 256 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

export interface JsonlScanOptions {
  /** Byte offset to start at (the end of the last complete line read before). */
  from?: number;
  /** Line number of the line at `from`, minus one (lines before it). */
  linesBefore?: number;
  /**
   * A line is handed to `onCandidate` only when it contains one of these byte patterns; every other
   * line is checked for shape (`{…}`) but never decoded. Patterns should not start with a quote:
   * rare first (and last) bytes keep the search fast (see simd-search.ts). The array may grow
   * during the scan; a pattern's bytes must not change.
   */
  patterns: Buffer[];
  /**
   * A line that may matter, as raw bytes `buf[start, end)` and its 1-based line number. The bytes
   * are valid only during the call.
   */
  onCandidate(buf: Buffer, start: number, end: number, line: number, fileOffset: number): void;
  /** A line that is not a JSON object at all. */
  onMalformed(line: number, reason: string): void;
  /**
   * The last line has no newline yet. When `text` parses it is a complete record whose writer did
   * not end it with a newline; when it does not, it is a line still being written.
   */
  onTail?(text: string, line: number): void;
}

export interface JsonlScanResult {
  /** Offset just past the last newline: where the next incremental read starts. */
  endOffset: number;
  /** Lines up to `endOffset`. */
  lines: number;
  bytesRead: number;
}

/**
 * Splits a JSONL file on raw newline bytes, starting at `from`, and decodes only the lines that
 * contain one of the patterns. Each pattern's next match is remembered, so every byte is searched at
 * most once per pattern and no search runs past a line that holds no match.
 */
export function scanJsonl(file: string, opts: JsonlScanOptions): JsonlScanResult {
  const fd = openSync(file, 'r');
  try {
    return scanFd(fd, opts);
  } finally {
    closeSync(fd);
  }
}

// One per thread, reused across files: it holds the read buffer, which for the SIMD search lives in
// WebAssembly memory.
let search: BufferSearch | undefined;

function scanFd(fd: number, opts: JsonlScanOptions): JsonlScanResult {
  const start = opts.from ?? 0;
  search ??= createBufferSearch();
  let buf = search.buffer(READ_CHUNK_BYTES, 0);
  let filePos = start; // file offset of buf[0]
  let have = 0; // valid bytes in buf
  let line = opts.linesBefore ?? 0;
  let bytesRead = 0;
  let eof = false;
  const next = new Array<number>(opts.patterns.length);

  for (;;) {
    if (!eof) {
      // One line longer than the buffer: grow it rather than split the line.
      if (have === buf.length) buf = search.buffer(buf.length * 2, have);
      const n = readSync(fd, buf, have, buf.length - have, filePos + have);
      if (n === 0) eof = true;
      have += n;
      bytesRead += n;
    }
    next.fill(-2);
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(LF, pos);
      if (nl === -1 || nl >= have) break;
      line++;
      let end = nl;
      if (end > pos && buf[end - 1] === CR) end--;
      if (end > pos) visitLine(buf, pos, end, line, next, opts, filePos, search, have);
      pos = nl + 1;
    }
    // Keep the partial line at the front of the buffer for the next read.
    if (pos > 0) {
      buf.copy(buf, 0, pos, have);
      have -= pos;
      filePos += pos;
    }
    if (eof) break;
  }
  if (have > 0 && opts.onTail) {
    let end = have;
    while (end > 0 && (buf[end - 1] === CR || buf[end - 1] === 0x20)) end--;
    if (end > 0) opts.onTail(buf.toString('utf8', 0, end), line + 1);
  }
  return { endOffset: filePos, lines: line, bytesRead };
}

function visitLine(
  buf: Buffer,
  start: number,
  end: number,
  line: number,
  next: number[],
  opts: JsonlScanOptions,
  bufFileOffset: number,
  search: BufferSearch,
  have: number,
): void {
  let s = start;
  let e = end;
  // A UTF-8 byte-order mark is allowed at the start of the file, nowhere else.
  if (bufFileOffset + start === 0 && buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf) s += 3;
  while (s < e && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
  while (e > s && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09)) e--;
  if (s === e) return; // blank line
  if (buf[s] !== OPEN || buf[e - 1] !== CLOSE) {
    opts.onMalformed(line, 'not a JSON object (malformed or truncated line)');
    return;
  }
  const pats = opts.patterns; // may grow during the scan (claude-code adds a pattern on a spawn)
  for (let i = 0; i < pats.length; i++) {
    let hit = next[i] ?? -2;
    if (hit !== -1 && hit < s) {
      hit = search.indexOf(pats[i]!, s, have);
      next[i] = hit;
    }
    if (hit !== -1 && hit < e) {
      opts.onCandidate(buf, s, e, line, bufFileOffset + start);
      return;
    }
  }
}
