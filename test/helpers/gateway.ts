/**
 * Test helpers for the gateway: a gateway on 127.0.0.1 over a temp SQLite store with the fake
 * providers as its upstream, raw HTTP calls (bytes as they arrive), and small scripted upstreams.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { newGatewayKey } from '../../src/gateway/keys.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/server.js';
import { createPriceBook } from '../../src/prices/price-book.js';
import { openSqliteShared, type SharedLedger } from '../../src/store/shared.js';
import { type FakeProviders, startFakeProviders } from './fake-providers.js';
import { tempDir } from './tmp.js';

export interface GatewayFixture {
  gw: Gateway;
  url: string;
  store: SharedLedger;
  fake: FakeProviders;
  dir: string;
  ledgerFile: string;
  /** Every line the gateway logged, parsed. */
  logs: Record<string, unknown>[];
  rawLogs: string[];
  /** Creates a gateway key in the store; returns the plain key and its id. */
  key(tenant: string, budget?: string): Promise<{ key: string; id: string }>;
  close(): Promise<void>;
}

export const HELD_ANTHROPIC_KEY = 'sk-ant-api03-HELD-provider-key-DO-NOT-LEAK-0000';
export const HELD_OPENAI_KEY = 'sk-proj-HELD-openai-key-DO-NOT-LEAK-1111';

/** A gateway over a fresh temp store; the fake providers as upstream; the gateway holds both provider keys unless told otherwise. */
export async function startGatewayFixture(
  opts: Partial<GatewayOptions> & { fake?: FakeProviders; upstream?: string } = {},
): Promise<GatewayFixture> {
  const fake = opts.fake ?? (await startFakeProviders());
  const dir = tempDir('tokenledger-gw-');
  const ledgerFile = join(dir, 'ledger.db');
  const store = opts.store ?? openSqliteShared(ledgerFile);
  const rawLogs: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const upstream = opts.upstream ?? fake.url;
  const { fake: _f, upstream: _u, ...rest } = opts;
  const gw = createGateway({
    priceBook: createPriceBook(),
    upstreams: { anthropic: upstream, openai: upstream },
    providerKeys: { anthropic: HELD_ANTHROPIC_KEY, openai: HELD_OPENAI_KEY },
    keyCacheMs: 0,
    flushIntervalMs: 20,
    logger: (line) => {
      rawLogs.push(line);
      logs.push(JSON.parse(line) as Record<string, unknown>);
    },
    ...rest,
    store,
  });
  const url = await gw.listen(0, '127.0.0.1');
  return {
    gw,
    url,
    store,
    fake,
    dir,
    ledgerFile,
    logs,
    rawLogs,
    async key(tenant, budget) {
      const { key, record } = newGatewayKey({ tenant, ...(budget ? { budget } : {}) });
      await store.putKey(record);
      return { key, id: record.id };
    },
    async close() {
      await gw.close(1000);
      await store.close();
      if (!opts.fake) await fake.close();
    },
  };
}

/** Every byte of every file in `dir` (the ledger and its WAL), as latin1 text for searching. */
export function dirBytes(dir: string): string {
  return readdirSync(dir)
    .map((f) => readFileSync(join(dir, f)).toString('latin1'))
    .join('\n');
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body chunks as they arrived. */
  chunks: Buffer[];
}

/** A POST (or any method) with a raw body; resolves with every byte of the answer. */
export function rawRequest(
  url: string,
  path: string,
  opts: {
    method?: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    onChunk?: (c: Buffer) => void;
  } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = request(
      u,
      { method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          opts.onChunk?.(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), chunks }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface ScriptedUpstream {
  url: string;
  /** Raw request headers (lower-case names) and bodies, in order. */
  requests: { path: string; headers: Record<string, string | string[] | undefined>; body: string }[];
  close(): Promise<void>;
}

/** An upstream answering every request with `handler` (after reading the body). */
export async function startScriptedUpstream(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>,
): Promise<ScriptedUpstream> {
  const requests: ScriptedUpstream['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      void Promise.resolve(handler(req, res, body)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** Resolves when `check()` is true (polled), or rejects after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
