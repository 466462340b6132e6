import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type Aggregate,
  Aggregator,
  type EventFilter,
  type GroupBy,
  mergeAggregates,
} from '../core/aggregate.js';
import type { Problem } from '../core/event.js';
import type { PriceBook } from '../core/pricing.js';
import type { PriceBookOptions } from '../prices/price-book.js';
import { type ClaudeFileInfo, parseClaudeTranscript } from '../sources/claude-code.js';
import type { ClaudeAgentMeta } from '../sources/claude-discover.js';
import { ClaudeMerge } from '../sources/claude-merge.js';
import type { ScanStats } from './claude.js';

/**
 * One project's transcripts. Claude Code keeps a session, its sub-agents and its resumed copies in
 * the session's project folder, so normally every copy of a call is inside one project: a thread
 * can merge, price and tally whole projects on its own and hand back only sums (and its call keys:
 * `PartitionWorkers.run` checks that none is in two threads' projects).
 */
export interface ProjectGroup {
  files: ClaudeFileInfo[];
  bytes: number;
}

/** What was read, as `ScanStats` counts it (less the files found). */
export type ScanCounts = Omit<ScanStats, 'files'>;

/** What a thread made of the projects it took. */
export interface ThreadTally {
  agg: Aggregate;
  /** Its call keys, so the main thread can prove no call was split across threads. */
  keys: string[];
  problems: Problem[];
  counts: ScanCounts;
}

/** What the threads are asked to report. */
export interface PartitionTask {
  by: GroupBy;
  filter: EventFilter;
}

/** Merges whole projects as one thread reads them; `finish` prices and tallies them. */
export class PartitionReducer {
  private readonly merge = new ClaudeMerge();
  private readonly problems: Problem[] = [];
  private readonly counts: ScanCounts = { filesRead: 0, bytesRead: 0, lines: 0, synthetic: 0 };

  /** Reads one project's files, telling `onFile` of each (for progress). */
  scanGroup(group: ProjectGroup, onFile: (bytes: number) => void): void {
    for (const info of group.files) {
      const scan = parseClaudeTranscript(info);
      this.merge.addScan(scan, info.project);
      for (const p of scan.problems) this.problems.push(p);
      this.counts.filesRead++;
      this.counts.lines += scan.lines;
      this.counts.bytesRead += scan.bytesRead;
      onFile(scan.bytesRead);
    }
  }

  /** A call of this thread's projects (the main thread checks the other threads' keys with it). */
  has(key: string): boolean {
    return this.merge.has(key);
  }

  finish(metas: ClaudeAgentMeta[], book: PriceBook, task: PartitionTask): ThreadTally {
    for (const m of metas) this.merge.addMeta(m);
    const tally = new Aggregator(task.by, task.filter);
    this.merge.forEachEvent(book, (e) => tally.add(e));
    return {
      agg: tally.result(),
      keys: [...this.merge.keys()],
      problems: this.problems,
      counts: { ...this.counts, synthetic: this.merge.synthetic },
    };
  }
}

/**
 * Groups transcripts by project, largest first (threads take the next group from a shared counter).
 * Only a `projects/<project>/` folder vouches for a project: files found elsewhere are named after
 * their parent folder, which splits a session from its `subagents/` folder, so they all form one
 * group.
 */
export function projectGroups(files: { info: ClaudeFileInfo; size: number }[]): ProjectGroup[] {
  const byProject = new Map<string, ProjectGroup>();
  for (const { info, size } of files) {
    const inProjects =
      info.project !== undefined && info.file.includes(`${sep}projects${sep}${info.project}${sep}`);
    const key = inProjects ? info.project! : '';
    let g = byProject.get(key);
    if (!g) {
      g = { files: [], bytes: 0 };
      byProject.set(key, g);
    }
    g.files.push(info);
    g.bytes += size;
  }
  return [...byProject.values()].sort((a, b) => b.bytes - a.bytes);
}

/**
 * The wall time of `threads` threads taking groups largest first, over the ideal (bytes spread
 * evenly): 1 when projects balance, up to `threads` when one project holds everything.
 */
export function partitionSkew(groups: ProjectGroup[], threads: number): number {
  const load = new Array<number>(threads).fill(0);
  let total = 0;
  for (const g of groups) {
    let least = 0;
    for (let t = 1; t < threads; t++) if (load[t]! < load[least]!) least = t;
    load[least]! += g.bytes;
    total += g.bytes;
  }
  return total === 0 ? 1 : Math.max(...load) / (total / threads);
}

export interface PartitionInput {
  groups: ProjectGroup[];
  book: PriceBook;
  /** Reads the agent meta files; called once, while the workers parse. */
  readMetas(): ClaudeAgentMeta[];
  onProgress(files: number, bytes: number): void;
}

/** All threads' sums. */
export type PartitionTotals = Omit<ThreadTally, 'keys'>;

const WORKER_URL = new URL('./claude-partition-worker.js', import.meta.url);

/** The compiled worker is there (not when running from source). */
export function partitionWorkerAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/**
 * Worker threads started before the files are found: a worker takes ~50 ms to start and ~40 ms to
 * load the price data, which then overlap the main thread's discovery and `stat` instead of its
 * parsing. `run` hands them the projects; `close` ends them unused (a small tree, or projects that
 * do not balance).
 */
export class PartitionWorkers {
  private readonly workers: Worker[] = [];
  private readonly results: Promise<ThreadTally>[] = [];
  private onProgress: ((files: number, bytes: number) => void) | undefined;
  private closed = false;

  /**
   * @param count worker threads besides the main thread, which takes projects too
   * @param recipe how the workers rebuild the price book
   */
  constructor(
    count: number,
    recipe: PriceBookOptions,
    private readonly task: PartitionTask,
  ) {
    try {
      for (let w = 0; w < count; w++) this.start(recipe);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private start(recipe: PriceBookOptions): void {
    const worker = new Worker(WORKER_URL, {
      workerData: { task: this.task, recipe },
      // Parsing makes many short-lived objects: a larger young generation means fewer scavenges.
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
    });
    this.workers.push(worker);
    const result = new Promise<ThreadTally>((resolve, reject) => {
      let out: ThreadTally | undefined;
      worker.on('message', (msg: WorkerMessage) => {
        if (msg.kind === 'progress') this.onProgress?.(msg.files, msg.bytes);
        else out = msg.result;
      });
      worker.once('error', reject);
      worker.once('exit', (code) =>
        out ? resolve(out) : reject(new Error(`partition worker exited with ${code} before its result`)),
      );
    });
    // Until `run`, nobody waits on it: a worker ended by `close` is not an unhandled rejection.
    result.catch(() => {});
    this.results.push(result);
  }

  get count(): number {
    return this.workers.length;
  }

  /** Ends the workers (those already done are not affected): unused, or after `run` failed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) void w.terminate();
  }

  /**
   * Reads, merges, prices and tallies whole projects on the main thread and the workers at once;
   * only the sums and call keys cross threads. Returns `null` when a call turned up in two threads'
   * projects (a session moved between project folders: sums that might count it twice are not
   * given) or a worker failed; the caller then merges the files together instead. An error on the
   * main thread (a file deleted since it was found) is thrown; call `close` then.
   */
  async run(run: PartitionInput): Promise<PartitionTotals | null> {
    const { groups } = run;
    this.onProgress = run.onProgress;
    // Thread t starts with group t (the largest ones, one each), then all take the next from the
    // counter: which thread reads the largest projects does not depend on which started first.
    const counter = new Int32Array(new SharedArrayBuffer(4));
    counter[0] = this.workers.length + 1;
    this.workers.forEach((w, i) => {
      w.postMessage({ groups, counter, first: i + 1 });
    });
    // The main thread's own loading overlaps the workers' first projects.
    run.book.preload?.();
    const metas = run.readMetas();
    for (const w of this.workers) w.postMessage(metas);
    const own = new PartitionReducer();
    for (let i = 0; i < groups.length; i = Atomics.add(counter, 0, 1)) {
      const group = groups[i]!;
      own.scanGroup(group, (bytes) => run.onProgress(1, bytes));
      // Let the workers' progress in while this thread keeps working.
      if (this.workers.length) await new Promise<void>((r) => setImmediate(r));
    }
    const mine = own.finish(metas, run.book, this.task);
    let theirs: ThreadTally[];
    try {
      theirs = await Promise.all(this.results);
    } catch {
      // A worker that could not start or died (out of memory): the merge on one thread still can.
      this.close();
      return null;
    }
    if (splitCall(own, theirs)) return null;
    const parts = [mine, ...theirs];
    const counts: ScanCounts = { filesRead: 0, bytesRead: 0, lines: 0, synthetic: 0 };
    for (const p of parts) for (const k of COUNT_KEYS) counts[k] += p.counts[k];
    return {
      agg: mergeAggregates(
        parts.map((p) => p.agg),
        this.task.by,
      ),
      problems: parts.flatMap((p) => p.problems),
      counts,
    };
  }
}

const COUNT_KEYS = ['filesRead', 'bytesRead', 'lines', 'synthetic'] as const;

type WorkerMessage =
  | { kind: 'progress'; files: number; bytes: number }
  | { kind: 'result'; result: ThreadTally };

/** True when a call key is in more than one thread's share. */
function splitCall(own: PartitionReducer, others: ThreadTally[]): boolean {
  const seen = others.length > 1 ? new Set<string>() : undefined;
  for (const part of others) {
    for (const key of part.keys) {
      if (own.has(key)) return true;
      if (seen) {
        if (seen.has(key)) return true;
        seen.add(key);
      }
    }
  }
  return false;
}
