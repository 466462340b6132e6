import { resolve } from 'node:path';
import type { EventFilter, GroupBy } from '../core/aggregate.js';
import type { PriceBook } from '../core/pricing.js';
import {
  type DirectReport,
  type DirectScan,
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

export async function ingestWithProgress(
  paths: string[],
  ledger: LedgerStore,
  book: PriceBook,
  inputShare?: number,
): Promise<IngestResult> {
  const progress = progressLine();
  try {
    return await ingestClaude(
      paths,
      ledger,
      book,
      progress.update,
      inputShare === undefined ? {} : { inputShare },
    );
  } finally {
    progress.done();
  }
}

export async function scanWithProgress(
  paths: string[],
  book: PriceBook,
  inputShare?: number,
): Promise<DirectScan> {
  const progress = progressLine();
  try {
    return await scanClaudeDirect(
      paths,
      book,
      progress.update,
      inputShare === undefined ? {} : { inputShare },
    );
  } finally {
    progress.done();
  }
}

export async function reportWithProgress(
  paths: string[],
  book: PriceBook,
  task: { by: GroupBy; filter: EventFilter },
  inputShare?: number,
): Promise<DirectReport> {
  const progress = progressLine();
  try {
    return await reportClaudeDirect(
      paths,
      book,
      task,
      progress.update,
      inputShare === undefined ? {} : { inputShare },
    );
  } finally {
    progress.done();
  }
}

export async function openLedger(path: string): Promise<LedgerStore> {
  const { openSqliteLedger } = await import('../store/sqlite.js');
  return openSqliteLedger(path);
}
