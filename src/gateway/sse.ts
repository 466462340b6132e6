/**
 * Server-sent events read off the wire, beside the bytes that go on to the client. The gateway
 * writes each upstream chunk to the client first and only then gives it to an {@link SseFramer},
 * so parsing never delays a byte.
 *
 * Line ends: `\n` and `\r\n` (what every provider sends). A lone `\r` line end (allowed by the SSE
 * spec, used by nobody here) is not recognised: its events would not be read, but the bytes still
 * pass through unchanged.
 */

/** One event's fields: `event:` (absent for the default `message` type) and the joined `data:` lines. */
export interface SseEvent {
  event?: string;
  data: string;
}

const LF = 10;
const CR = 13;

/**
 * Splits a byte stream into SSE blocks: the bytes of one event up to and including the blank line
 * that ends it. Blocks are views into the chunks (no copy) unless an event spans chunks.
 *
 * @example
 * const framer = new SseFramer();
 * upstream.on('data', (chunk) => framer.push(chunk, (block) => console.log(parseSseBlock(block))));
 */
export class SseFramer {
  #pending: Buffer | undefined;
  /** Where the current line starts, in `#pending`. */
  #lineStart = 0;

  /** Feeds bytes; calls `onBlock` for every block completed by them, in order. */
  push(chunk: Buffer, onBlock: (block: Buffer) => void): void {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    let blockStart = 0;
    let lineStart = this.#lineStart;
    let at = this.#pending ? this.#pending.length : 0;
    while (true) {
      const nl = buf.indexOf(LF, at);
      if (nl < 0) break;
      const len = nl - lineStart;
      if (len === 0 || (len === 1 && buf[lineStart] === CR)) {
        onBlock(buf.subarray(blockStart, nl + 1));
        blockStart = nl + 1;
      }
      lineStart = nl + 1;
      at = nl + 1;
    }
    if (blockStart >= buf.length) {
      this.#pending = undefined;
      this.#lineStart = 0;
    } else {
      this.#pending = buf.subarray(blockStart);
      this.#lineStart = lineStart - blockStart;
    }
  }

  /** Bytes received after the last complete block (an event cut short), if any. */
  rest(): Buffer | undefined {
    return this.#pending;
  }
}

/**
 * One block's fields, per the SSE spec: `field: value` (one optional space after the colon),
 * several `data:` lines joined by `\n`, comments (`:`) and other fields ignored. `undefined` for a
 * block with no `data` (a comment, a keep-alive, blank lines).
 */
export function parseSseBlock(block: Buffer): SseEvent | undefined {
  const text = block.toString('utf8');
  let event: string | undefined;
  let data: string | undefined;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === CR ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (line === '' || line.charCodeAt(0) === 58 /* : */) continue;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (name === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (name === 'event') event = value;
  }
  if (data === undefined) return undefined;
  return event === undefined ? { data } : { event, data };
}
