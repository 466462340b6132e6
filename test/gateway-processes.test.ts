/**
 * The guarantee, end to end: two `tokenledger gateway` PROCESSES on one PostgreSQL store,
 * 200 concurrent requests against one tenant budget → the tenant's spend passes the limit by at
 * most one reservation. Then `tokenledger report --store postgres://…` reads the same data.
 * Runs on the test PostgreSQL server that test/global-setup.ts provides.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresShared } from '../src/store/postgres.js';
import { runCli } from './helpers/cli.js';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';
import { rawRequest } from './helpers/gateway.js';
import { CLI_MAIN } from './helpers/paths.js';
import { testPostgresUrl } from './helpers/services.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

const PG = testPostgresUrl();
const HELD_OPENAI_KEY = 'sk-proj-held-by-the-gateway-processes-0000';

describe('two gateway processes on one PostgreSQL store', () => {
  const schema = `gwproc_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = `${PG}${PG.includes('?') ? '&' : '?'}schema=${schema}`;
  let fake: FakeProviders;
  let home: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fake = await startFakeProviders();
    home = tempDir();
  });
  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('close', r)))),
    );
    await fake.close();
    const store = await openPostgresShared(PG, { schema });
    await store.close();
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: PG });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    removeTempDirs();
  });

  function startGateway(): Promise<string> {
    const child = spawn(
      process.execPath,
      [
        CLI_MAIN,
        'gateway',
        '--port',
        '0',
        '--store',
        url,
        '--openai-upstream',
        fake.url,
        '--anthropic-upstream',
        fake.url,
        '--budget',
        'tenant=*:0.2/30d',
        '--quiet',
      ],
      {
        cwd: home,
        env: { ...process.env, TOKENLEDGER_HOME: home, HOME: home, OPENAI_API_KEY: HELD_OPENAI_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway did not start: ${err}`)), 20_000);
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
  }

  it('200 concurrent requests against a $0.20 tenant budget pass it by at most one reservation', async () => {
    const created = await runCli(['keys', 'create', '--tenant', 'acme', '--store', url], { home });
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    const [g1, g2] = await Promise.all([startGateway(), startGateway()]);
    // Each call: gpt-4.1-mini ($0.40 in / $1.60 out per MTok), max 4,000 output tokens → the worst
    // case reserved is a bit over 4,000 × $1.60 = $0.0064; each really uses 20 input + 3,990 output
    // = 20 × 0.4 + 3990 × 1.6 = 6,392 µ$. About 31 fit in $0.20.
    const usage = { inputTokens: 20, cacheReadTokens: 0, outputTokens: 3990, reasoningTokens: 0 };
    for (let i = 0; i < 200; i++) fake.setNext({ usage, delayMs: 30 }, '/v1/chat/completions');
    const body = JSON.stringify({
      model: 'gpt-4.1-mini',
      max_completion_tokens: 4000,
      messages: [{ role: 'user', content: 'one of two hundred' }],
    });
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        rawRequest(i % 2 ? g1 : g2, '/v1/chat/completions', {
          body,
          headers: { authorization: `Bearer ${key}` },
        }).then((r) => r.status),
      ),
    );
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 429).length).toBe(200);
    expect(fake.count('/v1/chat/completions')).toBe(ok);
    expect(ok).toBeGreaterThan(20);
    expect(ok).toBeLessThan(40);

    // Both gateways write through the same store; SIGTERM flushes what is still buffered.
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('close', r)))),
    );
    const store = await openPostgresShared(PG, { schema });
    try {
      const events = (await store.events({ tenant: 'acme' })).filter((e) => e.source === 'gateway');
      expect(events).toHaveLength(ok);
      const spent = events.reduce((s, e) => s + e.cost.nanoUsd!, 0);
      expect(spent).toBe(ok * 6_392_000);
      // The guarantee: at most one reservation (< $0.0065) past the $0.20 limit.
      expect(spent).toBeLessThanOrEqual(200_000_000 + 6_500_000);
    } finally {
      await store.close();
    }

    // The same data through the report command.
    const r = await runCli(['report', '--store', url, '--by', 'model', '--json'], { home });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.totals.events).toBe(ok);
    expect(report.groups.map((g: { key: string }) => g.key)).toEqual(['gpt-4.1-mini']);
  });
});
