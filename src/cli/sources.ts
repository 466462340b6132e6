import { resolve } from 'node:path';
import type { EventFilter, GroupBy } from '../core/aggregate.js';
import type { PriceBook } from '../core/pricing.js';
import {
  type DirectReport,
  type DirectScan,
  type IngestProgress,
  type IngestResult,
  ingestClaude,
  reportClaudeDirect,
  scanClaudeDirect,
} from '../ingest/claude.js';
import { defaultClaudeRoots } from '../sources/claude-discover.js';
import type { LedgerStore } from '../store/ledger.js';
import { UsageError } from './errors.js';
import { progressLine } from './progress.js';

/**
 * The paths to read: the ones given, else Claude Code's data folders. With `ledgerOnly` (a command
 * reading the ledger), no folder is fine: the ledger still holds what the live meter recorded.
 */
export function inputPaths(given: string[], ledgerOnly = false): { paths: string[]; explicit: boolean } {
  if (given.length > 0) return { paths: given.map((p) => resolve(p)), explicit: true };
  const roots = defaultClaudeRoots();
  if (roots.length === 0 && ledgerOnly) return { paths: [], explicit: false };
  if (roots.length === 0) {
    throw new UsageError(
      'no Claude Code logs found (looked in $CLAUDE_CONFIG_DIR, ~/.config/claude and ~/.claude); pass a path: tokenledger report PATH',
    );
  }
  return { paths: roots, explicit: false };
}

/** Runs a read with a progress line on stderr (see `progressLine`), cleared at the end. */
async function withProgressLine<T>(read: (update: (p: IngestProgress) => void) => Promise<T>): Promise<T> {
  const progress = progressLine();
  try {
    return await read(progress.update);
  } finally {
    progress.done();
  }
}

const shareOption = (inputShare: number | undefined) => (inputShare === undefined ? {} : { inputShare });

export function ingestWithProgress(
  paths: string[],
  ledger: LedgerStore,
  book: PriceBook,
  inputShare?: number,
): Promise<IngestResult> {
  return withProgressLine((update) => ingestClaude(paths, ledger, book, update, shareOption(inputShare)));
}

export function scanWithProgress(paths: string[], book: PriceBook, inputShare?: number): Promise<DirectScan> {
  return withProgressLine((update) => scanClaudeDirect(paths, book, update, shareOption(inputShare)));
}

export function reportWithProgress(
  paths: string[],
  book: PriceBook,
  task: { by: GroupBy; filter: EventFilter },
  inputShare?: number,
): Promise<DirectReport> {
  return withProgressLine((update) => reportClaudeDirect(paths, book, task, update, shareOption(inputShare)));
}

export async function openLedger(path: string): Promise<LedgerStore> {
  const { openSqliteLedger } = await import('../store/sqlite.js');
  return openSqliteLedger(path);
}
