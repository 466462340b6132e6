import type { Aggregate, EventFilter, GroupBy } from '../core/aggregate.js';
import type { Attribution, EventCost, EventOrigin, Problem, SourceKind, UsageEvent } from '../core/event.js';
import type { Outcome } from '../core/insights/outcomes.js';
import type { RunSummary } from '../core/run.js';

export type { EventOrigin, Outcome };

/** How far a file has been read, so the next ingest reads only what was appended. */
export interface FileState {
  path: string;
  size: number;
  mtimeMs: number;
  /** `dev:ino`: a file replaced under the same name gets a new identity. */
  identity: string;
  /** Hash of the file's first bytes: a file rewritten in place no longer matches. */
  headHash: string;
  /** Byte offset just past the last complete line read. */
  offset: number;
  /** Lines before `offset`. */
  lines: number;
  /** Earliest call timestamp in the file (resumed-session ownership). */
  firstTs: number | null;
}

export interface StoredEvent {
  event: UsageEvent;
  origin: EventOrigin;
}

/** Link records a source needs across ingests (e.g. Claude Code spawn → sub-agent). Opaque here. */
export interface LinkRecord {
  kind: string;
  key: string;
  data: unknown;
}

/** Which stored events a query covers. */
export interface LedgerFilter extends EventFilter {
  session?: string;
  run?: string;
  source?: SourceKind;
  /** Only events read from files under these absolute paths. */
  under?: string[];
}

export interface IngestBatch {
  events: StoredEvent[];
  files: FileState[];
  /** Files whose problems are replaced (re-read from the start) before `problems` are added. */
  resetProblemsFor: string[];
  problems: Problem[];
  links: LinkRecord[];
  /** Runs read again: each replaces the stored run and all of its events (then `events` adds them). */
  runs?: RunSummary[];
  /** Files read again: the runs stored from them before (whatever their ids were) are dropped first. */
  dropRunsFrom?: string[];
  /** Files read again whole: the events they gave before are dropped first (then `events` adds them). */
  replaceEventsFrom?: { file: string; source: SourceKind }[];
}

export interface IngestStats {
  inserted: number;
  updated: number;
  unchanged: number;
}

/**
 * The ledger behind every face of tokenledger. SQLite by default; other backends implement the same
 * interface. Writes are idempotent: an event id is stored once, and a later copy only replaces the
 * stored one when it is a larger snapshot (usage) or a better-placed copy (attribution).
 */
export interface LedgerStore {
  readonly location: string;
  fileStates(): Map<string, FileState>;
  commit(batch: IngestBatch): IngestStats;
  links(kind: string): LinkRecord[];
  /** Sets agent fields on every event of that agent id (links resolved after the events were stored). */
  updateAgent(
    agentId: string,
    attrs: Pick<Attribution, 'agentName' | 'agentType' | 'agentDescription' | 'agentPath'>,
  ): number;
  /** Agent ids on stored events whose type is still unknown. */
  unresolvedAgents(): string[];
  aggregate(by: GroupBy, filter?: LedgerFilter): Aggregate;
  events(filter?: LedgerFilter): UsageEvent[];
  /** Known input problems, optionally only of files under these paths. */
  problems(under?: string[]): Problem[];
  getRun(id: string): RunSummary | undefined;
  /** Stored runs (workflow telemetry), oldest first. */
  runs(filter?: { under?: string[]; workflow?: string; before?: number }): RunSummary[];
  /** A counter bumped by every change: equal generations mean equal data. */
  generation(): number;
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /**
   * Re-prices every stored event (after the price data or the user's overrides changed). `price`
   * returns the new cost, or `null` to keep the stored one (e.g. estimates a source made).
   */
  reprice(price: (e: UsageEvent) => EventCost | null): number;
  /**
   * Stores run outcomes, one per run id: a later verdict for the same run replaces the stored one
   * (last write wins; within one call, the last of the list). An outcome equal to the stored one
   * (success, score, units and value) is left as it was, so importing a file again changes nothing.
   * `ts` defaults to now. Returns how many outcomes were new or changed.
   */
  putOutcomes(outcomes: Outcome[]): number;
  /** Every stored outcome, by run id. */
  outcomes(): Outcome[];
  close(): void;
}
