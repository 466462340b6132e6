import { statSync } from 'node:fs';
import type { Problem, UsageEvent } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import { parseOtlpFile } from '../sources/otlp.js';
import type { FileState, LedgerStore } from '../store/ledger.js';
import { unchangedSince, wholeFileState } from './file-state.js';

export interface OtlpScan {
  events: UsageEvent[];
  problems: Problem[];
  skippedMetrics: number;
}

/** Reads OTLP/JSON files straight from disk (no ledger). The same span in two files counts once. */
export function scanOtlpDirect(files: string[], book: PriceBook): OtlpScan {
  const out: OtlpScan = { events: [], problems: [], skippedMetrics: 0 };
  const seen = new Set<string>();
  for (const file of files) {
    const parsed = parseOtlpFile(file, book);
    out.problems.push(...parsed.problems);
    out.skippedMetrics += parsed.skippedMetrics;
    for (const e of parsed.events) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.events.push(e);
    }
  }
  return out;
}

export interface OtlpIngest {
  filesRead: number;
  events: number;
  skippedMetrics: number;
  problems: Problem[];
}

/**
 * Ingests OTLP files that changed. A span's place in the agent tree depends on spans anywhere in the
 * file, so a changed file is read whole and replaces the events it gave before.
 */
/** `states`: the ledger's file states when the caller already loaded them. */
export function ingestOtlp(
  files: string[],
  ledger: LedgerStore,
  book: PriceBook,
  states?: Map<string, FileState>,
): OtlpIngest {
  const result: OtlpIngest = { filesRead: 0, events: 0, skippedMetrics: 0, problems: [] };
  if (files.length === 0) return result;
  const known = states ?? ledger.fileStates();
  for (const file of files) {
    const st = statSync(file);
    if (unchangedSince(known.get(file), st)) continue;
    const parsed = parseOtlpFile(file, book);
    const state = wholeFileState(file, st);
    ledger.commit({
      events: parsed.events.map((event) => ({ event, origin: { rank: 0, firstTs: null, file, line: 0 } })),
      files: [state],
      resetProblemsFor: [file],
      problems: parsed.problems,
      links: [],
      replaceEventsFrom: [{ file, source: 'otlp' }],
    });
    result.filesRead++;
    result.events += parsed.events.length;
    result.skippedMetrics += parsed.skippedMetrics;
    result.problems.push(...parsed.problems);
  }
  return result;
}
