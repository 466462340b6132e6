import { describe, expect, it } from 'vitest';
import { outcomeFormatOf, parseOutcomes, splitCsvLine } from './outcomes.js';

describe('splitCsvLine', () => {
  it('splits plain and quoted fields, keeps empty ones', () => {
    expect(splitCsvLine('a,b,,d')).toEqual(['a', 'b', '', 'd']);
    expect(splitCsvLine('a,')).toEqual(['a', '']);
    expect(splitCsvLine(',a')).toEqual(['', 'a']);
    expect(splitCsvLine('"x, y","say ""hi""",z')).toEqual(['x, y', 'say "hi"', 'z']);
    expect(splitCsvLine('a\tb', '\t')).toEqual(['a', 'b']);
  });

  it('reports an unterminated quote or text after a closing quote', () => {
    expect(splitCsvLine('"abc,d')).toBe('unterminated quoted field');
    expect(splitCsvLine('"abc"x,d')).toBe('text after a closing quote');
  });
});

describe('parseOutcomes: CSV', () => {
  it('reads every column, in any order and spelling, and ignores (and names) the others', () => {
    const r = parseOutcomes(
      'Value_USD,trace-id,Success,units,score,notes\n4.5,r1,YES,3,0.9,good\n,r2,0,,,\n\n,r3,False,0,,x\n',
      'o.csv',
    );
    expect(r.format).toBe('csv');
    expect(r.problems).toEqual([]);
    expect(r.records).toBe(3);
    expect(r.ignoredFields).toEqual(['notes']);
    expect(r.outcomes).toEqual([
      { run: 'r1', success: true, units: 3, score: 0.9, valueUsd: 4.5, source: 'o.csv' },
      { run: 'r2', success: false, source: 'o.csv' },
      { run: 'r3', success: false, units: 0, source: 'o.csv' },
    ]);
  });

  it('reports bad lines with file and line and keeps the others', () => {
    const text = [
      'run,success,units,score', // 1
      'r1,true,1,', // 2
      'r2,maybe,1,', // 3: bad success
      ',true,1,', // 4: no run
      'r3,no,-2,', // 5: negative units
      'r4,yes,1,abc', // 6: score not a number
      'r5,yes,1', // 7: 3 fields
      'r6,"yes,1,', // 8: unterminated quote
      'r1,false,0,', // 9: r1 again, the last line wins
    ].join('\r\n');
    const r = parseOutcomes(text, 'o.csv');
    expect(r.problems).toEqual([
      { file: 'o.csv', line: 3, reason: 'success must be true/false, 1/0 or yes/no; got "maybe"' },
      { file: 'o.csv', line: 4, reason: 'no run id (a run, run_id, trace_id or traceId field)' },
      { file: 'o.csv', line: 5, reason: 'units must be ≥ 0, got -2' },
      { file: 'o.csv', line: 6, reason: 'score is not a number: "abc"' },
      { file: 'o.csv', line: 7, reason: '3 field(s), the header has 4' },
      { file: 'o.csv', line: 8, reason: 'unterminated quoted field' },
    ]);
    expect(r.records).toBe(8);
    expect(r.rejected).toBe(6);
    expect(r.outcomes.map((o) => [o.run, o.success])).toEqual([
      ['r1', true],
      ['r1', false],
    ]);
    expect(r.duplicates).toEqual(['r1']);
  });

  it('a header without a run or success column rejects every line with one problem', () => {
    const r = parseOutcomes('id,success\nr1,yes\nr2,no\n', 'o.csv');
    expect(r.outcomes).toEqual([]);
    expect(r.rejected).toBe(2);
    expect(r.problems).toEqual([
      {
        file: 'o.csv',
        line: 1,
        reason:
          "the header has no run column (run, run_id, trace_id or traceId); none of the file's 2 data line(s) read",
      },
    ]);
    expect(parseOutcomes('run,units\nr1,3\n', 'o.csv').problems[0]!.reason).toMatch(/no success column/);
  });

  it('run and trace_id columns must agree when both are given', () => {
    const r = parseOutcomes('run,trace_id,success\nr1,,yes\n,t2,yes\nr3,r3,no\nr4,t4,yes\n', 'o.csv');
    expect(r.outcomes.map((o) => o.run)).toEqual(['r1', 't2', 'r3']);
    expect(r.problems).toEqual([
      { file: 'o.csv', line: 5, reason: 'the run id fields disagree: "r4" vs "t4"' },
    ]);
  });

  it('takes the separator from a header without commas (tabs, semicolons)', () => {
    expect(parseOutcomes('run\tsuccess\nr1\tyes\n', 'o.tsv').outcomes).toHaveLength(1);
    expect(parseOutcomes('run;success\nr1;yes\n', 'o.csv').outcomes).toHaveLength(1);
  });
});

describe('parseOutcomes: JSONL', () => {
  it('reads objects, reports a line that is not one, and accepts success spellings', () => {
    const text = [
      '{"traceId":"t1","success":true,"units":2,"valueUsd":3}',
      '{"run_id":"r2","success":"no","score":"0.5"}',
      'not json',
      '[1,2]',
      '{"run":"r3","success":1,"extra":true}',
      '{"run":7,"success":true}',
      '',
    ].join('\n');
    const r = parseOutcomes(text, 'o.jsonl');
    expect(r.format).toBe('jsonl');
    expect(r.outcomes).toEqual([
      { run: 't1', success: true, units: 2, valueUsd: 3, source: 'o.jsonl' },
      { run: 'r2', success: false, score: 0.5, source: 'o.jsonl' },
      { run: 'r3', success: true, source: 'o.jsonl' },
    ]);
    expect(r.problems).toEqual([
      { file: 'o.jsonl', line: 3, reason: 'not a JSON object (malformed or truncated line)' },
      { file: 'o.jsonl', line: 4, reason: 'not a JSON object (malformed or truncated line)' },
      { file: 'o.jsonl', line: 6, reason: 'run must be a string, got 7' },
    ]);
    expect(r.ignoredFields).toEqual(['extra']);
  });
});

describe('outcomeFormatOf', () => {
  it('goes by extension, else by the first line', () => {
    expect(outcomeFormatOf('a.CSV', '{')).toBe('csv');
    expect(outcomeFormatOf('a.ndjson', 'run,success')).toBe('jsonl');
    expect(outcomeFormatOf('a.txt', '\n  {"run":"x"}')).toBe('jsonl');
    expect(outcomeFormatOf('a.txt', 'run,success')).toBe('csv');
  });
});
