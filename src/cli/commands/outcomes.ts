import { resolve } from 'node:path';
import { ledgerPath } from '../../config.js';
import type { Problem } from '../../core/event.js';
import type { Outcome } from '../../core/insights/outcomes.js';
import { formatUsd, groupThousands, usdToNano } from '../../core/money.js';
import { renderTerminalTable } from '../../report/table.js';
import { type OutcomeFile, readOutcomesFile } from '../../sources/outcomes.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';
import { displayPath, type Io } from '../io.js';
import { openLedger } from '../sources.js';

export const OUTCOMES_HELP = `tokenledger outcomes import FILE… [--ledger FILE] [--json]
tokenledger outcomes list [--ledger FILE] [--json]

Records how runs ended, for the cost per success, per unit and ROI of \`tokenledger insights\`.
FILE is CSV (a header row; columns run|run_id|trace_id|traceId, success, and optionally score,
units, value_usd) or JSONL (one object per line with the same keys). success is true/false, 1/0 or
yes/no. One verdict per run: importing again replaces a run's verdict (last write wins) and
changes nothing when it is the same. A line that cannot be read is reported with its file and
line and skipped; the others are imported. The live meter records the same with
meter.outcome(run, { success, score, units, valueUsd }).`;

const OPTIONS = {
  ledger: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function outcomesCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  const [sub, ...files] = positionals;
  if (v.help || sub === 'help') {
    io.out(OUTCOMES_HELP);
    return 0;
  }
  if (sub === 'import') return importOutcomes(files, v, io);
  if (sub === 'list') {
    if (files.length) throw new UsageError(`outcomes list takes no arguments, got "${files[0]}"`);
    return listOutcomes(v, io);
  }
  throw new UsageError(
    sub === undefined
      ? 'which one? tokenledger outcomes import FILE… | tokenledger outcomes list'
      : `unknown outcomes command "${sub}" (import or list)`,
  );
}

async function importOutcomes(
  files: string[],
  v: { ledger?: string | undefined; json?: boolean | undefined },
  io: Io,
): Promise<number> {
  if (files.length === 0) throw new UsageError('which file? tokenledger outcomes import FILE…');
  // Read every file first: a missing one is a usage error before anything is written.
  const read: OutcomeFile[] = files.map((f) => readOutcomesFile(resolve(f), f));
  const outcomes = read.flatMap((r) => r.outcomes);
  const problems: Problem[] = read.flatMap((r) =>
    r.problems.map((p) => ({ ...p, file: displayPath(p.file) })),
  );
  const runs = new Set(outcomes.map((o) => o.run)).size;
  const file = ledgerPath(v.ledger);
  const ledger = await openLedger(file);
  let changed: number;
  try {
    changed = ledger.putOutcomes(outcomes);
  } finally {
    ledger.close();
  }
  const rejected = read.reduce((n, r) => n + r.rejected, 0);
  const duplicates = [...new Set(read.flatMap((r) => r.duplicates))].sort();
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          ledger: file,
          files: read.map((r) => ({
            file: displayPath(r.file),
            format: r.format,
            records: r.records,
            imported: r.outcomes.length,
            rejected: r.rejected,
            duplicates: r.duplicates,
            ignoredFields: r.ignoredFields,
          })),
          imported: outcomes.length,
          runs,
          newOrChanged: changed,
          unchanged: runs - changed,
          rejected,
          problems,
          problemCount: problems.length,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const from = read.length === 1 ? displayPath(read[0]!.file) : `${read.length} files`;
  io.out(
    `imported ${groupThousands(outcomes.length)} outcome(s) from ${from}: ${groupThousands(changed)} new or changed, ` +
      `${groupThousands(runs - changed)} already known` +
      (rejected ? `; ${groupThousands(rejected)} line(s) rejected` : '') +
      ` → ${displayPath(file)}`,
  );
  if (duplicates.length)
    io.out(
      `${duplicates.length} run(s) given more than once (the last line counts): ${duplicates.slice(0, 5).join(', ')}${duplicates.length > 5 ? ', …' : ''}`,
    );
  for (const r of read)
    if (r.ignoredFields.length)
      io.out(`${displayPath(r.file)}: ignored column(s) ${r.ignoredFields.map((f) => `"${f}"`).join(', ')}`);
  if (problems.length) {
    io.err(`${problems.length} problem(s) (those lines skipped, the others imported):`);
    for (const p of problems.slice(0, 10)) io.err(`  ${p.file}${p.line ? `:${p.line}` : ''}: ${p.reason}`);
    if (problems.length > 10) io.err(`  … and ${problems.length - 10} more (--json lists them)`);
  }
  return 0;
}

async function listOutcomes(
  v: { ledger?: string | undefined; json?: boolean | undefined },
  io: Io,
): Promise<number> {
  const file = ledgerPath(v.ledger);
  const ledger = await openLedger(file);
  let all: Outcome[];
  try {
    all = ledger.outcomes();
  } finally {
    ledger.close();
  }
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          ledger: file,
          outcomes: all.map((o) => ({
            ...o,
            ...(o.ts !== undefined ? { recorded: new Date(o.ts).toISOString() } : {}),
          })),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (all.length === 0) {
    io.out('No outcomes recorded (tokenledger outcomes import FILE, or meter.outcome() in your code).');
    return 0;
  }
  const successes = all.filter((o) => o.success).length;
  io.out(io.style.bold(`${all.length} outcome(s) · ${successes} success(es) · ledger ${displayPath(file)}`));
  io.out('');
  const head = ['Run', 'Success', 'Score', 'Units', 'Value', 'Recorded', 'Source'];
  io.out(
    renderTerminalTable(
      {
        head,
        right: [false, false, true, true, true, false, false],
        rows: all.map((o) => [
          o.run,
          o.success ? 'yes' : 'no',
          o.score === undefined ? '' : String(o.score),
          o.units === undefined ? '' : String(o.units),
          o.valueUsd === undefined ? '' : formatUsd(usdToNano(o.valueUsd)),
          o.ts === undefined ? '' : new Date(o.ts).toISOString().slice(0, 16).replace('T', ' '),
          o.source === undefined ? '' : o.source === 'meter' ? 'meter' : displayPath(o.source),
        ]),
      },
      io.style,
    ),
  );
  return 0;
}
