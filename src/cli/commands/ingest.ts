import { ledgerPath, loadPriceBook } from '../../config.js';
import { groupThousands } from '../../core/money.js';
import { parse } from '../args.js';
import { displayPath, type Io } from '../io.js';
import { ingestWithProgress, inputPaths, openLedger } from '../sources.js';

export const INGEST_HELP = `tokenledger ingest [PATH…] [--ledger FILE] [--prices FILE] [--json]

Reads what is new in Claude Code transcripts into the ledger. Incremental (only appended bytes are
read), idempotent (re-reading adds nothing twice) and crash-safe (one transaction per batch).`;

const OPTIONS = {
  ledger: { type: 'string' },
  prices: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function ingestCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(INGEST_HELP);
    return 0;
  }
  const { paths } = inputPaths(positionals);
  const book = loadPriceBook(v.prices);
  const file = ledgerPath(v.ledger);
  const ledger = await openLedger(file);
  try {
    const r = await ingestWithProgress(paths, ledger, book);
    if (v.json) {
      const { stats, problems, ...counts } = r;
      io.out(
        JSON.stringify(
          { ledger: file, ...counts, ...stats, problems, problemCount: problems.length },
          null,
          2,
        ),
      );
      return 0;
    }
    io.out(
      `ingested ${groupThousands(r.stats.filesRead)} of ${groupThousands(r.stats.files)} files ` +
        `(${(r.stats.bytesRead / 1024 / 1024).toFixed(1)} MiB new): ` +
        `${groupThousands(r.inserted)} new calls, ${groupThousands(r.updated)} updated, ${groupThousands(r.unchanged)} already known` +
        (r.repriced ? `, ${groupThousands(r.repriced)} re-priced` : '') +
        (r.workflow.filesRead
          ? `; ${r.workflow.runs} workflow run(s) from ${r.workflow.filesRead} file(s)`
          : '') +
        (r.otlp.filesRead
          ? `; ${groupThousands(r.otlp.events)} OTLP call(s) from ${r.otlp.filesRead} file(s)` +
            (r.otlp.skippedMetrics ? ` (${r.otlp.skippedMetrics} metric series not counted: events are)` : '')
          : '') +
        ` → ${displayPath(file)}`,
    );
    if (r.problems.length) {
      io.err(`${r.problems.length} problem(s) (skipped and counted):`);
      for (const p of r.problems.slice(0, 10))
        io.err(`  ${displayPath(p.file)}${p.line ? `:${p.line}` : ''}: ${p.reason}`);
      if (r.problems.length > 10) io.err(`  … and ${r.problems.length - 10} more (--json lists them)`);
    }
    return 0;
  } finally {
    ledger.close();
  }
}
