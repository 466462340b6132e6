import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { MIGRATIONS, openSqliteLedger } from './sqlite.js';

afterEach(() => removeTempDirs());

describe('outcomes in the SQLite ledger', () => {
  it('stores outcomes, last write wins, and an equal verdict is not a change', () => {
    const ledger = openSqliteLedger(join(tempDir(), 'l.db'));
    try {
      const g0 = ledger.generation();
      // Within one call the last verdict for a run wins.
      expect(
        ledger.putOutcomes([
          { run: 'r1', success: true, units: 3, valueUsd: 4.5, ts: 1000, source: 'a.csv' },
          { run: 'r2', success: false, score: 0.25, ts: 1000 },
          { run: 'r1', success: true, units: 2, ts: 1000, source: 'a.csv' },
        ]),
      ).toBe(2);
      expect(ledger.generation()).toBe(g0 + 1);
      expect(ledger.outcomes()).toEqual([
        { run: 'r1', success: true, units: 2, ts: 1000, source: 'a.csv' },
        { run: 'r2', success: false, score: 0.25, ts: 1000 },
      ]);
      // The same verdicts again (a later import of the same file): nothing changes, not even ts.
      expect(
        ledger.putOutcomes([
          { run: 'r1', success: true, units: 2, ts: 5000, source: 'b.csv' },
          { run: 'r2', success: false, score: 0.25 },
        ]),
      ).toBe(0);
      expect(ledger.generation()).toBe(g0 + 1);
      expect(ledger.outcomes()[0]).toMatchObject({ ts: 1000, source: 'a.csv' });
      // A later, different verdict replaces the stored one; a missing ts is now.
      const before = Date.now();
      expect(ledger.putOutcomes([{ run: 'r2', success: true, valueUsd: 0.000000001 }])).toBe(1);
      const r2 = ledger.outcomes()[1]!;
      expect(r2).toMatchObject({ run: 'r2', success: true, valueUsd: 0.000000001 });
      expect(r2.score).toBeUndefined();
      expect(r2.ts).toBeGreaterThanOrEqual(before);
    } finally {
      ledger.close();
    }
  });

  it('a version-3 ledger keeps its events through migration 4 and gains an empty outcomes table', () => {
    const file = join(tempDir(), 'v3.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.slice(0, 3)) old.exec(m);
    old.pragma('user_version = 3');
    old
      .prepare(
        `INSERT INTO events (id, ts, source, provider, model, input_tokens, cache_read_tokens, cache_write_5m_tokens,
           cache_write_1h_tokens, output_tokens, reasoning_tokens, web_search_requests, cost_nano, price_source,
           estimated, run, agent_name, attr_rank, attr_file, attr_line, unsplit_tokens)
         VALUES ('e1', 1700000000000, 'meter', 'anthropic', 'claude-sonnet-4-5', 10, 20, 30, 40, 50, 5, 1,
           123456, 'genai-prices@0.1.8', 0, 'r1', 'planner', 0, '', 0, 0)`,
      )
      .run();
    old.close();

    const ledger = openSqliteLedger(file);
    try {
      expect(ledger.events()).toMatchObject([
        {
          id: 'e1',
          model: 'claude-sonnet-4-5',
          usage: { inputTokens: 10, outputTokens: 50, reasoningTokens: 5 },
          cost: { nanoUsd: 123456 },
          attribution: { run: 'r1', agentName: 'planner' },
        },
      ]);
      expect(ledger.outcomes()).toEqual([]);
      expect(ledger.putOutcomes([{ run: 'r1', success: true }])).toBe(1);
    } finally {
      ledger.close();
    }
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(4);
    expect(MIGRATIONS).toHaveLength(4);
    raw.close();
  });

  it('a read-only ledger of an older version has no outcomes (and no error)', () => {
    const file = join(tempDir(), 'v3.db');
    const old = new Database(file);
    for (const m of MIGRATIONS.slice(0, 3)) old.exec(m);
    old.pragma('user_version = 3');
    old.close();
    const ledger = openSqliteLedger(file, { readonly: true });
    try {
      expect(ledger.outcomes()).toEqual([]);
    } finally {
      ledger.close();
    }
  });
});
