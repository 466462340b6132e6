import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import {
  type Aggregate,
  aggregate,
  type EventFilter,
  type GroupBy,
  mergeAggregates,
} from '../core/aggregate.js';
import type { Problem, UsageEvent } from '../core/event.js';
import { DEFAULT_INPUT_SHARE, type PriceBook, priceEvent } from '../core/pricing.js';
import type { RunSummary } from '../core/run.js';
import { priceBookRecipe } from '../prices/price-book.js';
import type { ClaudeFileInfo, ClaudeFileScan, ClaudeSpawn } from '../sources/claude-code.js';
import {
  type ClaudeAgentMeta,
  type ClaudeDiscovery,
  discoverClaudeFiles,
  readClaudeAgentMeta,
} from '../sources/claude-discover.js';
import type { ClaudeScanJob } from '../sources/claude-scan.js';
import type { FileState, IngestStats, LedgerStore, LinkRecord } from '../store/ledger.js';
import type { PartitionWorkers, ProjectGroup } from './claude-partition.js';
import { identityOf, unchangedSince, wholeFileState } from './file-state.js';
import type { OtlpIngest, OtlpScan } from './otlp.js';
import type { WorkflowIngest, WorkflowScan } from './workflow.js';

export interface IngestProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ScanStats {
  files: number;
  filesRead: number;
  bytesRead: number;
  lines: number;
  synthetic: number;
}

export interface DirectScan {
  events: UsageEvent[];
  /** Workflow runs found (their agents are among `events`). */
  runs: RunSummary[];
  problems: Problem[];
  stats: ScanStats;
}

const PRICE_VERSION_KEY = 'priceVersion';
// Flush to the ledger every this many call copies: bounds memory and the work a crash can lose.
// 25,000 keeps a first ingest of the 500 MiB benchmark tree at 243 MiB peak RSS (median of 6; at
// 50,000: 250 MiB, single runs up to 273), for ~3% more time (calls split across two batches are
// written twice).
const BATCH_COPIES = 25_000;

/** Reads Claude Code transcripts straight from disk (no ledger): `report --no-ledger`. */
export async function scanClaudeDirect(
  paths: string[],
  book: PriceBook,
  onProgress?: (p: IngestProgress) => void,
  options: { inputShare?: number } = {},
): Promise<DirectScan> {
  const found = discoverClaudeFiles(paths);
  const { fullScanJobs } = await scanModules();
  const jobs = fullScanJobs(found.transcripts);
  const problems = [...found.problems];
  const claude = await mergeClaudeFiles(found, jobs, book, problems, tracker(jobs, onProgress));
  const other = await scanOtherFormats(found, book, options);
  problems.push(...other.problems);
  claude.stats.files += other.files;
  return {
    events: [...claude.events, ...other.events],
    runs: other.runs,
    problems: sortProblems(problems),
    stats: claude.stats,
  };
}

/** A report read straight from disk: the sums, without the events behind them. */
export interface DirectReport {
  agg: Aggregate;
  /** Workflow runs found, and their agents' events. */
  runs: RunSummary[];
  runEvents: UsageEvent[];
  problems: Problem[];
  stats: ScanStats;
  /**
   * How the transcripts were tallied: `per-project` (each thread whole projects) or `merged` (every
   * file's calls merged on the main thread). The sums are the same.
   */
  tally: 'per-project' | 'merged';
}

/**
 * `report --no-ledger`: the sums of `scanClaudeDirect`'s events, grouped and filtered. Each thread
 * reads, merges, prices and tallies whole projects and only the sums cross threads, when the tree
 * is large (24 MiB or more, or `options.workers` / `TOKENLEDGER_WORKERS` set), the price book came
 * from `createPriceBook`, the compiled worker is there (not when running from source) and the
 * projects balance across the threads. Otherwise, and when a call turns up in two threads' projects
 * or a worker fails, every file is parsed (on all threads) and merged on the main thread.
 *
 * @param options.workers worker threads besides the main thread (default: cores − 1, none for
 *   small trees)
 * @example
 * const r = await reportClaudeDirect([`${homedir()}/.claude`], createPriceBook(), { by: 'agent', filter: {} });
 * r.agg.groups.map((g) => [g.key, g.costNano]);
 */
export async function reportClaudeDirect(
  paths: string[],
  book: PriceBook,
  task: { by: GroupBy; filter: EventFilter },
  onProgress?: (p: IngestProgress) => void,
  options: { inputShare?: number; workers?: number } = {},
): Promise<DirectReport> {
  const recipe = priceBookRecipe(book);
  const { fullScanJobs, defaultWorkers, workerBudget } = await scanModules();
  const budget = options.workers ?? workerBudget();
  const part = recipe && budget > 0 ? await import('./claude-partition.js') : undefined;
  let pool: PartitionWorkers | undefined;
  try {
    // Started before the files are found (see PartitionWorkers), ended if they are not needed.
    if (recipe && part?.partitionWorkerAvailable()) pool = new part.PartitionWorkers(budget, recipe, task);
    const found = discoverClaudeFiles(paths);
    const jobs = fullScanJobs(found.transcripts);
    const problems = [...found.problems];
    const progress = tracker(jobs, onProgress);
    const workers = options.workers ?? defaultWorkers(jobs);
    let claude: { agg: Aggregate; stats: ScanStats } | null = null;
    if (part && pool && workers === pool.count) {
      const groups = part.projectGroups(jobs);
      if (part.partitionSkew(groups, workers + 1) <= MAX_PARTITION_SKEW)
        claude = await tallyByProject(pool, groups, found, jobs, book, problems, progress);
    }
    pool?.close();
    const tally = claude ? 'per-project' : 'merged';
    if (!claude) {
      const merged = await mergeClaudeFiles(found, jobs, book, problems, progress, workers);
      claude = { agg: aggregate(merged.events, task.by, task.filter), stats: merged.stats };
    }
    const other = await scanOtherFormats(found, book, options);
    problems.push(...other.problems);
    claude.stats.files += other.files;
    return {
      agg: mergeAggregates([claude.agg, aggregate(other.events, task.by, task.filter)], task.by),
      runs: other.runs,
      runEvents: other.events.filter((e) => e.source === 'workflow'),
      problems: sortProblems(problems),
      stats: claude.stats,
      tally,
    };
  } finally {
    pool?.close();
  }
}

/**
 * Tallies whole projects per thread. `null` when a call turned up in two threads' projects (nothing
 * is added to `problems` then).
 */
async function tallyByProject(
  pool: PartitionWorkers,
  groups: ProjectGroup[],
  found: ClaudeDiscovery,
  jobs: ClaudeScanJob[],
  book: PriceBook,
  problems: Problem[],
  progress: Progress,
): Promise<{ agg: Aggregate; stats: ScanStats } | null> {
  const metaProblems: Problem[] = [];
  const out = await pool.run({
    groups,
    book,
    readMetas: () => readMetaFiles(found.metaFiles, metaProblems),
    onProgress: progress.advance,
  });
  if (!out) {
    progress.reset();
    return null;
  }
  problems.push(...metaProblems, ...out.problems);
  return { agg: out.agg, stats: { files: jobs.length, ...out.counts } };
}

// Projects are not split, so a thread may get more than an even share of the bytes. Tallying per
// project saves ~10% of the wall time on an even split (no copies cross threads, the tail runs on
// every thread); it is used only while the slowest thread's share stays within 10% of an even one.
const MAX_PARTITION_SKEW = 1.1;

function readMetaFiles(files: string[], problems: Problem[]): ClaudeAgentMeta[] {
  const metas: ClaudeAgentMeta[] = [];
  for (const file of files) {
    const m = readClaudeAgentMeta(file, problems);
    if (m) metas.push(m);
  }
  return metas;
}

/** Merges every transcript's calls on the main thread (files parsed on all threads) into events. */
async function mergeClaudeFiles(
  found: ClaudeDiscovery,
  jobs: ClaudeScanJob[],
  book: PriceBook,
  problems: Problem[],
  progress: Progress,
  workers?: number,
): Promise<{ events: UsageEvent[]; stats: ScanStats }> {
  const { ClaudeMerge, scanClaudeFiles } = await scanModules();
  const merge = new ClaudeMerge();
  // The merge takes links in any order: agent meta files are read while the workers parse.
  let metasRead = false;
  const readMetas = () => {
    metasRead = true;
    for (const m of readMetaFiles(found.metaFiles, problems)) merge.addMeta(m);
  };
  const stats: ScanStats = { files: jobs.length, filesRead: 0, bytesRead: 0, lines: 0, synthetic: 0 };
  await scanClaudeFiles(jobs, {
    ...(workers === undefined ? {} : { workers }),
    whileWorkersParse: () => {
      book.preload?.();
      readMetas();
    },
    onScan(scan, job) {
      merge.addScan(scan, job.info.project);
      for (const p of scan.problems) problems.push(p);
      count(stats, scan);
      progress.scanned(scan);
    },
  });
  if (!metasRead) readMetas();
  stats.synthetic = merge.synthetic;
  return { events: merge.events(book), stats };
}

/** Workflow telemetry and OTLP files found on the way; their modules load only when there are some. */
async function scanOtherFormats(
  found: ClaudeDiscovery,
  book: PriceBook,
  options: { inputShare?: number },
): Promise<{ events: UsageEvent[]; runs: RunSummary[]; problems: Problem[]; files: number }> {
  const wf: WorkflowScan = found.workflowFiles.length
    ? (await import('./workflow.js')).scanWorkflowsDirect(found.workflowFiles, book, options.inputShare)
    : { runs: [], events: [], problems: [] };
  const otlp: OtlpScan = found.otlpFiles.length
    ? (await import('./otlp.js')).scanOtlpDirect(found.otlpFiles, book)
    : { events: [], problems: [], skippedMetrics: 0 };
  return {
    events: [...wf.events, ...otlp.events],
    runs: wf.runs,
    problems: [...wf.problems, ...otlp.problems],
    files: found.workflowFiles.length + found.otlpFiles.length,
  };
}

export interface IngestResult extends IngestStats {
  /** Workflow telemetry files read in this ingest. */
  workflow: WorkflowIngest;
  /** OTLP/JSON files read in this ingest. */
  otlp: OtlpIngest;
  stats: ScanStats;
  /** Problems found by this ingest (all known problems: `ledger.problems()`). */
  problems: Problem[];
  repriced: number;
}

/**
 * The parser, merge and scheduler load only when there is something to read: a report over an
 * unchanged tree (the common case) is start-up bound.
 */
async function scanModules() {
  const [merge, scan] = await Promise.all([
    import('../sources/claude-merge.js'),
    import('../sources/claude-scan.js'),
  ]);
  return {
    ClaudeMerge: merge.ClaudeMerge,
    fullScanJobs: scan.fullScanJobs,
    scanClaudeFiles: scan.scanClaudeFiles,
    defaultWorkers: scan.defaultWorkers,
    workerBudget: scan.workerBudget,
  };
}

function statToState(st: Stats): { size: number; mtimeMs: number; identity: string } {
  return { size: st.size, mtimeMs: st.mtimeMs, identity: identityOf(st) };
}

/** What the fingerprint reads of a `Stats`. */
export type FileStatLike = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>;

/** A hash of the tree: every file's path, identity, size and mtime. Exported for tests. */
export function treeFingerprint(files: string[], stats: FileStatLike[]): string {
  // The numbers go in as raw doubles and the paths as one joined string: formatting 16k numbers and
  // concatenating a string per file cost more than the hashing (~10 ms of a ~130 ms warm report).
  // The count goes first: it says where the paths end and the numbers begin.
  const nums = new Float64Array(stats.length * 4);
  for (let i = 0; i < stats.length; i++) {
    const st = stats[i]!;
    nums[4 * i] = st.dev;
    nums[4 * i + 1] = st.ino;
    nums[4 * i + 2] = st.size;
    nums[4 * i + 3] = st.mtimeMs;
  }
  return createHash('sha1').update(`${files.length}\n`).update(files.join('\0')).update(nums).digest('hex');
}

function headHash(file: string, length: number): string {
  const n = Math.min(length, 512);
  const buf = Buffer.alloc(n);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, n, 0);
  } finally {
    closeSync(fd);
  }
  return `${n}:${createHash('sha1').update(buf).digest('hex')}`;
}

/** Where to resume a file: its stored offset when it only grew, else the start. */
function planFile(info: ClaudeFileInfo, st: Stats, prev: FileState | undefined): ClaudeScanJob | null {
  if (unchangedSince(prev, st)) return null;
  const identity = identityOf(st);
  const stat = { size: st.size, mtimeMs: st.mtimeMs, identity };
  if (prev && prev.identity === identity && st.size >= prev.offset) {
    const hashedLength = Number(prev.headHash.split(':')[0]);
    if (headHash(info.file, hashedLength) === prev.headHash) {
      return { info, from: { offset: prev.offset, lines: prev.lines }, size: st.size, stat };
    }
  }
  return { info, from: { offset: 0, lines: 0 }, size: st.size, stat };
}

/**
 * Incremental, idempotent, crash-safe ingest of Claude Code transcripts into the ledger: only bytes
 * appended since the last ingest are read; each batch of whole files is one transaction with the
 * files' new offsets, so a killed ingest resumes where its last commit ended.
 */
export async function ingestClaude(
  paths: string[],
  ledger: LedgerStore,
  book: PriceBook,
  onProgress?: (p: IngestProgress) => void,
  options: { inputShare?: number } = {},
): Promise<IngestResult> {
  const found = discoverClaudeFiles(paths);
  const stats: ScanStats = {
    files: found.transcripts.length,
    filesRead: 0,
    bytesRead: 0,
    lines: 0,
    synthetic: 0,
  };
  const result: IngestResult = {
    inserted: 0,
    updated: 0,
    unchanged: 0,
    stats,
    problems: [...found.problems],
    repriced: 0,
    workflow: { filesRead: 0, runs: 0, events: 0, problems: [] },
    otlp: { filesRead: 0, events: 0, skippedMetrics: 0, problems: [] },
  };
  // Prices first: whatever this ingest commits is priced with `book`, so the ledger must already
  // say so before the first batch lands (an ingest killed part-way leaves a true marker).
  // The input share prices workflow tokens, so a new share re-prices them as new price data would.
  const priceVersion = `${book.version}|input-share:${options.inputShare ?? DEFAULT_INPUT_SHARE}`;
  const pricedWith = ledger.getMeta(PRICE_VERSION_KEY);
  if (pricedWith === undefined) ledger.setMeta(PRICE_VERSION_KEY, priceVersion);
  else if (pricedWith !== priceVersion) {
    result.repriced = ledger.reprice((e) => {
      if (e.source === 'claude-code') return priceEvent(book, e.model, e.provider, e.ts, e.usage, e.speed);
      if (e.source === 'otlp') return priceEvent(book, e.model, e.provider, e.ts, e.usage);
      if (e.source === 'workflow')
        return priceEvent(
          book,
          e.model,
          e.provider === 'unknown' ? '' : e.provider,
          e.ts,
          e.usage,
          undefined,
          options.inputShare,
        );
      return null;
    });
    ledger.setMeta(PRICE_VERSION_KEY, priceVersion);
  }
  const transcriptStats = found.transcripts.map((t) => statSync(t.file));
  const metaStats = found.metaFiles.map((f) => statSync(f));
  const workflowStats = found.workflowFiles.map((f) => statSync(f));
  const otlpStats = found.otlpFiles.map((f) => statSync(f));

  // The tree's fingerprint (every file's identity, size and mtime) unchanged since the last ingest of
  // these paths: nothing to read, and the per-file states need not even be loaded.
  const treeKey = `tree:${createHash('sha1').update(paths.join('\n')).digest('hex')}`;
  const fingerprint = treeFingerprint(
    [...found.transcripts.map((t) => t.file), ...found.metaFiles, ...found.workflowFiles, ...found.otlpFiles],
    [...transcriptStats, ...metaStats, ...workflowStats, ...otlpStats],
  );
  if (ledger.getMeta(treeKey) !== fingerprint) {
    const states = ledger.fileStates();
    const jobs: ClaudeScanJob[] = [];
    found.transcripts.forEach((info, i) => {
      const job = planFile(info, transcriptStats[i]!, states.get(info.file));
      if (job) jobs.push(job);
    });

    // Agent meta files are read once: they are recorded as files read to their end.
    const newLinks: LinkRecord[] = [];
    const metaStates: FileState[] = [];
    found.metaFiles.forEach((file, i) => {
      const st = metaStats[i]!;
      if (unchangedSince(states.get(file), st)) return;
      const m = readClaudeAgentMeta(file, result.problems);
      if (m) newLinks.push({ kind: 'claude-meta', key: m.agentId, data: m });
      metaStates.push(wholeFileState(file, st));
    });
    if (jobs.length > 0 || newLinks.length > 0) {
      await ingestJobs({ jobs, newLinks, metaStates, states, ledger, book, result }, onProgress);
    }
    if (found.workflowFiles.length) {
      const { ingestWorkflows } = await import('./workflow.js');
      result.workflow = ingestWorkflows(found.workflowFiles, ledger, book, options.inputShare, states);
    }
    result.problems.push(...result.workflow.problems);
    if (found.otlpFiles.length)
      result.otlp = (await import('./otlp.js')).ingestOtlp(found.otlpFiles, ledger, book, states);
    result.problems.push(...result.otlp.problems);
    // Set only once everything was read: a killed ingest leaves the old fingerprint behind.
    ledger.setMeta(treeKey, fingerprint);
  }
  result.problems = sortProblems(result.problems);
  return result;
}

interface IngestWork {
  jobs: ClaudeScanJob[];
  newLinks: LinkRecord[];
  metaStates: FileState[];
  states: Map<string, FileState>;
  ledger: LedgerStore;
  book: PriceBook;
  result: IngestResult;
}

async function ingestJobs(work: IngestWork, onProgress?: (p: IngestProgress) => void): Promise<void> {
  const { jobs, newLinks, metaStates, states, ledger, book, result } = work;
  const { stats } = result;
  const { ClaudeMerge, scanClaudeFiles } = await scanModules();
  const merge = new ClaudeMerge();
  for (const l of ledger.links('claude-spawn')) merge.addSpawn(l.data as ClaudeSpawn);
  for (const l of ledger.links('claude-result')) merge.addResult(l.key, l.data as string);
  for (const l of ledger.links('claude-meta')) merge.addMeta(l.data as ClaudeAgentMeta);
  for (const l of newLinks) merge.addMeta(l.data as ClaudeAgentMeta);
  let pending: { scan: ClaudeFileScan; job: ClaudeScanJob }[] = [];
  let pendingCopies = 0;
  const flush = () => {
    if (pending.length === 0 && newLinks.length === 0 && metaStates.length === 0) return;
    const files: FileState[] = metaStates.splice(0);
    const problems: Problem[] = [];
    const reset: string[] = [];
    for (const { scan, job } of pending) {
      if (scan.unreadable) {
        // Reported now, not stored: the file keeps its state and is read again next time.
        result.problems.push(...scan.problems);
        continue;
      }
      const st = job.stat ?? statToState(statSync(job.info.file));
      const prev = states.get(job.info.file);
      const first = Number.isFinite(scan.firstTs) ? scan.firstTs : null;
      const firstTs =
        job.from.offset > 0 && prev?.firstTs != null
          ? first === null
            ? prev.firstTs
            : Math.min(prev.firstTs, first)
          : first;
      files.push({
        path: job.info.file,
        size: st.size,
        mtimeMs: st.mtimeMs,
        identity: st.identity,
        headHash: headHash(job.info.file, scan.resumeFrom?.offset ?? scan.endOffset),
        offset: scan.resumeFrom?.offset ?? scan.endOffset,
        lines: scan.resumeFrom?.lines ?? scan.lines,
        firstTs,
      });
      if (job.from.offset === 0) reset.push(job.info.file);
      problems.push(...scan.problems);
    }
    const stored = [...merge.storedEvents(book)];
    const s = ledger.commit({
      events: stored,
      files,
      resetProblemsFor: reset,
      problems,
      links: newLinks.splice(0),
    });
    result.inserted += s.inserted;
    result.updated += s.updated;
    result.unchanged += s.unchanged;
    result.problems.push(...problems);
    merge.clearCalls();
    pending = [];
    pendingCopies = 0;
  };

  const progress = tracker(jobs, onProgress);
  await scanClaudeFiles(jobs, {
    whileWorkersParse: () => book.preload?.(),
    onScan(scan, job) {
      merge.addScan(scan, job.info.project);
      for (const s of scan.spawns) newLinks.push({ kind: 'claude-spawn', key: s.toolUseId, data: s });
      for (const r of scan.results)
        newLinks.push({ kind: 'claude-result', key: r.toolUseId, data: r.agentId });
      count(stats, scan);
      pending.push({ scan, job });
      pendingCopies += scan.calls.length;
      if (pendingCopies >= BATCH_COPIES) flush();
      progress.scanned(scan);
    },
  });
  flush();
  stats.synthetic = merge.synthetic;

  // Spawn links can arrive after the sub-agent's calls (the result is written when it finishes).
  for (const agentId of ledger.unresolvedAgents()) {
    const attrs = merge.agentAttribution(agentId);
    if (attrs.agentType) ledger.updateAgent(agentId, attrs);
  }
}

function count(stats: ScanStats, scan: ClaudeFileScan): void {
  stats.filesRead++;
  stats.bytesRead += scan.bytesRead;
  stats.lines += scan.lines;
}

interface Progress {
  /** A file was read. */
  scanned(scan: ClaudeFileScan): void;
  /** `files` files of `bytes` bytes were read. */
  advance(files: number, bytes: number): void;
  /** Counts from zero again (the files are read a second time). */
  reset(): void;
}

function tracker(jobs: ClaudeScanJob[], onProgress?: (p: IngestProgress) => void): Progress {
  const p: IngestProgress = {
    filesDone: 0,
    filesTotal: jobs.length,
    bytesDone: 0,
    bytesTotal: jobs.reduce((n, j) => n + j.size - j.from.offset, 0),
  };
  const advance = (files: number, bytes: number) => {
    p.filesDone += files;
    p.bytesDone += bytes;
    onProgress?.(p);
  };
  return {
    scanned: (scan) => advance(1, scan.bytesRead),
    advance,
    reset: () => {
      p.filesDone = 0;
      p.bytesDone = 0;
      onProgress?.(p);
    },
  };
}

export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}
