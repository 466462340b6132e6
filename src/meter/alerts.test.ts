import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { type BudgetKey, type BudgetSpec, budgetKeys } from '../core/budget.js';
import { SqliteAlertStore } from '../store/alert-sqlite.js';
import {
  AlertDeliveryError,
  AlertDispatcher,
  type AlertDispatcherOptions,
  type AlertStore,
  alertText,
  type BudgetAlert,
  inferWebhookFormat,
  webhookPayload,
} from './alerts.js';

const CENT = 10_000_000; // nano-dollars
const DOLLAR = 100 * CENT;
const T0 = Date.UTC(2026, 0, 15, 10, 30);
const DAY = 86_400_000;

const PER_RUN: BudgetSpec = { scope: { run: '*' }, limitUsd: 2, window: 'run' };
const LIMIT = 2 * DOLLAR;

function runKey(run = 'nightly-42'): BudgetKey {
  return budgetKeys(PER_RUN, { run }, T0)[0]!;
}

// ---------------------------------------------------------------------------------------------
// A real webhook: an HTTP server on 127.0.0.1 that records each JSON body and answers as told.
// ---------------------------------------------------------------------------------------------

interface Hit {
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
}

const servers: Server[] = [];
const stores: AlertStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  removeTempDirs();
});

async function receiver(reply: (n: number) => Reply = () => ({})) {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      hits.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const r = reply(hits.length);
      if (r.delayMs) await sleep(r.delayMs);
      res.writeHead(r.status ?? 200, r.headers ?? {});
      res.end(r.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return {
    hits,
    origin: `http://127.0.0.1:${port}`,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
  };
}

function memoryStore(): SqliteAlertStore {
  const s = new SqliteAlertStore(':memory:');
  stores.push(s);
  return s;
}

/** A dispatcher with fast retries that records what it reports; `store` defaults to an in-memory SQLite. */
function dispatcher(opts: Partial<AlertDispatcherOptions> & Pick<AlertDispatcherOptions, 'webhooks'>) {
  const errors: unknown[] = [];
  const alerts: BudgetAlert[] = [];
  const d = new AlertDispatcher({
    store: memoryStore(),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    onError: (e) => errors.push(e),
    onAlert: (a) => alerts.push(a),
    now: () => T0,
    ...opts,
  });
  return { d, errors, alerts };
}

function texts(hits: Hit[]): unknown[] {
  return hits.map((h) => h.body.text);
}

describe('payloads', () => {
  it('posts a Slack payload with exact dollars', async () => {
    const r = await receiver();
    const { d, errors, alerts } = dispatcher({ webhooks: [{ url: r.url('/slack'), format: 'slack' }] });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: 162 * CENT });
    await d.flush();
    expect(r.hits).toEqual([
      {
        path: '/slack',
        contentType: 'application/json',
        body: {
          // Slack wants `&` as `&amp;`; formatting is off so `*` stays a star.
          text: 'tokenledger: budget "run=*&amp;window=run" (run=nightly-42) reached 80% — $1.62 of $2.00 spent (window run)',
          mrkdwn: false,
        },
      },
    ]);
    expect(alerts).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('posts a Discord payload: markdown escaped, no mentions', async () => {
    const r = await receiver();
    const { d, errors } = dispatcher({ webhooks: [{ url: r.url('/discord'), format: 'discord' }] });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: 162 * CENT });
    await d.flush();
    expect(r.hits.map((h) => h.body)).toEqual([
      {
        content:
          'tokenledger: budget "run=\\*&window=run" (run=nightly-42) reached 80% — $1.62 of $2.00 spent (window run)',
        allowed_mentions: { parse: [] },
      },
    ]);
    expect(errors).toEqual([]);
  });

  it('posts a generic payload with the alert and its dollar figures', async () => {
    const r = await receiver();
    const { d } = dispatcher({ webhooks: [r.url('/generic')] }); // inferred: generic
    const spec: BudgetSpec = {
      id: 'team-daily',
      scope: { project: 'acme' },
      limitUsd: 20,
      window: '1d',
      mode: 'alert',
    };
    const key = budgetKeys(spec, { project: 'acme' }, T0)[0]!;
    // $10.005 of $20 = 50.025%; "$10.01" is formatUsd's half-up rounding of $10.005.
    d.observe({ key, spec, limitNano: 20 * DOLLAR, spentNano: 10_005_000_000 });
    await d.flush();
    const text =
      'tokenledger: budget "team-daily" (project=acme) reached 50% — $10.01 of $20.00 spent ' +
      '(window 1d from 2026-01-15 00:00 UTC)';
    expect(r.hits.map((h) => h.body)).toEqual([
      {
        text,
        content: text,
        alert: {
          kind: 'threshold',
          budgetId: 'team-daily',
          scope: { project: 'acme' },
          window: '1d',
          windowStartMs: Date.UTC(2026, 0, 15),
          windowEndMs: Date.UTC(2026, 0, 16),
          thresholdPct: 50,
          limitNano: 20_000_000_000,
          spentNano: 10_005_000_000,
          atMs: T0,
          mode: 'alert',
          limitUsd: 20,
          spentUsd: 10.005,
        },
      },
    ]);
  });

  it('shows sub-cent limits exactly, a global scope, and refusals', () => {
    const base: BudgetAlert = {
      kind: 'threshold',
      budgetId: 'window=run',
      scope: {},
      window: 'run',
      windowStartMs: null,
      windowEndMs: null,
      thresholdPct: 80,
      limitNano: 5_000_000, // $0.005
      spentNano: 4_000_000,
      atMs: T0,
      mode: 'enforce',
    };
    expect(alertText(base)).toBe(
      'tokenledger: budget "window=run" (all calls) reached 80% — $0.004 of $0.005 spent (window run)',
    );
    expect(alertText({ ...base, kind: 'refused', thresholdPct: 100 })).toBe(
      'tokenledger: budget "window=run" (all calls) refused a call — $0.004 of $0.005 spent (window run)',
    );
  });

  it('keeps Discord content within 2000 characters', () => {
    const alert: BudgetAlert = {
      kind: 'threshold',
      budgetId: 'x'.repeat(3000),
      scope: { user: '@everyone' },
      window: 'run',
      windowStartMs: null,
      windowEndMs: null,
      thresholdPct: 50,
      limitNano: DOLLAR,
      spentNano: DOLLAR / 2,
      atMs: T0,
      mode: 'enforce',
    };
    const p = webhookPayload('discord', alert);
    expect(p.content).toHaveLength(2000);
    expect(String(p.content).endsWith('…')).toBe(true);
    expect(p.allowed_mentions).toEqual({ parse: [] });
  });

  it('infers the format from the URL', () => {
    expect(inferWebhookFormat('https://hooks.slack.com/services/T0/B0/XXXX')).toBe('slack');
    expect(inferWebhookFormat('https://discord.com/api/webhooks/123/abc')).toBe('discord');
    expect(inferWebhookFormat('https://discordapp.com/api/webhooks/123/abc')).toBe('discord');
    expect(inferWebhookFormat('https://canary.discord.com/api/v10/webhooks/123/abc')).toBe('discord');
    expect(inferWebhookFormat('https://discord.com/channels/123')).toBe('generic');
    expect(inferWebhookFormat('https://example.com/hooks.slack.com')).toBe('generic');
    expect(inferWebhookFormat('http://127.0.0.1:9/hook')).toBe('generic');
  });

  it('refuses bad options at construction', () => {
    const store = memoryStore();
    expect(() => new AlertDispatcher({ webhooks: ['not a url'], store })).toThrow(TypeError);
    expect(() => new AlertDispatcher({ webhooks: ['ftp://example.com/x'], store })).toThrow(TypeError);
    for (const thresholds of [[0], [-5], [Number.NaN], [Number.POSITIVE_INFINITY]])
      expect(() => new AlertDispatcher({ webhooks: [], store, thresholds })).toThrow(RangeError);
    expect(() => new AlertDispatcher({ webhooks: [], store, retry: { attempts: 0 } })).toThrow(RangeError);
  });
});

describe('thresholds', () => {
  it('sends nothing below 50% and one alert at exactly 50%', async () => {
    const r = await receiver();
    const { d, alerts } = dispatcher({ webhooks: [r.url()] });
    const observe = (spentNano: number) =>
      d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano });
    observe(999_800_000); // 49.99%
    observe(DOLLAR - 1); // one nano-dollar short of 50%
    await d.flush();
    expect(r.hits).toEqual([]);
    observe(DOLLAR); // exactly 50%
    observe(DOLLAR); // the same again: already sent
    await d.flush();
    expect(alerts.map((a) => a.thresholdPct)).toEqual([50]);
    expect(texts(r.hits)).toEqual([
      'tokenledger: budget "run=*&window=run" (run=nightly-42) reached 50% — $1.00 of $2.00 spent (window run)',
    ]);
  });

  it('sends one message for the highest threshold crossed at once, then one per new threshold', async () => {
    const r = await receiver();
    const { d, alerts } = dispatcher({ webhooks: [r.url()] });
    const observe = (spentNano: number) =>
      d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano });
    observe(170 * CENT); // 0 → 85%: crosses 50 and 80, one message for 80
    await d.flush();
    observe(190 * CENT); // 95%: nothing new
    observe(LIMIT); // 100%
    observe(300 * CENT); // 150%: no threshold above 100
    await d.flush();
    expect(alerts.map((a) => a.thresholdPct)).toEqual([80, 100]);
    expect(texts(r.hits)).toEqual([
      'tokenledger: budget "run=*&window=run" (run=nightly-42) reached 80% — $1.70 of $2.00 spent (window run)',
      'tokenledger: budget "run=*&window=run" (run=nightly-42) reached 100% — $2.00 of $2.00 spent (window run)',
    ]);
  });

  it('claims the lower thresholds with the highest, so they are never sent late', async () => {
    const store = memoryStore();
    const { d, alerts } = dispatcher({ webhooks: [], store });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: LIMIT });
    await d.flush();
    expect(alerts.map((a) => a.thresholdPct)).toEqual([100]);
    for (const pct of [50, 80, 100])
      expect(store.claim(JSON.stringify([runKey().key, LIMIT, pct]), T0)).toBe(false);
  });

  it('sends nothing when a higher threshold was already sent by someone else', async () => {
    const store = memoryStore();
    // Another process sent 100%; this one has not seen 80% yet.
    expect(store.claim(JSON.stringify([runKey().key, LIMIT, 100]), T0)).toBe(true);
    const { d, alerts } = dispatcher({ webhooks: [], store });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: LIMIT });
    await d.flush();
    expect(alerts).toEqual([]);
  });

  it('compares in exact integers where floating point would be wrong', async () => {
    // spent × 100 = 154459502698403900 < limit × 80 = 154459502698403920, but as floats both
    // products round to the same double and `>=` would say 80% was reached.
    const limitNano = 1_930_743_783_730_049;
    const spentNano = 1_544_595_026_984_039;
    expect(spentNano * 100 >= limitNano * 80).toBe(true); // the float comparison is wrong
    const { d, alerts } = dispatcher({ webhooks: [] });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano, spentNano });
    expect(alerts.map((a) => a.thresholdPct)).toEqual([50]);
    d.observe({ key: runKey(), spec: PER_RUN, limitNano, spentNano: spentNano + 1 });
    expect(alerts.map((a) => a.thresholdPct)).toEqual([50, 80]);
  });

  it('sorts and de-duplicates custom thresholds, fractional ones included', async () => {
    const { d, alerts } = dispatcher({ webhooks: [], thresholds: [100, 25.5, 25.5] });
    const observe = (spentNano: number) =>
      d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano });
    observe(509_999_999); // one nano-dollar below 25.5% of $2
    observe(510_000_000); // exactly 25.5%
    observe(150 * CENT);
    observe(LIMIT);
    expect(alerts.map((a) => a.thresholdPct)).toEqual([25.5, 100]);
  });

  it('keeps each budget key (scope value, window) separate', async () => {
    const { d, alerts } = dispatcher({ webhooks: [] });
    d.observe({ key: runKey('a'), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    d.observe({ key: runKey('b'), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    d.observe({ key: runKey('a'), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    expect(alerts.map((a) => a.scope)).toEqual([{ run: 'a' }, { run: 'b' }]);
  });

  it('alerts separately for budgets sharing a ledger row with different limits', async () => {
    const { d, alerts } = dispatcher({ webhooks: [] });
    const tight: BudgetSpec = { ...PER_RUN, limitUsd: 1 };
    const observe = (spentNano: number) => {
      d.observe({ key: runKey(), spec: tight, limitNano: DOLLAR, spentNano });
      d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano });
    };
    observe(50 * CENT); // 50% of $1, 25% of $2
    observe(100 * CENT); // 100% of $1, 50% of $2
    expect(alerts.map((a) => [a.limitNano / DOLLAR, a.thresholdPct])).toEqual([
      [1, 50],
      [1, 100],
      [2, 50],
    ]);
  });

  it('sends a refusal once per budget key, independently of the thresholds', async () => {
    const r = await receiver();
    const { d, alerts } = dispatcher({ webhooks: [r.url()] });
    const input = { key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: 198 * CENT };
    d.observeRefusal(input);
    d.observeRefusal(input);
    d.observe(input); // 99%: the 80% alert (50 claimed with it)
    await d.flush();
    expect(alerts.map((a) => [a.kind, a.thresholdPct])).toEqual([
      ['refused', 100],
      ['threshold', 80],
    ]);
    expect(texts(r.hits)).toEqual([
      'tokenledger: budget "run=*&window=run" (run=nightly-42) refused a call — $1.98 of $2.00 spent (window run)',
      'tokenledger: budget "run=*&window=run" (run=nightly-42) reached 80% — $1.98 of $2.00 spent (window run)',
    ]);
  });
});

describe('de-duplication across a restart', () => {
  it('does not resend after a restart, and sends again in a new window', async () => {
    const r = await receiver();
    const path = join(tempDir(), 'ledger.db');
    const daily: BudgetSpec = { scope: { user: 'u1' }, limitUsd: 2, window: '1d' };
    const today = budgetKeys(daily, { user: 'u1' }, T0)[0]!;

    const store1 = new SqliteAlertStore(path);
    const first = dispatcher({ webhooks: [r.url()], store: store1 });
    first.d.observe({ key: today, spec: daily, limitNano: LIMIT, spentNano: DOLLAR });
    await first.d.close();
    store1.close();
    expect(texts(r.hits)).toEqual([
      'tokenledger: budget "user=u1&window=1d" (user=u1) reached 50% — $1.00 of $2.00 spent ' +
        '(window 1d from 2026-01-15 00:00 UTC)',
    ]);

    // "Restart": a new store and dispatcher on the same file, nothing kept in memory.
    const store2 = new SqliteAlertStore(path);
    stores.push(store2);
    const second = dispatcher({ webhooks: [r.url()], store: store2, now: () => T0 + 60_000 });
    second.d.observe({ key: today, spec: daily, limitNano: LIMIT, spentNano: DOLLAR });
    second.d.observe({ key: today, spec: daily, limitNano: LIMIT, spentNano: DOLLAR + 1 });
    await second.d.flush();
    expect(r.hits).toHaveLength(1);
    expect(second.alerts).toEqual([]);

    const tomorrow = budgetKeys(daily, { user: 'u1' }, T0 + DAY)[0]!;
    expect(tomorrow.key).not.toBe(today.key);
    second.d.observe({ key: tomorrow, spec: daily, limitNano: LIMIT, spentNano: DOLLAR });
    await second.d.close();
    expect(texts(r.hits)).toHaveLength(2);
    expect(r.hits[1]!.body.text).toBe(
      'tokenledger: budget "user=u1&window=1d" (user=u1) reached 50% — $1.00 of $2.00 spent ' +
        '(window 1d from 2026-01-16 00:00 UTC)',
    );
  });

  it('sends once when two dispatchers on the same file see the same crossing', async () => {
    const r = await receiver();
    const path = join(tempDir(), 'ledger.db');
    const [a, b] = [0, 1].map(() => {
      const store = new SqliteAlertStore(path);
      stores.push(store);
      return dispatcher({ webhooks: [r.url()], store }).d;
    });
    a!.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    b!.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await Promise.all([a!.flush(), b!.flush()]);
    expect(r.hits).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries 5xx and delivers once', async () => {
    const r = await receiver((n) => (n <= 2 ? { status: 500 } : {}));
    const { d, errors } = dispatcher({ webhooks: [r.url()] });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await d.flush();
    expect(r.hits).toHaveLength(3);
    expect(new Set(r.hits.map((h) => JSON.stringify(h.body))).size).toBe(1); // the same message each time
    expect(errors).toEqual([]);
  });

  it('honours Retry-After on 429 instead of its own backoff', async () => {
    const r = await receiver((n) => (n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : {}));
    // A one-minute backoff: only the Retry-After of 0 s can make this test finish in time.
    const { d, errors } = dispatcher({
      webhooks: [r.url()],
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const started = Date.now();
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await d.flush();
    expect(r.hits).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(errors).toEqual([]);
  });

  it('does not retry a 400, reports it and releases the claim', async () => {
    const r = await receiver((n) => (n === 1 ? { status: 400, body: 'invalid_payload' } : {}));
    const { d, errors, alerts } = dispatcher({ webhooks: [r.url('/services/T0/B0/s3cr3t-token')] });
    const input = { key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR };
    d.observe(input);
    await d.flush();
    expect(r.hits).toHaveLength(1);
    expect(errors).toHaveLength(1);
    const err = errors[0] as AlertDeliveryError;
    expect(err).toBeInstanceOf(AlertDeliveryError);
    expect(err.message).toBe(
      `tokenledger: budget alert for "run=*&window=run" (threshold 50%) not delivered to ${r.origin}/services/… ` +
        'after 1 attempt: HTTP 400 (invalid_payload)',
    );
    expect(err).toMatchObject({ target: `${r.origin}/services/…`, attempts: 1, status: 400 });
    // Released: the next observation of the same spend tries again, and this time it is accepted.
    d.observe(input);
    await d.flush();
    expect(r.hits).toHaveLength(2);
    expect(alerts).toHaveLength(2);
    d.observe(input);
    await d.flush();
    expect(r.hits).toHaveLength(2);
  });

  it('gives up after the last attempt without logging the secret part of the URL', async () => {
    const r = await receiver(() => ({ status: 503 }));
    const secretUrl = r.url('/api/webhooks/123/s3cr3t-token?wait=true');
    const { d, errors } = dispatcher({
      webhooks: [{ url: secretUrl, format: 'discord' }],
      retry: { attempts: 3, baseDelayMs: 1 },
    });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await d.flush();
    expect(r.hits).toHaveLength(3);
    expect(errors).toHaveLength(1);
    const message = (errors[0] as Error).message;
    expect(message).toContain(`to ${r.origin}/api/… after 3 attempts: HTTP 503`);
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('wait=true');
  });

  it('retries a network error and a timeout', async () => {
    // A port that was just listening and no longer is: connection refused.
    const gone = await receiver();
    const goneUrl = gone.url();
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const refused = dispatcher({ webhooks: [goneUrl], retry: { attempts: 2, baseDelayMs: 1 } });
    refused.d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await refused.d.flush();
    expect(refused.errors).toHaveLength(1);
    expect((refused.errors[0] as Error).message).toMatch(/after 2 attempts: fetch failed/);

    const slow = await receiver((n) => (n === 1 ? { delayMs: 500 } : {}));
    const timed = dispatcher({ webhooks: [slow.url()], timeoutMs: 100 });
    timed.d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    await timed.d.flush();
    expect(slow.hits).toHaveLength(2);
    expect(timed.errors).toEqual([]);
  });

  it('keeps the claim when at least one of several webhooks accepted the alert', async () => {
    const good = await receiver();
    const bad = await receiver(() => ({ status: 404 }));
    const { d, errors } = dispatcher({ webhooks: [good.url(), bad.url()] });
    const input = { key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR };
    d.observe(input);
    await d.flush();
    d.observe(input);
    await d.flush();
    // A retry would have duplicated the message on the webhook that got it.
    expect(good.hits).toHaveLength(1);
    expect(bad.hits).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });
});

describe('never blocking, never throwing', () => {
  it('returns before the delivery completes; flush waits for it', async () => {
    const r = await receiver(() => ({ delayMs: 200 }));
    let answered = false;
    const { d } = dispatcher({
      webhooks: [r.url()],
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        answered = true;
        return res;
      },
    });
    const started = performance.now();
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR });
    expect(performance.now() - started).toBeLessThan(50);
    expect(answered).toBe(false);
    await d.flush();
    expect(answered).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(r.hits).toHaveLength(1);
  });

  it('reports a failing store, bad input and a throwing onError instead of throwing', async () => {
    const r = await receiver();
    const broken: AlertStore = {
      claim: () => {
        throw new Error('SQLITE_BUSY: database is locked');
      },
      unclaim: () => {},
      close: () => {},
    };
    const { d, errors } = dispatcher({ webhooks: [r.url()], store: broken });
    const input = { key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: DOLLAR };
    expect(() => d.observe(input)).not.toThrow();
    expect(() => d.observeRefusal(input)).not.toThrow();
    expect(() => d.observe({ ...input, spentNano: Number.NaN })).not.toThrow();
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'SQLITE_BUSY: database is locked',
      'SQLITE_BUSY: database is locked',
      'budget alert for "run=*&window=run": limitNano and spentNano must be non-negative integers (got 2000000000, NaN)',
    ]);

    const throwing = new AlertDispatcher({
      webhooks: [r.url()],
      store: broken,
      onError: () => {
        throw new Error('the logger is broken too');
      },
    });
    expect(() => throwing.observe(input)).not.toThrow();
    await d.flush();
    expect(r.hits).toEqual([]);
  });

  it('releases the claims it took when the store fails half-way', () => {
    const claimed = new Set<string>();
    const flaky: AlertStore = {
      claim: (k) => {
        if (claimed.size === 1) throw new Error('disk I/O error');
        claimed.add(k);
        return true;
      },
      unclaim: (k) => void claimed.delete(k),
      close: () => {},
    };
    const { d, errors, alerts } = dispatcher({ webhooks: [], store: flaky });
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: 170 * CENT }); // 50 then 80
    expect(alerts).toEqual([]);
    expect(claimed.size).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('ignores observations after close', async () => {
    const r = await receiver();
    const { d, alerts } = dispatcher({ webhooks: [r.url()] });
    await d.close();
    d.observe({ key: runKey(), spec: PER_RUN, limitNano: LIMIT, spentNano: LIMIT });
    await d.flush();
    expect(alerts).toEqual([]);
    expect(r.hits).toEqual([]);
  });
});
