import type { IngestProgress } from '../ingest/claude.js';

const MiB = 1024 * 1024;

/**
 * A progress line on stderr, shown only once the work has taken more than a second: rewritten in
 * place on a terminal, a line every few seconds otherwise.
 */
export function progressLine(stream: NodeJS.WriteStream = process.stderr): {
  update(p: IngestProgress): void;
  done(): void;
} {
  const start = Date.now();
  let last = 0;
  let shown = false;
  const tty = stream.isTTY === true;
  return {
    update(p) {
      const now = Date.now();
      if (now - start < 1000 || now - last < (tty ? 100 : 5000)) return;
      last = now;
      shown = true;
      const text = `reading ${p.filesDone}/${p.filesTotal} files, ${(p.bytesDone / MiB).toFixed(0)}/${(p.bytesTotal / MiB).toFixed(0)} MiB`;
      stream.write(tty ? `\r${text}\x1b[K` : `${text}\n`);
    },
    done() {
      if (shown && tty) stream.write('\r\x1b[K');
    },
  };
}
