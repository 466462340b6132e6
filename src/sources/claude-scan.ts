import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type ClaudeFileInfo,
  type ClaudeFileScan,
  type ClaudeScanFrom,
  parseClaudeTranscript,
} from './claude-code.js';

export interface ClaudeScanJob {
  info: ClaudeFileInfo;
  from: ClaudeScanFrom;
  /** Bytes to read, for scheduling the largest files first. */
  size: number;
  /**
   * The file as it was when the job was planned. The ledger records THIS, not a stat taken after
   * reading: a line appended while the ingest runs then still shows as a change next time.
   */
  stat?: { size: number; mtimeMs: number; identity: string };
}

export interface ScanOptions {
  /** Worker threads besides the main thread; default: cores − 1 (0 for small inputs). */
  workers?: number;
  /** Called on the main thread for every file as it finishes, in no particular order. */
  onScan(scan: ClaudeFileScan, job: ClaudeScanJob): void;
  /**
   * Called on the main thread once the workers are started: work it must do anyway (loading the
   * price data) overlaps their parsing instead of following it.
   */
  whileWorkersParse?(): void;
}

const WORKER_URL = new URL('./claude-scan-worker.js', import.meta.url);
// Below this much work a worker's start-up (~30 ms) costs more than it saves.
const MIN_BYTES_FOR_WORKERS = 24 * 1024 * 1024;

/** Jobs for whole files (no previous offset). */
export function fullScanJobs(infos: ClaudeFileInfo[]): ClaudeScanJob[] {
  return infos.map((info) => ({ info, from: { offset: 0, lines: 0 }, size: statSync(info.file).size }));
}

/** `TOKENLEDGER_WORKERS`, when it is a number. */
function workersFromEnv(): number | undefined {
  const env = process.env.TOKENLEDGER_WORKERS;
  return env !== undefined && /^\d+$/.test(env) ? Number(env) : undefined;
}

/** Worker threads at most: `TOKENLEDGER_WORKERS` if set, else cores − 1 (at most 7). */
export function workerBudget(): number {
  return workersFromEnv() ?? Math.max(0, Math.min(availableParallelism() - 1, 7));
}

/** Worker threads for a scan of these jobs: `TOKENLEDGER_WORKERS` if set, else the budget but none for small inputs. */
export function defaultWorkers(jobs: ClaudeScanJob[]): number {
  const env = workersFromEnv();
  if (env !== undefined) return env;
  const bytes = jobs.reduce((n, j) => n + j.size - j.from.offset, 0);
  if (bytes < MIN_BYTES_FOR_WORKERS || jobs.length < 4) return 0;
  return workerBudget();
}

/**
 * Parses transcripts on the main thread and worker threads at once. All threads take the next file
 * from one shared counter (largest first), so a thread that drew small files simply takes more.
 * Falls back to the main thread alone when the compiled worker is not there (running from source).
 */
export async function scanClaudeFiles(jobs: ClaudeScanJob[], opts: ScanOptions): Promise<void> {
  const ordered = [...jobs].sort((a, b) => b.size - b.from.offset - (a.size - a.from.offset));
  let workers = opts.workers ?? defaultWorkers(ordered);
  if (workers > 0 && !existsSync(fileURLToPath(WORKER_URL))) workers = 0;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const claim = () => Atomics.add(counter, 0, 1);

  const running: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    running.push(
      new Promise<void>((resolve, reject) => {
        // A larger young generation: parsing makes many short-lived objects and scavenges dominate.
        const worker = new Worker(WORKER_URL, {
          workerData: { jobs: ordered.map((j) => [j.info, j.from]), counter },
          resourceLimits: { maxYoungGenerationSizeMb: 16 },
        });
        worker.on('message', (msg: { index: number; scan: ClaudeFileScan }) => {
          opts.onScan(msg.scan, ordered[msg.index]!);
        });
        worker.once('error', reject);
        worker.once('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`scan worker exited with ${code}`)),
        );
      }),
    );
  }
  // With two or more workers the main thread only merges (and loads what comes after, e.g. the price
  // data) and the workers parse; with one, it parses too.
  if (workers > 0) opts.whileWorkersParse?.();
  const mainParses = workers < 2 || process.env.TOKENLEDGER_MAIN_PARSES === '1';
  for (let i = mainParses ? claim() : ordered.length; i < ordered.length; i = claim()) {
    const job = ordered[i]!;
    opts.onScan(parseClaudeTranscript(job.info, job.from), job);
    // Let finished workers' results in while this thread keeps working.
    if (workers > 0) await new Promise<void>((r) => setImmediate(r));
  }
  await Promise.all(running);
}
