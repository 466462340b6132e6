import type { Stats } from 'node:fs';
import type { FileState } from '../store/ledger.js';

/** `dev:ino`: a file replaced under the same name gets a new identity. */
export function identityOf(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

/** The file is the one the ledger read, and it has not changed since. */
export function unchangedSince(prev: FileState | undefined, st: Stats): boolean {
  return (
    prev !== undefined &&
    prev.identity === identityOf(st) &&
    prev.size === st.size &&
    prev.mtimeMs === st.mtimeMs
  );
}

/** The state of a file read whole (a JSON document, not a log): its end is its offset. */
export function wholeFileState(path: string, st: Stats): FileState {
  return {
    path,
    size: st.size,
    mtimeMs: st.mtimeMs,
    identity: identityOf(st),
    headHash: '',
    offset: st.size,
    lines: 0,
    firstTs: null,
  };
}
