import { randomBytes } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseBudgetFlag } from '../src/gateway/budget-spec.js';
import { openPostgresShared } from '../src/store/postgres.js';
import type { SharedLedger } from '../src/store/shared.js';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';
import {
  type GatewayFixture,
  rawRequest,
  startGatewayFixture,
  startScriptedUpstream,
  until,
} from './helpers/gateway.js';
import { testPostgresUrl } from './helpers/services.js';
import { removeTempDirs } from './helpers/tmp.js';

/**
 * The gateway on PostgreSQL: two gateways (two pools, as two processes would have) sharing one
 * schema, on the test PostgreSQL server (test/global-setup.ts provides it).
 */
const PG_URL = testPostgresUrl();
const schema = `gw_test_${process.pid}_${randomBytes(3).toString('hex')}`;
const small = {
  usage: {
    inputTokens: 20,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: 50,
  },
};

describe('gateway on PostgreSQL', () => {
  let fake: FakeProviders;
  const fixtures: GatewayFixture[] = [];
  const closers: (() => Promise<void>)[] = [];
  const open = () => openPostgresShared(PG_URL, { schema });

  beforeAll(async () => {
    fake = await startFakeProviders({ defaultResponse: { ...small, delayMs: 20 } });
  });
  afterEach(async () => {
    for (const f of fixtures.splice(0)) await f.close();
    for (const c of closers.splice(0)) await c();
    removeTempDirs();
  });
  afterAll(async () => {
    await fake.close();
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: PG_URL });
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  async function twoGateways(opts: Parameters<typeof startGatewayFixture>[0] = {}) {
    const stores: SharedLedger[] = [await open(), await open()];
    const [a, b] = await Promise.all(stores.map((store) => startGatewayFixture({ ...opts, fake, store })));
    fixtures.push(a!, b!);
    return [a!, b!] as const;
  }

  it('meters calls, and a tenant reads only its own spend', async () => {
    const [g1, g2] = await twoGateways({ adminToken: 'pg-admin' });
    const t = `acme-${schema}`;
    const other = `globex-${schema}`;
    const a = await g1.key(t);
    const b = await g2.key(other);
    const s = await new Anthropic({ apiKey: a.key, baseURL: g1.url, maxRetries: 0 }).messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const _ev of s) {
    }
    await rawRequest(g2.url, '/v1/chat/completions', {
      body: JSON.stringify({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'hi' }] }),
      headers: { authorization: `Bearer ${b.key}`, 'x-tokenledger-agent': 'writer' },
    });
    await g1.gw.flush();
    await g2.gw.flush();
    // A key made on one gateway works on the other: keys live in the store.
    const mine = JSON.parse(
      (
        await rawRequest(g2.url, '/v1/spend?by=agent', { method: 'GET', headers: { 'x-api-key': a.key } })
      ).body.toString(),
    );
    expect([mine.tenant, mine.totals.events, mine.totals.outputTokens]).toEqual([t, 1, 50]);
    const theirs = JSON.parse(
      (
        await rawRequest(g1.url, '/v1/spend?by=agent', { method: 'GET', headers: { 'x-api-key': b.key } })
      ).body.toString(),
    );
    expect([theirs.tenant, theirs.totals.events, theirs.groups[0].key]).toEqual([other, 1, 'writer']);
  });

  it('two gateways keep concurrent calls within one shared budget', async () => {
    const [g1, g2] = await twoGateways({ budgets: [parseBudgetFlag('tenant=*:0.01/30d')] });
    const t = `budget-${schema}`;
    const { key } = await g1.key(t);
    const call = (g: GatewayFixture) =>
      rawRequest(g.url, '/v1/chat/completions', {
        body: JSON.stringify({
          model: 'gpt-4.1-mini',
          max_completion_tokens: 1500,
          messages: [{ role: 'user', content: 'hi' }],
        }),
        headers: { authorization: `Bearer ${key}` },
      }).then((r) => r.status);
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => call(i % 2 ? g1 : g2)));
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 429).length).toBe(40);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(40);
    await g1.gw.flush();
    await g2.gw.flush();
    const events = (await g1.store.events({ tenant: t })).filter((e) => e.source === 'gateway');
    expect(events).toHaveLength(ok);
    expect(events.reduce((s, e) => s + e.cost.nanoUsd!, 0)).toBeLessThanOrEqual(10_000_000);
  });

  it('a budget alert is posted once, whichever gateway sees the crossing', async () => {
    const hook = await startScriptedUpstream((_req, res) => {
      res.writeHead(200);
      res.end();
    });
    closers.push(hook.close);
    const [g1, g2] = await twoGateways({ alerts: { webhooks: [hook.url], thresholds: [10] } });
    const { key } = await g1.key(`alerts-${schema}`, '0.01/1d');
    for (const g of [g1, g2, g1, g2, g1, g2])
      await new Anthropic({ apiKey: key, baseURL: g.url, maxRetries: 0 }).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      });
    await until(() => hook.requests.length >= 1, 3000, 'the alert');
    await g1.gw.flush();
    await g2.gw.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.requests).toHaveLength(1);
  });
});
