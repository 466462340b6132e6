import { UNKNOWN_KEY } from '../core/aggregate.js';
import type { Attribution, UsageEvent } from '../core/event.js';
import type { StoredEvent } from './ledger.js';
import type { GatewayKey } from './shared.js';

/**
 * The ledger's event columns and their mapping to `UsageEvent`, shared by the SQLite and PostgreSQL
 * backends (same column names, same order of insert values).
 */

/** Attribution fields and their columns. */
export const ATTR_COLUMNS: [keyof Attribution, string][] = [
  ['project', 'project'],
  ['session', 'session'],
  ['run', 'run'],
  ['workflow', 'workflow'],
  ['agentPath', 'agent_path'],
  ['agentName', 'agent_name'],
  ['agentType', 'agent_type'],
  ['agentId', 'agent_id'],
  ['agentDescription', 'agent_desc'],
  ['stage', 'stage'],
  ['task', 'task'],
  ['user', 'user'],
  ['feature', 'feature'],
  ['status', 'status'],
];

// What a larger snapshot of the same call replaces: its usage and therefore its cost.
export const USAGE_COLUMNS = [
  'model',
  'speed',
  'input_tokens',
  'cache_read_tokens',
  'cache_write_5m_tokens',
  'cache_write_1h_tokens',
  'output_tokens',
  'reasoning_tokens',
  'web_search_requests',
  'unsplit_tokens',
  'cost_nano',
  'price_source',
  'estimated',
  'cost_note',
];
// What a better-placed copy of the same call replaces: who made it, and where it was read.
export const PLACEMENT_COLUMNS = [
  'tags',
  'attr_rank',
  'attr_first_ts',
  'attr_file',
  'attr_line',
  'ts',
  ...ATTR_COLUMNS.map(([, c]) => c),
];
/** The insert's columns, in the order {@link eventValues} gives their values. */
export const INSERT_COLUMNS: readonly string[] = [
  'id',
  'source',
  'provider',
  ...USAGE_COLUMNS,
  ...PLACEMENT_COLUMNS,
];

/**
 * An event's values in {@link INSERT_COLUMNS} order, built without the named-parameter object:
 * the insert of every new event runs this (a test checks it against `eventParams`).
 */
export function eventValues(s: StoredEvent): unknown[] {
  const e = s.event;
  const u = e.usage;
  const c = e.cost;
  const a = e.attribution;
  const o = s.origin;
  const values: unknown[] = [
    e.id,
    e.source,
    e.provider,
    e.model,
    e.speed ?? null,
    u.inputTokens,
    u.cacheReadTokens,
    u.cacheWrite5mTokens,
    u.cacheWrite1hTokens,
    u.outputTokens,
    u.reasoningTokens,
    u.webSearchRequests,
    u.unsplitTokens,
    c.nanoUsd,
    c.priceSource,
    c.estimated ? 1 : 0,
    c.note ?? null,
    a.tags ? JSON.stringify(a.tags) : null,
    o.rank,
    o.firstTs,
    o.file,
    o.line,
    e.ts,
  ];
  for (const [k] of ATTR_COLUMNS) values.push(a[k] ?? null);
  return values;
}

export function eventParams(s: StoredEvent): Record<string, unknown> {
  const e = s.event;
  const u = e.usage;
  const p: Record<string, unknown> = {
    id: e.id,
    ts: e.ts,
    source: e.source,
    provider: e.provider,
    model: e.model,
    speed: e.speed ?? null,
    input_tokens: u.inputTokens,
    cache_read_tokens: u.cacheReadTokens,
    cache_write_5m_tokens: u.cacheWrite5mTokens,
    cache_write_1h_tokens: u.cacheWrite1hTokens,
    output_tokens: u.outputTokens,
    reasoning_tokens: u.reasoningTokens,
    web_search_requests: u.webSearchRequests,
    unsplit_tokens: u.unsplitTokens,
    cost_nano: e.cost.nanoUsd,
    price_source: e.cost.priceSource,
    estimated: e.cost.estimated ? 1 : 0,
    cost_note: e.cost.note ?? null,
    tags: e.attribution.tags ? JSON.stringify(e.attribution.tags) : null,
    attr_rank: s.origin.rank,
    attr_first_ts: s.origin.firstTs,
    attr_file: s.origin.file,
    attr_line: s.origin.line,
  };
  for (const [k, col] of ATTR_COLUMNS) p[col] = e.attribution[k] ?? null;
  return p;
}

/**
 * A stored row → event. `int` reads an integer column: SQLite returns numbers, PostgreSQL returns
 * BIGINTs as strings (read exactly or refused); tags come back as JSON text or as an object (JSONB),
 * `estimated` as 0/1 or a boolean.
 */
export function eventFromRow(
  r: Record<string, unknown>,
  int: (v: unknown, column: string) => number = (v) => v as number,
): UsageEvent {
  const attribution: Attribution = {};
  for (const [k, col] of ATTR_COLUMNS) {
    const v = r[col];
    if (typeof v === 'string') (attribution as Record<string, string>)[k] = v;
  }
  if (r.tags)
    attribution.tags = (typeof r.tags === 'string' ? JSON.parse(r.tags) : r.tags) as Record<string, string>;
  const n = (col: string) => int(r[col], col);
  const e: UsageEvent = {
    id: r.id as string,
    ts: n('ts'),
    source: r.source as UsageEvent['source'],
    provider: r.provider as string,
    model: r.model as string,
    usage: {
      inputTokens: n('input_tokens'),
      cacheReadTokens: n('cache_read_tokens'),
      cacheWrite5mTokens: n('cache_write_5m_tokens'),
      cacheWrite1hTokens: n('cache_write_1h_tokens'),
      outputTokens: n('output_tokens'),
      reasoningTokens: n('reasoning_tokens'),
      webSearchRequests: n('web_search_requests'),
      unsplitTokens: n('unsplit_tokens'),
    },
    cost: {
      nanoUsd: r.cost_nano === null ? null : n('cost_nano'),
      priceSource: r.price_source as string,
      estimated: r.estimated === 1 || r.estimated === true,
    },
    attribution,
  };
  if (r.cost_note) e.cost.note = r.cost_note as string;
  if (r.speed) e.speed = r.speed as string;
  return e;
}

/** A gateway key's column values, in `gateway_keys` order (both backends insert them so). */
export function keyRowValues(k: GatewayKey): unknown[] {
  return [
    k.id,
    k.tenant,
    k.hash,
    k.createdMs,
    k.revokedMs ?? null,
    k.label ?? null,
    k.budget ? JSON.stringify(k.budget) : null,
  ];
}

/**
 * A `gateway_keys` row → key. `int` reads the integer columns (PostgreSQL hands BIGINTs over as
 * strings); `budget` is JSON text (SQLite) or an object (JSONB).
 */
export function keyFromRow(
  r: Record<string, unknown>,
  int: (v: unknown, column: string) => number = (v) => v as number,
): GatewayKey {
  const k: GatewayKey = {
    id: r.id as string,
    tenant: r.tenant as string,
    hash: r.hash as string,
    createdMs: int(r.created_ms, 'created_ms'),
  };
  if (r.revoked_ms !== null) k.revokedMs = int(r.revoked_ms, 'revoked_ms');
  if (r.label !== null) k.label = r.label as string;
  if (r.budget !== null)
    k.budget = (typeof r.budget === 'string' ? JSON.parse(r.budget) : r.budget) as GatewayKey['budget'];
  return k;
}

/** The group key of a non-time `GroupBy`, in SQL both SQLite and PostgreSQL read alike (days differ). */
export function groupKeySql(by: 'session' | 'project' | 'model' | 'agent'): string {
  switch (by) {
    case 'session':
      return `COALESCE(session, '${UNKNOWN_KEY}')`;
    case 'project':
      return `COALESCE(project, '${UNKNOWN_KEY}')`;
    case 'model':
      return "CASE WHEN speed IS NULL THEN model ELSE model || ' (' || speed || ')' END";
    case 'agent':
      return `COALESCE(agent_name, '${UNKNOWN_KEY}')`;
  }
}
