import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { UsageBuckets } from '../core/usage.js';

/**
 * The identical-call cache (opt-in): a request whose normalised body was answered before, in the
 * same scope and within the TTL, is answered from the store without calling the provider, and the
 * hit is recorded with the dollars the original call cost.
 *
 * PRIVACY: the stored responses are model completions, i.e. text derived from the prompts (they
 * may quote or summarise whatever the prompt contained: personal data, secrets, documents). The
 * cache is therefore off unless the caller turns it on, entries are partitioned by scope (by
 * default the project and user, so one user is never served another's answer), and
 * `SqliteResponseCache` keeps them in plain text in its database file: put that file where the
 * prompts themselves may be kept, and pick a TTL no longer than they may be kept.
 */

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/**
 * Top-level request fields that cannot change the model's answer, left out of the cache key so
 * that two calls differing only in them share one entry. Only the top level: a `metadata` inside
 * a message or a tool schema is part of the prompt and stays in the key.
 *
 * - `user`, `safety_identifier` (OpenAI): end-user ids for abuse monitoring.
 * - `metadata` (OpenAI, Anthropic): tags stored with the request, never shown to the model.
 * - `store` (OpenAI): whether OpenAI keeps the response for later retrieval / evals.
 * - `prompt_cache_key` (OpenAI): a routing hint for OpenAI's own prompt cache.
 * - `stream_options` (OpenAI): only adds a usage chunk to a stream.
 * - `abortSignal`, `headers` (AI SDK call options): transport, not request content.
 *
 * `stream` is NOT ignored: a streamed answer is stored as what the caller consumed, which differs
 * from a complete response. Sampling knobs (`temperature`, `seed`…) and `service_tier` stay too.
 */
export const CACHE_KEY_IGNORED_FIELDS: ReadonlySet<string> = new Set([
  'user',
  'safety_identifier',
  'metadata',
  'store',
  'prompt_cache_key',
  'stream_options',
  'abortSignal',
  'headers',
]);

/**
 * A stable text for `value`, equal for two values that serialise to the same request: object keys
 * sorted (recursively), `undefined`/function/symbol members dropped, `toJSON` applied, non-finite
 * numbers as `null` — as `JSON.stringify` sends them. Values JSON cannot tell apart get tagged
 * forms that no JSON text can produce (`bytes"…"`, `map[…]`, `set[…]`, `12n`), so two different
 * requests never share a key by accident.
 */
function canonical(value: unknown, stack: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value}n`;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (ArrayBuffer.isView(obj))
    return `bytes"${Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64')}"`;
  if (obj instanceof ArrayBuffer) return `bytes"${Buffer.from(obj).toString('base64')}"`;
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json: unknown = toJSON.call(obj);
    // JSON.stringify calls toJSON once; one returning its own object is then serialised as is.
    if (json !== obj) return canonical(json, stack);
  }
  if (stack.has(obj)) throw new TypeError('requestCacheKey: the request contains a cycle');
  stack.add(obj);
  try {
    if (Array.isArray(obj)) return `[${obj.map((v) => canonical(v, stack) ?? 'null').join(',')}]`;
    if (obj instanceof Map) return `map${canonical([...obj.entries()], stack)}`;
    if (obj instanceof Set) return `set${canonical([...obj], stack)}`;
    return canonicalObject(obj as Record<string, unknown>, stack, undefined);
  } finally {
    stack.delete(obj);
  }
}

function canonicalObject(
  obj: Record<string, unknown>,
  stack: Set<object>,
  ignored: ReadonlySet<string> | undefined,
): string {
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (ignored?.has(k)) continue;
    const v = canonical(obj[k], stack);
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The cache key of a request: the SHA-256 (hex) of its canonical form — provider, endpoint, scope
 * and the request body with keys sorted recursively, `undefined` members dropped and the
 * {@link CACHE_KEY_IGNORED_FIELDS} left out. Everything else counts: model, messages, tools,
 * sampling parameters, `stream`. Throws a `TypeError` on a body with a cycle (it cannot be sent
 * either).
 *
 * @example
 * const key = requestCacheKey({
 *   provider: 'openai',
 *   endpoint: 'openai.chat.completions',
 *   params: { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], user: 'u-42' },
 *   scope: '["acme","u-42"]',
 * });
 * // = the key of the same call with `user: 'u-7'` or its keys in another order;
 * // ≠ the key with `temperature: 0`, `stream: true` or another scope.
 */
export function requestCacheKey(input: {
  provider: string;
  endpoint: string;
  params: unknown;
  scope?: string;
}): string {
  const stack = new Set<object>();
  const { params } = input;
  // The ignored fields are dropped from a plain-object body (what every SDK sends); anything else
  // (an array, a class instance with toJSON…) is keyed as it is.
  const proto = typeof params === 'object' && params !== null ? Object.getPrototypeOf(params) : undefined;
  const plain = proto === Object.prototype || proto === null;
  const body = plain
    ? canonicalObject(params as Record<string, unknown>, stack, CACHE_KEY_IGNORED_FIELDS)
    : (canonical(params, stack) ?? 'undefined');
  const scope = input.scope === undefined ? '-' : JSON.stringify(input.scope);
  return createHash('sha256')
    .update(`tokenledger.cache.v1\n${JSON.stringify(input.provider)}\n${JSON.stringify(input.endpoint)}\n`)
    .update(`${scope}\n`)
    .update(body)
    .digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

/** One stored answer. Holds completion text: see the module's privacy note. */
export interface CachedResponse {
  /** The provider's response as the caller received it (must survive `JSON.stringify`). */
  body: unknown;
  provider: string;
  model: string;
  /** What the original call billed, to report what a hit saved. */
  usage: UsageBuckets;
  /** What the original call cost in nano-dollars; `null` when it could not be priced. */
  costNano: number | null;
  storedAtMs: number;
}

/**
 * Where answers are kept. `get` returns a fresh deep copy (mutating it never changes the store)
 * or `undefined` when the key is absent or expired (`nowMs >= expiresAtMs`); `set` stores a copy
 * of `value` (later changes to it are not seen) and replaces any entry under the same key.
 * Values are stored as JSON: what comes back is the JSON round trip of what was set.
 */
export interface ResponseCacheStore {
  get(key: string, nowMs: number): CachedResponse | undefined;
  set(key: string, value: CachedResponse, expiresAtMs: number): void;
  close?(): void;
}

/**
 * An in-process cache with least-recently-used eviction: at most `maxEntries` (default 1,000)
 * answers, the one read or written longest ago evicted first. Expired entries are dropped when
 * read. Holds completion text in memory: see the module's privacy note.
 *
 * @example
 * const cache = new MemoryResponseCache({ maxEntries: 500 });
 * cache.set(key, { body, provider: 'openai', model: 'gpt-4o', usage, costNano: 1_250_000, storedAtMs: now }, now + 3_600_000);
 * cache.get(key, now + 60_000)?.body; // a copy of `body`
 * cache.get(key, now + 3_600_000); // undefined: expired
 */
export class MemoryResponseCache implements ResponseCacheStore {
  readonly #maxEntries: number;
  // A Map iterates in insertion order: re-inserting on every use keeps the LRU entry first.
  readonly #entries = new Map<string, { json: string; expiresAtMs: number }>();

  constructor(opts: { maxEntries?: number } = {}) {
    const max = opts.maxEntries ?? 1000;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = max;
  }

  get(key: string, nowMs: number): CachedResponse | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (nowMs >= entry.expiresAtMs) return undefined;
    this.#entries.set(key, entry);
    return JSON.parse(entry.json) as CachedResponse;
  }

  set(key: string, value: CachedResponse, expiresAtMs: number): void {
    const json = JSON.stringify(value);
    this.#entries.delete(key);
    this.#entries.set(key, { json, expiresAtMs });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  /** Entries held, expired ones not yet read included. */
  get size(): number {
    return this.#entries.size;
  }

  close(): void {
    this.#entries.clear();
  }
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS response_cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS response_cache_expires ON response_cache(expires_ms);
`;

/** Every this many reads, one statement deletes every expired row (reads delete their own). */
const SWEEP_EVERY = 256;

/**
 * A cache in a SQLite table (`response_cache`), shared by every process using the file and kept
 * across restarts. Created if missing, so it can live in the ledger's database file. Expired rows
 * are deleted lazily: an expired row when it is read, and all of them every 256 reads. The file
 * holds completion text in plain text: see the module's privacy note.
 *
 * Given a path, the store opens the file (WAL, 5 s busy timeout) and `close()` closes it; given an
 * open `Database`, it uses it as it is and leaves closing it to its owner.
 *
 * @example
 * const cache = new SqliteResponseCache(join(homedir(), '.tokenledger', 'cache.db'));
 * const meter = createMeter({ cache: { ttlMs: 3_600_000, store: cache } });
 */
export class SqliteResponseCache implements ResponseCacheStore {
  readonly #db: Database.Database;
  readonly #owned: boolean;
  readonly #select: Database.Statement<[string], { value: string; expires_ms: number }>;
  readonly #upsert: Database.Statement<[string, string, number]>;
  readonly #deleteExpired: Database.Statement<[string, number]>;
  readonly #sweep: Database.Statement<[number]>;
  #reads = 0;

  constructor(path: string | Database.Database) {
    if (typeof path === 'string') {
      if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path, { timeout: 5000 });
      this.#owned = true;
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
    } else {
      this.#db = path;
      this.#owned = false;
    }
    const db = this.#db;
    db.exec(SCHEMA);
    this.#select = db.prepare('SELECT value, expires_ms FROM response_cache WHERE key = ?');
    this.#upsert = db.prepare(
      `INSERT INTO response_cache (key, value, expires_ms) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms`,
    );
    // Only the row that was read: another process may have refreshed the key meanwhile.
    this.#deleteExpired = db.prepare('DELETE FROM response_cache WHERE key = ? AND expires_ms = ?');
    this.#sweep = db.prepare('DELETE FROM response_cache WHERE expires_ms <= ?');
  }

  get(key: string, nowMs: number): CachedResponse | undefined {
    if (++this.#reads % SWEEP_EVERY === 0) this.#sweep.run(nowMs);
    const row = this.#select.get(key);
    if (!row) return undefined;
    if (nowMs >= row.expires_ms) {
      this.#deleteExpired.run(key, row.expires_ms);
      return undefined;
    }
    try {
      return JSON.parse(row.value) as CachedResponse;
    } catch {
      // A row this store did not write (or a torn one): a miss, and gone.
      this.#deleteExpired.run(key, row.expires_ms);
      return undefined;
    }
  }

  set(key: string, value: CachedResponse, expiresAtMs: number): void {
    // An INTEGER column: a TTL of "forever" (Infinity) is stored as the largest exact integer.
    const expires = Number.isFinite(expiresAtMs) ? Math.round(expiresAtMs) : Number.MAX_SAFE_INTEGER;
    this.#upsert.run(key, JSON.stringify(value), expires);
  }

  /** Closes the database if this store opened it; a `Database` passed in is left open. */
  close(): void {
    if (this.#owned && this.#db.open) this.#db.close();
  }
}
