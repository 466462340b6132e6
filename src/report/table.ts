/** A plain table rendered for a terminal, Markdown or CSV. Cells are already formatted strings. */
export interface Table {
  head: string[];
  rows: string[][];
  /** Columns aligned right (numbers). */
  right: boolean[];
  /** A last row set apart (totals). */
  foot?: string[];
}

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

const plain = (s: string) => s;
export const NO_STYLE: Style = { bold: plain, dim: plain, red: plain, yellow: plain };
export const ANSI_STYLE: Style = {
  bold: (s) => `\x1b[1m${s}\x1b[22m`,
  dim: (s) => `\x1b[2m${s}\x1b[22m`,
  red: (s) => `\x1b[31m${s}\x1b[39m`,
  yellow: (s) => `\x1b[33m${s}\x1b[39m`,
};

/** Terminal characters wide, counting East Asian wide characters as two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    w +=
      cp >= 0x1100 &&
      /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u.test(
        ch,
      )
        ? 2
        : 1;
  }
  return w;
}

function pad(s: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
}

export function renderTerminalTable(t: Table, style: Style = NO_STYLE): string {
  const all = [t.head, ...t.rows, ...(t.foot ? [t.foot] : [])];
  const widths = t.head.map((_, i) => Math.max(...all.map((r) => displayWidth(r[i] ?? ''))));
  const line = (r: string[]) =>
    r
      .map((c, i) => pad(c, widths[i]!, t.right[i] ?? false))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '─'.repeat(w)).join('  ');
  const out = [style.bold(line(t.head)), style.dim(rule), ...t.rows.map(line)];
  if (t.foot) out.push(style.dim(rule), style.bold(line(t.foot)));
  return out.join('\n');
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdownTable(t: Table): string {
  const row = (r: string[]) => `| ${r.map(mdCell).join(' | ')} |`;
  const sep = `|${t.right.map((r) => (r ? ' ---: ' : ' --- ')).join('|')}|`;
  const out = [row(t.head), sep, ...t.rows.map(row)];
  if (t.foot) out.push(row(t.foot.map((c) => (c ? `**${c}**` : c))));
  return out.join('\n');
}

const csvCell = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function renderCsv(head: string[], rows: (string | number)[][]): string {
  return [head, ...rows].map((r) => r.map((c) => csvCell(String(c))).join(',')).join('\n');
}
