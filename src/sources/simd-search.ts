import { SIMD_SEARCH_WASM_BASE64 } from './simd-search.wasm.js';

/**
 * A read buffer plus a pattern search over it. The search may keep the buffer somewhere only it can
 * search fast (WebAssembly memory), which is why it hands the buffer out instead of taking one.
 */
export interface BufferSearch {
  /**
   * The buffer to read into, `size` bytes, whose first `keep` bytes are those of the buffer returned
   * before. Buffers returned before must not be used any more (growing WebAssembly memory detaches
   * them). Not reentrant: one reader at a time per thread.
   */
  buffer(size: number, keep: number): Buffer;
  /**
   * The offset of the first occurrence of `pattern` in the current buffer that lies wholly within
   * `[from, to)`, or -1: what `buffer.subarray(0, to).indexOf(pattern, from)` gives. A pattern is
   * recognised by identity, so its bytes must not change once searched for.
   */
  indexOf(pattern: Buffer, from: number, to: number): number;
}

/** The longest pattern the SIMD search takes; longer ones use `Buffer.indexOf`. */
export const MAX_SIMD_PATTERN = 64;
/** Buffers up to this size live in WebAssembly memory (which never shrinks); larger ones do not. */
export const MAX_WASM_BUFFER = 1024 * 1024;

const PAGE = 64 * 1024;
const SLOTS = 4; // patterns kept in memory at once; the readers use one or two
const BASE = SLOTS * MAX_SIMD_PATTERN; // the buffer starts right after the pattern slots

// The project compiles without lib.dom, which is where the WebAssembly types live: the part used.
declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module);
    readonly exports: unknown;
  }
  function validate(bytes: Uint8Array): boolean;
}

interface SearchExports {
  memory: WebAssembly.Memory;
  find(start: number, end: number, pat: number, len: number): number;
}

/**
 * The SIMD search, or undefined where WebAssembly or its SIMD instructions are unavailable (old
 * CPUs, `node --jitless`). `wasm` is for tests.
 */
export function createWasmSearch(
  wasm: Uint8Array = Buffer.from(SIMD_SEARCH_WASM_BASE64, 'base64'),
): BufferSearch | undefined {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(wasm)) return undefined;
  let exports: SearchExports;
  try {
    exports = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports as SearchExports;
  } catch {
    return undefined; // e.g. no address space for the memory under a `ulimit -v`
  }
  const { memory, find } = exports;
  let heap = Buffer.from(memory.buffer);
  const slots: (Buffer | undefined)[] = new Array(SLOTS);
  let nextSlot = 0;
  let current: Buffer = Buffer.alloc(0);
  let inWasm = false;

  function slotOf(pattern: Buffer): number {
    for (let k = 0; k < SLOTS; k++) if (slots[k] === pattern) return k;
    const k = nextSlot;
    nextSlot = (nextSlot + 1) % SLOTS;
    slots[k] = pattern;
    heap.set(pattern, k * MAX_SIMD_PATTERN);
    return k;
  }

  return {
    buffer(size, keep) {
      if (size > MAX_WASM_BUFFER) {
        if (current.length !== size) current = copyInto(Buffer.allocUnsafe(size), current, keep);
        inWasm = false;
        return current;
      }
      const missing = BASE + size - memory.buffer.byteLength;
      // Growing keeps the bytes in place but detaches every view: `heap` and `current` are redone.
      if (missing > 0) memory.grow(Math.ceil(missing / PAGE));
      if (heap.buffer !== memory.buffer) heap = Buffer.from(memory.buffer);
      const view = heap.subarray(BASE, BASE + size);
      current = inWasm ? view : copyInto(view, current, keep);
      inWasm = true;
      return current;
    },
    indexOf(pattern, from, to) {
      if (!inWasm || pattern.length < 2 || pattern.length > MAX_SIMD_PATTERN) {
        return boundedIndexOf(current, pattern, from, to);
      }
      const at = find(BASE + from, BASE + to, slotOf(pattern) * MAX_SIMD_PATTERN, pattern.length);
      return at === -1 ? -1 : at - BASE;
    },
  };
}

/** The same contract with plain `Buffer.indexOf`: what runs where the SIMD search cannot. */
export function createPlainSearch(): BufferSearch {
  let small: Buffer | undefined;
  let current: Buffer = Buffer.alloc(0);
  return {
    buffer(size, keep) {
      if (current.length === size) return current;
      // The common size is kept for the next file: allocating per small file costs page faults.
      const next = size === small?.length ? small : Buffer.allocUnsafe(size);
      if (small === undefined && size <= MAX_WASM_BUFFER) small = next;
      current = copyInto(next, current, keep);
      return current;
    },
    indexOf: (pattern, from, to) => boundedIndexOf(current, pattern, from, to),
  };
}

/** The SIMD search where it runs, else the plain one. */
export function createBufferSearch(): BufferSearch {
  return createWasmSearch() ?? createPlainSearch();
}

function copyInto(target: Buffer, source: Buffer, keep: number): Buffer {
  if (keep > 0) source.copy(target, 0, 0, keep);
  return target;
}

function boundedIndexOf(buf: Buffer, pattern: Buffer, from: number, to: number): number {
  const at = buf.indexOf(pattern, from);
  // The first match ending past `to` means every later one does too.
  return at !== -1 && at + pattern.length <= to ? at : -1;
}
