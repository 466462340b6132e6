import type { NanoUsd } from './money.js';
import type { UsageBuckets } from './usage.js';

/** Where an event was read or recorded. */
export type SourceKind = 'claude-code' | 'workflow' | 'otlp' | 'meter' | 'gateway';

/**
 * Who spent the tokens. Every field is optional: a source fills what it knows and nothing is
 * invented. `agentPath` is the delegation path from the root agent, ids joined by '/', e.g.
 * `main/a1b2c3` for a sub-agent spawned by the main thread.
 */
export interface Attribution {
  project?: string;
  session?: string;
  run?: string;
  workflow?: string;
  agentPath?: string;
  /** What the agent is, for grouping: `main`, a sub-agent type (`Explore`), a workflow label. */
  agentName?: string;
  agentType?: string;
  agentId?: string;
  agentDescription?: string;
  stage?: string;
  task?: string;
  user?: string;
  feature?: string;
  tags?: Record<string, string>;
  status?: string;
}

/** An event's price: exact nano-dollars, or `null` when the model is unpriced (never a silent 0). */
export interface EventCost {
  nanoUsd: NanoUsd | null;
  /** Which price data produced it, e.g. `genai-prices@0.1.8` or `override`. */
  priceSource: string;
  /** True when the figure is an estimate (no input/output split, unknown speed premium, …). */
  estimated: boolean;
  /** Why it is an estimate or unpriced, in a few words. */
  note?: string;
}

/** One metered unit of spend: usually one API call. The one event model every source produces. */
export interface UsageEvent {
  /** Stable dedup key: the same call read twice has the same id. */
  id: string;
  /** Epoch milliseconds. */
  ts: number;
  source: SourceKind;
  provider: string;
  model: string;
  usage: UsageBuckets;
  /** Provider speed mode when not standard (`fast`). */
  speed?: string;
  cost: EventCost;
  attribution: Attribution;
}

/** A piece of input that could not be used, reported with where it was. */
export interface Problem {
  file: string;
  /** 1-based line number; 0 when the problem is the whole file. */
  line: number;
  reason: string;
}

/**
 * Where the event came from, and how well placed that copy is to say who made it
 * (lower `rank` wins; ties go to the file whose session started first, then path and line).
 */
export interface EventOrigin {
  rank: number;
  firstTs: number | null;
  file: string;
  line: number;
}
