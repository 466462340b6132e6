import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Problem } from '../core/event.js';
import type { Outcome } from '../core/insights/outcomes.js';
import { PathNotFoundError } from './claude-discover.js';

/**
 * Outcome files: how runs ended, from a test suite, a reviewer or a business metric, keyed by run
 * id (a workflow `runId`, the meter's `run`, an OTLP trace id).
 *
 * CSV: a header row, then one run per line. Columns (any order, case and `_`/`-` ignored):
 * `run` (or `run_id`, `trace_id`, `traceId`) and `success` are required; `score`, `units` and
 * `value_usd` are optional; other columns are ignored (and named in the result). Fields may be
 * quoted (`"a,b"`, `""` for a quote); a header without commas but with tabs or semicolons sets that
 * separator.
 *
 * JSONL: one object per line with the same keys (`{"run":"r1","success":true,"units":3}`).
 *
 * `success` is `true`/`false`, `1`/`0` or `yes`/`no` (any case). A line that cannot be read is a
 * {@link Problem} with its file and line and is left out; the other lines still count. Blank lines
 * are skipped. A run given twice keeps its last line (and is listed in `duplicates`).
 */

export type OutcomeFormat = 'csv' | 'jsonl';

export interface OutcomeFile {
  file: string;
  format: OutcomeFormat;
  /** The lines read (one outcome each, in file order; the `source` is the file). */
  outcomes: Outcome[];
  /** Lines that could not be read, with why. */
  problems: Problem[];
  /** Data lines (not blank, not the header). */
  records: number;
  /** Data lines left out (a header problem leaves out every line, with one problem). */
  rejected: number;
  /** Run ids given on more than one line (the last line counts). */
  duplicates: string[];
  /** CSV columns or JSON keys that are not outcome fields. */
  ignoredFields: string[];
}

type Field = 'run' | 'success' | 'score' | 'units' | 'valueUsd';

const FIELD_OF: Record<string, Field> = {
  run: 'run',
  runid: 'run',
  traceid: 'run',
  success: 'success',
  score: 'score',
  units: 'units',
  valueusd: 'valueUsd',
};

/** `trace_id`, `traceId`, `Trace-ID` → `traceid`. */
const normalizeName = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]/g, '');

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** What one line gave: the raw values of the outcome fields (several run columns may be given). */
type Raw = { runs: string[]; success?: unknown; score?: unknown; units?: unknown; valueUsd?: unknown };

function successOf(v: unknown): boolean | string {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === '1' || s === 'yes') return true;
    if (s === 'false' || s === '0' || s === 'no') return false;
  }
  const shown = v === undefined || v === '' ? 'nothing' : JSON.stringify(v);
  return `success must be true/false, 1/0 or yes/no; got ${shown}`;
}

function numberOf(name: string, v: unknown, min?: number): number | undefined | string {
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && NUMBER.test(v.trim())) n = Number(v.trim());
  else return `${name} is not a number: ${JSON.stringify(v)}`;
  if (!Number.isFinite(n)) return `${name} is not a finite number: ${JSON.stringify(v)}`;
  if (min !== undefined && n < min) return `${name} must be ≥ ${min}, got ${n}`;
  return n;
}

/** The outcome of one line, or why it cannot be read. */
function outcomeOf(raw: Raw, source: string): Outcome | string {
  const runs = [...new Set(raw.runs.map((r) => r.trim()).filter((r) => r !== ''))];
  if (runs.length === 0) return 'no run id (a run, run_id, trace_id or traceId field)';
  if (runs.length > 1)
    return `the run id fields disagree: ${runs.map((r) => JSON.stringify(r)).join(' vs ')}`;
  const success = successOf(raw.success);
  if (typeof success === 'string') return success;
  const o: Outcome = { run: runs[0]!, success, source };
  const score = numberOf('score', raw.score);
  const units = numberOf('units', raw.units, 0);
  const value = numberOf('value_usd', raw.valueUsd);
  for (const v of [score, units, value]) if (typeof v === 'string') return v;
  if (typeof score === 'number') o.score = score;
  if (typeof units === 'number') o.units = units;
  if (typeof value === 'number') o.valueUsd = value;
  return o;
}

/**
 * Splits one CSV line (RFC 4180 quoting within the line). Returns the fields, or why it cannot:
 * a quoted field spanning lines is not supported and reported as unterminated.
 */
export function splitCsvLine(line: string, sep = ','): string[] | string {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return 'unterminated quoted field';
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      // Spaces after the closing quote are tolerated; anything else is a malformed field.
      while (line[i] === ' ') i++;
      if (i < line.length && line[i] !== sep) return 'text after a closing quote';
      out.push(v);
    } else {
      const next = line.indexOf(sep, i);
      out.push(next < 0 ? line.slice(i) : line.slice(i, next));
      i = next < 0 ? line.length : next;
    }
    if (i >= line.length) return out;
    i++; // past the separator
    if (i === line.length) {
      out.push('');
      return out;
    }
  }
}

interface Acc {
  result: OutcomeFile;
  lastLine: Map<string, number>;
  dup: Set<string>;
}

function accept(acc: Acc, o: Outcome | string, line: number): void {
  const r = acc.result;
  r.records++;
  if (typeof o === 'string') {
    r.rejected++;
    r.problems.push({ file: r.file, line, reason: o });
    return;
  }
  if (acc.lastLine.has(o.run)) acc.dup.add(o.run);
  acc.lastLine.set(o.run, line);
  r.outcomes.push(o);
}

function parseCsv(lines: string[], acc: Acc): void {
  const r = acc.result;
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt < 0) return;
  const header = lines[headerAt]!;
  const sep = header.includes(',') ? ',' : header.includes('\t') ? '\t' : header.includes(';') ? ';' : ',';
  const names = splitCsvLine(header, sep);
  const dataLines = lines.slice(headerAt + 1).filter((l) => l.trim() !== '').length;
  const headerProblem = (reason: string) => {
    r.records += dataLines;
    r.rejected += dataLines;
    r.problems.push({
      file: r.file,
      line: headerAt + 1,
      reason: `${reason}; none of the file's ${dataLines} data line(s) read`,
    });
  };
  if (typeof names === 'string') {
    headerProblem(`header: ${names}`);
    return;
  }
  const fields = names.map((n) => FIELD_OF[normalizeName(n)]);
  r.ignoredFields = names.filter((_, i) => fields[i] === undefined).map((n) => n.trim());
  const missing = !fields.includes('run')
    ? 'the header has no run column (run, run_id, trace_id or traceId)'
    : !fields.includes('success')
      ? 'the header has no success column'
      : undefined;
  if (missing) {
    headerProblem(missing);
    return;
  }

  for (let i = headerAt + 1; i < lines.length; i++) {
    const text = lines[i]!;
    if (text.trim() === '') continue;
    const cells = splitCsvLine(text, sep);
    if (typeof cells === 'string') {
      accept(acc, cells, i + 1);
      continue;
    }
    if (cells.length !== names.length) {
      accept(acc, `${cells.length} field(s), the header has ${names.length}`, i + 1);
      continue;
    }
    const raw: Raw = { runs: [] };
    cells.forEach((c, j) => {
      const f = fields[j];
      if (f === 'run') raw.runs.push(c);
      else if (f !== undefined) raw[f] = c;
    });
    accept(acc, outcomeOf(raw, r.file), i + 1);
  }
}

function parseJsonl(lines: string[], acc: Acc): void {
  const ignored = new Set<string>();
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = undefined;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      accept(acc, 'not a JSON object (malformed or truncated line)', i + 1);
      return;
    }
    const raw: Raw = { runs: [] };
    let badRun: string | undefined;
    for (const [k, v] of Object.entries(obj)) {
      const f = FIELD_OF[normalizeName(k)];
      if (f === undefined) ignored.add(k);
      else if (f === 'run') {
        if (typeof v === 'string') raw.runs.push(v);
        else if (v !== null && v !== undefined) badRun = `${k} must be a string, got ${JSON.stringify(v)}`;
      } else raw[f] = v;
    }
    accept(acc, badRun ?? outcomeOf(raw, acc.result.file), i + 1);
  });
  acc.result.ignoredFields = [...ignored].sort();
}

/** The format of a file: by extension (`.csv`; `.jsonl`, `.ndjson`, `.json`), else by its first line. */
export function outcomeFormatOf(file: string, text: string): OutcomeFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '');
  return first?.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

/**
 * Parses an outcome file's text (see the module notes). `file` names the file in problems and is
 * each outcome's `source`.
 *
 * @example
 * parseOutcomes('run,success,units\nr1,yes,3\nr2,no,\n', 'outcomes.csv').outcomes;
 * // [{ run: 'r1', success: true, units: 3, source: 'outcomes.csv' }, { run: 'r2', success: false, source: 'outcomes.csv' }]
 */
export function parseOutcomes(text: string, file: string, format = outcomeFormatOf(file, text)): OutcomeFile {
  const result: OutcomeFile = {
    file,
    format,
    outcomes: [],
    problems: [],
    records: 0,
    rejected: 0,
    duplicates: [],
    ignoredFields: [],
  };
  const acc: Acc = { result, lastLine: new Map(), dup: new Set() };
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (format === 'csv') parseCsv(lines, acc);
  else parseJsonl(lines, acc);
  result.duplicates = [...acc.dup].sort();
  return result;
}

/** Reads and parses an outcome file. Throws `PathNotFoundError` when it does not exist. */
export function readOutcomesFile(file: string, shownAs = file): OutcomeFile {
  if (!existsSync(file)) throw new PathNotFoundError(`no such file: ${shownAs}`);
  return parseOutcomes(readFileSync(file, 'utf8'), file);
}
