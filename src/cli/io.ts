import { isAbsolute, relative } from 'node:path';
import { ANSI_STYLE, NO_STYLE, type Style } from '../report/table.js';

/** Where a command writes; injected so tests can capture it. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  style: Style;
}

export function processIo(): Io {
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    style: colour ? ANSI_STYLE : NO_STYLE,
  };
}

/** A path as the user would type it: relative to the working folder when inside it. */
export function displayPath(p: string, cwd = process.cwd()): string {
  const rel = relative(cwd, p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}
