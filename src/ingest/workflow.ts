import { statSync } from 'node:fs';
import { sep } from 'node:path';
import type { Problem, UsageEvent } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import { type RunSummary, runEvents } from '../core/run.js';
import { parseWorkflowFile } from '../sources/workflow.js';
import type { FileState, LedgerStore } from '../store/ledger.js';
import { unchangedSince, wholeFileState } from './file-state.js';

export interface WorkflowScan {
  runs: RunSummary[];
  events: UsageEvent[];
  problems: Problem[];
}

/** `projects/<project>/<session>/workflows/wf_x.json` → project and session. */
function placeRun(run: RunSummary): void {
  const parts = run.file.split(sep);
  const at = parts.lastIndexOf('projects');
  if (at < 0) return;
  const project = parts[at + 1];
  const session = parts[at + 2];
  if (project && at + 1 < parts.length - 1) run.project = project;
  if (session && at + 2 < parts.length - 1) run.session = session;
}

function readRun(file: string, mtimeMs: number, problems: Problem[]): RunSummary | null {
  const parsed = parseWorkflowFile(file, mtimeMs);
  problems.push(...parsed.problems);
  if (parsed.run) placeRun(parsed.run);
  return parsed.run;
}

/**
 * Two files claiming one runId (a copied file, or two snapshots of one run): keep the fuller one —
 * more agent tokens, then more agents, then the later file — and say so.
 */
export function fullerRun(a: RunSummary, b: RunSummary): RunSummary {
  const tokens = (r: RunSummary) => r.agents.reduce((n, x) => n + x.tokens, 0);
  if (tokens(a) !== tokens(b)) return tokens(a) > tokens(b) ? a : b;
  if (a.agents.length !== b.agents.length) return a.agents.length > b.agents.length ? a : b;
  return a.file >= b.file ? a : b;
}

/** Reported against the file being read, naming the other one and which of the two counts. */
function duplicateProblem(read: RunSummary, other: RunSummary, kept: RunSummary): Problem {
  const which = kept === read ? 'this file' : 'that file';
  return {
    file: read.file,
    line: 0,
    reason: `runId ${read.id} is also in ${other.file}; counted once, from ${which}`,
  };
}

/** Reads workflow telemetry files straight from disk (no ledger). */
export function scanWorkflowsDirect(files: string[], book: PriceBook, inputShare?: number): WorkflowScan {
  const out: WorkflowScan = { runs: [], events: [], problems: [] };
  const byId = new Map<string, RunSummary>();
  for (const file of files) {
    const run = readRun(file, statSync(file).mtimeMs, out.problems);
    if (!run) continue;
    const prev = byId.get(run.id);
    const kept = prev ? fullerRun(prev, run) : run;
    if (prev) out.problems.push(duplicateProblem(run, prev, kept));
    byId.set(run.id, kept);
  }
  for (const run of byId.values()) {
    out.runs.push(run);
    out.events.push(...runEvents(run, book, inputShare));
  }
  return out;
}

export interface WorkflowIngest {
  filesRead: number;
  runs: number;
  events: number;
  problems: Problem[];
}

/**
 * Ingests workflow files that changed since the last ingest (`states`: the ledger's file states,
 * when the caller already loaded them). A run file is a snapshot, so a changed
 * file replaces its run and the run's events whole; an unchanged one is not read.
 */
export function ingestWorkflows(
  files: string[],
  ledger: LedgerStore,
  book: PriceBook,
  inputShare?: number,
  states?: Map<string, FileState>,
): WorkflowIngest {
  const result: WorkflowIngest = { filesRead: 0, runs: 0, events: 0, problems: [] };
  if (files.length === 0) return result;
  const known = states ?? ledger.fileStates();
  for (const file of files) {
    const st = statSync(file);
    if (unchangedSince(known.get(file), st)) continue;
    const problems: Problem[] = [];
    let run = readRun(file, st.mtimeMs, problems);
    const stored = run ? ledger.getRun(run.id) : undefined;
    if (run && stored && stored.file !== run.file) {
      const kept = fullerRun(stored, run);
      problems.push(duplicateProblem(run, stored, kept));
      if (kept === stored) run = null;
    }
    const events = run ? runEvents(run, book, inputShare) : [];
    const state = wholeFileState(file, st);
    ledger.commit({
      events: events.map((event) => ({ event, origin: { rank: 0, firstTs: null, file, line: 0 } })),
      files: [state],
      resetProblemsFor: [file],
      problems,
      links: [],
      // The file may have named its run differently before (a runId written in later).
      dropRunsFrom: [file],
      ...(run ? { runs: [run] } : {}),
    });
    result.filesRead++;
    result.runs += run ? 1 : 0;
    result.events += events.length;
    result.problems.push(...problems);
  }
  return result;
}
