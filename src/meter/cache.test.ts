import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { emptyUsage } from '../core/usage.js';
import {
  CACHE_KEY_IGNORED_FIELDS,
  type CachedResponse,
  MemoryResponseCache,
  type ResponseCacheStore,
  requestCacheKey,
  SqliteResponseCache,
} from './cache.js';

afterEach(() => removeTempDirs());

const chat = (params: unknown, scope?: string) =>
  requestCacheKey({
    provider: 'openai',
    endpoint: 'openai.chat.completions',
    params,
    ...(scope ? { scope } : {}),
  });

const base = {
  model: 'gpt-4o',
  temperature: 0.2,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ],
};

describe('requestCacheKey', () => {
  it('is a sha256 hex digest', () => {
    expect(chat(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('ignores key order (at every depth) and undefined members', () => {
    const reordered = {
      messages: [
        { content: 'Be brief.', role: 'system' },
        { content: 'Hi', role: 'user', name: undefined },
      ],
      temperature: 0.2,
      top_p: undefined,
      model: 'gpt-4o',
    };
    expect(chat(reordered)).toBe(chat(base));
  });

  it('ignores the documented fields that cannot change the answer, at the top level only', () => {
    const noisy = {
      ...base,
      user: 'u-42',
      safety_identifier: 'sid',
      metadata: { ticket: '7' },
      store: true,
      prompt_cache_key: 'k',
      stream_options: { include_usage: true },
    };
    expect(chat(noisy)).toBe(chat(base));
    expect(CACHE_KEY_IGNORED_FIELDS.has('stream')).toBe(false);
    // Anthropic `metadata`, AI SDK transport options.
    const anthropic = (params: unknown) =>
      requestCacheKey({ provider: 'anthropic', endpoint: 'anthropic.messages', params });
    const msg = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] };
    expect(anthropic({ ...msg, metadata: { user_id: 'x' } })).toBe(anthropic(msg));
    const aiSdk = (params: unknown) =>
      requestCacheKey({ provider: 'ai-sdk', endpoint: 'ai-sdk.generate', params });
    const call = { prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] };
    expect(aiSdk({ ...call, abortSignal: new AbortController().signal, headers: { 'x-a': '1' } })).toBe(
      aiSdk(call),
    );
    // Below the top level a `metadata` is content.
    const nested = { ...base, messages: [...base.messages, { role: 'user', content: 'x', metadata: 1 }] };
    const nested2 = { ...base, messages: [...base.messages, { role: 'user', content: 'x', metadata: 2 }] };
    expect(chat(nested)).not.toBe(chat(nested2));
  });

  it('differs for a different model, message, temperature, stream flag, scope, provider or endpoint', () => {
    const key = chat(base);
    const variants = [
      chat({ ...base, model: 'gpt-4o-mini' }),
      chat({ ...base, messages: [...base.messages.slice(0, 1), { role: 'user', content: 'Hi!' }] }),
      chat({ ...base, temperature: 0.3 }),
      chat({ ...base, stream: true }),
      chat({ ...base, stream: false }),
      chat({ ...base, n: 2 }),
      chat(base, '["acme","u-1"]'),
      chat(base, '["acme","u-2"]'),
      requestCacheKey({ provider: 'azure', endpoint: 'openai.chat.completions', params: base }),
      requestCacheKey({ provider: 'openai', endpoint: 'openai.responses', params: base }),
    ];
    expect(new Set([key, ...variants]).size).toBe(variants.length + 1);
  });

  it('tells apart values JSON would conflate, and matches what JSON sends', () => {
    const bytes = (b: number[]) => chat({ ...base, data: new Uint8Array(b) });
    expect(bytes([1, 2])).not.toBe(bytes([1, 3]));
    expect(bytes([1, 2])).toBe(bytes([1, 2]));
    expect(chat({ ...base, x: new Map([['a', 1]]) })).not.toBe(chat({ ...base, x: new Map([['a', 2]]) }));
    expect(chat({ ...base, x: 1n })).not.toBe(chat({ ...base, x: '1n' }));
    // toJSON is applied, non-finite numbers are null, as JSON.stringify sends them.
    expect(chat({ ...base, at: new Date(0) })).toBe(chat({ ...base, at: '1970-01-01T00:00:00.000Z' }));
    expect(chat({ ...base, x: Number.NaN })).toBe(chat({ ...base, x: null }));
    const selfJson = {
      a: 1,
      toJSON() {
        return this;
      },
    };
    expect(() => chat({ ...base, x: selfJson })).not.toThrow();
  });

  it('throws a TypeError on a cycle', () => {
    const params: Record<string, unknown> = { ...base };
    params.self = params;
    expect(() => chat(params)).toThrow(TypeError);
    // A shared (non-cyclic) object is fine.
    const shared = { role: 'user', content: 'same' };
    expect(() => chat({ ...base, messages: [shared, shared] })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------

const entry = (text: string, storedAtMs = 1_000): CachedResponse => ({
  body: { id: `r-${text}`, choices: [{ message: { role: 'assistant', content: text } }] },
  provider: 'openai',
  model: 'gpt-4o',
  usage: { ...emptyUsage(), inputTokens: 12, outputTokens: 3 },
  costNano: 60_000,
  storedAtMs,
});

/** Behaviour every store shares. */
function storeContract(name: string, make: () => ResponseCacheStore) {
  describe(`${name} (store contract)`, () => {
    it('returns what was set until it expires (expiry instant excluded)', () => {
      const store = make();
      store.set('k', entry('hello'), 2_000);
      expect(store.get('k', 1_000)).toEqual(entry('hello'));
      expect(store.get('k', 1_999)).toEqual(entry('hello'));
      expect(store.get('k', 2_000)).toBeUndefined();
      expect(store.get('k', 1_000)).toBeUndefined(); // expired entries are gone once seen
      expect(store.get('missing', 0)).toBeUndefined();
      store.close?.();
    });

    it('replaces an entry set again under the same key', () => {
      const store = make();
      store.set('k', entry('one'), 5_000);
      store.set('k', entry('two'), 9_000);
      expect(store.get('k', 6_000)?.body).toEqual(entry('two').body);
      store.close?.();
    });

    it('hands out deep copies: mutating a hit, or the value set, never changes the store', () => {
      const store = make();
      const value = entry('original');
      store.set('k', value, 10_000);
      (value.body as { id: string }).id = 'changed-after-set';
      const hit = store.get('k', 1)!;
      (hit.body as { choices: { message: { content: string } }[] }).choices[0]!.message.content = 'mutated';
      hit.usage.inputTokens = 999;
      const again = store.get('k', 2)!;
      expect(again).toEqual(entry('original'));
      expect(again).not.toBe(hit);
      store.close?.();
    });
  });
}

storeContract('MemoryResponseCache', () => new MemoryResponseCache());
storeContract('SqliteResponseCache', () => new SqliteResponseCache(join(tempDir(), 'cache.db')));

describe('MemoryResponseCache', () => {
  it('evicts the least recently used entry beyond maxEntries (a read counts as a use)', () => {
    const cache = new MemoryResponseCache({ maxEntries: 3 });
    cache.set('a', entry('a'), 10_000);
    cache.set('b', entry('b'), 10_000);
    cache.set('c', entry('c'), 10_000);
    expect(cache.get('a', 0)).toBeDefined(); // a is now the most recent: b is the oldest
    cache.set('d', entry('d'), 10_000);
    expect(cache.size).toBe(3);
    expect(cache.get('b', 0)).toBeUndefined();
    cache.set('c', entry('c2'), 10_000); // rewriting c makes a the oldest
    cache.set('e', entry('e'), 10_000);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(['c', 'd', 'e'].map((k) => cache.get(k, 0)?.body)).toEqual([
      entry('c2').body,
      entry('d').body,
      entry('e').body,
    ]);
  });

  it('rejects a bad maxEntries', () => {
    expect(() => new MemoryResponseCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new MemoryResponseCache({ maxEntries: 1.5 })).toThrow(RangeError);
  });
});

describe('SqliteResponseCache', () => {
  it('persists across close and reopen, in a WAL database with the documented table', () => {
    const path = join(tempDir(), 'nested', 'cache.db');
    const first = new SqliteResponseCache(path);
    first.set('k', entry('kept'), 50_000);
    first.close();
    first.close(); // idempotent

    const second = new SqliteResponseCache(path);
    expect(second.get('k', 10_000)).toEqual(entry('kept'));
    second.close();

    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      const columns = raw.prepare('SELECT name, pk FROM pragma_table_info(?)').all('response_cache');
      expect(columns).toEqual([
        { name: 'key', pk: 1 },
        { name: 'value', pk: 0 },
        { name: 'expires_ms', pk: 0 },
      ]);
      const row = raw.prepare('SELECT value, expires_ms FROM response_cache').get() as {
        value: string;
        expires_ms: number;
      };
      expect(JSON.parse(row.value)).toEqual(entry('kept'));
      expect(row.expires_ms).toBe(50_000);
    } finally {
      raw.close();
    }
  });

  it('deletes expired rows lazily: when read, and all of them every 256 reads', () => {
    const db = new Database(':memory:');
    const cache = new SqliteResponseCache(db);
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM response_cache').get() as { n: number }).n;
    cache.set('old', entry('old'), 100);
    cache.set('older', entry('older'), 50);
    cache.set('fresh', entry('fresh'), 10_000);
    expect(count()).toBe(3);
    expect(cache.get('old', 200)).toBeUndefined();
    expect(count()).toBe(2); // the expired row read is gone; 'older' waits for the sweep
    for (let i = 0; i < 256; i++) cache.get('fresh', 200);
    expect(count()).toBe(1);
    expect(cache.get('fresh', 200)).toEqual(entry('fresh'));
    cache.close(); // a Database passed in stays open: its owner closes it
    expect(db.open).toBe(true);
    db.close();
  });

  it('shares one file between two stores (two processes, in effect)', () => {
    const path = join(tempDir(), 'cache.db');
    const a = new SqliteResponseCache(path);
    const b = new SqliteResponseCache(path);
    a.set('k', entry('shared'), 10_000);
    expect(b.get('k', 1)).toEqual(entry('shared'));
    a.close();
    b.close();
  });

  it('stores "never expires" and treats an unreadable row as a miss', () => {
    const db = new Database(':memory:');
    const cache = new SqliteResponseCache(db);
    cache.set('forever', entry('f'), Number.POSITIVE_INFINITY);
    expect(cache.get('forever', Date.now())).toEqual(entry('f'));
    db.prepare('INSERT INTO response_cache (key, value, expires_ms) VALUES (?, ?, ?)').run(
      'bad',
      '{not json',
      10_000,
    );
    expect(cache.get('bad', 1)).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) AS n FROM response_cache WHERE key = ?').get('bad')).toEqual({ n: 0 });
    db.close();
  });
});
