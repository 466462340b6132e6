import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { addEvent, emptyTally, GROUP_BYS, type GroupBy, sortGroups, type Tally } from '../core/aggregate.js';
import {
  type BudgetCheck,
  BudgetExceededError,
  type BudgetSpec,
  BudgetStoreError,
  budgetChecks,
  budgetLimitNano,
  GATEWAY_KEY_TAG,
  TENANT_TAG,
  windowMs,
} from '../core/budget.js';
import type { Attribution, UsageEvent } from '../core/event.js';
import { isObj, type Rec } from '../core/json.js';
import { type NanoUsd, nanoToUsd } from '../core/money.js';
import { costOf, type PriceBook, priceEvent } from '../core/pricing.js';
import { cacheWriteTokens, emptyUsage } from '../core/usage.js';
import { AlertDispatcher, type AlertDispatcherOptions, type AlertStore } from '../meter/alerts.js';
import { ANTHROPIC_MESSAGES, type EndpointSpec, OPENAI_CHAT, OPENAI_RESPONSES } from '../meter/endpoints.js';
import { CONSERVATIVE_UNKNOWN_CARD, type EstimateOptions, worstCaseNano } from '../meter/estimate.js';
import { type CallResult, meterEventId } from '../meter/meter.js';
import type { StreamEnd } from '../meter/stream-observer.js';
import { OPENAI_RESPONSE_FINAL_EVENTS } from '../meter/usage.js';
import { tallyJson } from '../report/spend.js';
import type { GatewayKey, SharedLedger } from '../store/shared.js';
import { keyBudgetSpec } from './budget-spec.js';
import { KEY_PREFIX, KeyResolver } from './keys.js';
import { type CallSpan, OtlpExporter, type OtlpExporterOptions, parseTraceparent } from './otlp.js';
import { parseSseBlock, type SseEvent, SseFramer } from './sse.js';

/**
 * `tokenledger gateway`: a metering HTTP proxy for the Anthropic Messages API and the OpenAI Chat
 * Completions and Responses APIs. Clients point their SDK's base URL at it; it forwards each call
 * to the provider, passes the answer back as it arrives (streams chunk by chunk, byte for byte),
 * reads the usage off the wire, and writes one event per call to a {@link SharedLedger}. Budgets
 * are enforced before a call is forwarded (worst-case reservation, as the live meter does), and
 * every piece of state (events, reservations, alert claims, keys) lives in the store, so several
 * gateway processes can share one PostgreSQL database.
 *
 * Never stored or logged: request and response bodies (prompts, completions), provider keys,
 * gateway keys (only their SHA-256 is stored, only their id is logged).
 */

export type Provider = 'anthropic' | 'openai';

export interface GatewayOptions {
  store: SharedLedger;
  priceBook: PriceBook;
  /** Provider base URLs (origin, optionally with a path prefix; a trailing `/v1` is ignored). */
  upstreams?: { anthropic?: string; openai?: string };
  /** Provider keys the gateway holds (from `ANTHROPIC_API_KEY` / `OPENAI_API_KEY`), used for gateway-key calls. */
  providerKeys?: { anthropic?: string; openai?: string };
  /**
   * Forward a provider key the client sends itself. Default, per provider: on when the gateway
   * holds no key for it (clients bring their own), off when it does (clients must use gateway keys).
   */
  passThroughKeys?: boolean | { anthropic?: boolean; openai?: boolean };
  /** Bearer token for `GET /v1/spend` across all tenants. */
  adminToken?: string;
  /** Budgets over `tenant`, `key`, `user`, `feature`, `run`, … (a key's own budget is added per call). */
  budgets?: BudgetSpec[];
  /** Budget alerts to webhooks, as in the live meter; claims are de-duplicated in the store. */
  alerts?: Omit<AlertDispatcherOptions, 'store' | 'onError'>;
  /** Largest request body accepted (default 10 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /** Upstream time limit for the response headers and between two body chunks (default 10 min). */
  upstreamTimeoutMs?: number;
  /** OTLP/HTTP collector base URL (`http://host:4318`), or exporter options. */
  otlpEndpoint?: string;
  otlp?: Omit<OtlpExporterOptions, 'endpoint' | 'onError'>;
  /** Receives one JSON line per request (no newline). Default: stderr. */
  logger?: (line: string) => void;
  /** How long a gateway key lookup is cached (default 10 s): a revoked key stops working within it. */
  keyCacheMs?: number;
  estimate?: EstimateOptions;
  /** Events are written in batches: at most this many wait (default 500) … */
  flushEvery?: number;
  /** … for at most this long (default 200 ms). */
  flushIntervalMs?: number;
  now?: () => number;
}

export interface Gateway {
  readonly server: http.Server;
  /** `http://host:port`, once listening. */
  readonly url: string;
  listen(port?: number, host?: string): Promise<string>;
  /** Writes waiting events and settles waiting budgets now. */
  flush(): Promise<void>;
  /** Stops accepting, lets calls in flight finish (up to `graceMs`), writes everything, stops. Leaves the store open. */
  close(graceMs?: number): Promise<void>;
}

/** The default provider URLs. */
export const DEFAULT_UPSTREAMS: Record<Provider, string> = {
  anthropic: 'https://api.anthropic.com',
  openai: 'https://api.openai.com',
};

/** A provider's base URL and its path prefix (without a trailing `/` or `/v1`), resolved once for every request. */
interface Upstream {
  url: URL;
  prefix: string;
  secure: boolean;
  hostname: string;
  port: string | number;
  /** The `Host` header: the headers go upstream as a raw list, which Node does not complete with it. */
  host: string;
}

interface Route {
  provider: Provider;
  /** How the call is metered; absent for free calls that are forwarded but not metered. */
  spec?: EndpointSpec;
}

const ROUTES: Record<string, Route> = {
  '/v1/messages': { provider: 'anthropic', spec: ANTHROPIC_MESSAGES },
  '/v1/messages/count_tokens': { provider: 'anthropic' },
  '/v1/chat/completions': { provider: 'openai', spec: OPENAI_CHAT },
  '/v1/responses': { provider: 'openai', spec: OPENAI_RESPONSES },
};

const MIB = 1024 * 1024;
/** A non-streamed answer larger than this passes through but is not parsed for usage. */
const MAX_PARSED_RESPONSE = 64 * MIB;
const MAX_PENDING_EVENTS = 100_000;
/** Text deltas kept for a stream that may end before its usage (4 M characters: far past any output cap). */
const MAX_DEFERRED_CHARS = 4_000_000;
/** Events per store write: ~0.4 ms of a synchronous SQLite commit. */
const WRITE_SLICE = 16;
const HEADER_VALUE_MAX = 256;

/** Request headers never forwarded: hop-by-hop, recomputed, or the gateway's own. */
const DROP_REQUEST = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'accept-encoding',
  'expect',
]);
/** Response headers never passed back (hop-by-hop). */
const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Per stream format: which events end it with its usage (`final`), and which only carry generated
 * text (`delta`), parsed only when the stream ends without a final event (to estimate its output).
 */
const STREAM_HINTS: Record<string, { final(ev: SseEvent): boolean; delta(ev: SseEvent): boolean }> = {
  'anthropic.messages': {
    final: (ev) => ev.event === 'message_stop',
    delta: (ev) => ev.event === 'content_block_delta',
  },
  'openai.responses': {
    final: (ev) => ev.event !== undefined && OPENAI_RESPONSE_FINAL_EVENTS.has(ev.event),
    delta: (ev) => ev.event?.endsWith('.delta') === true,
  },
  // Chat chunks name no event: the usage chunk is the one with a usage object.
  'openai.chat.completions': {
    final: (ev) => USAGE_OBJECT.test(ev.data),
    delta: () => true,
  },
};
const USAGE_OBJECT = /"usage"\s*:\s*\{/;

/** Attribution headers → attribution fields. */
const ATTRIBUTION_HEADERS: [string, 'run' | 'task' | 'user' | 'session' | 'feature' | 'project' | 'stage'][] =
  [
    ['x-tokenledger-run', 'run'],
    ['x-tokenledger-task', 'task'],
    ['x-tokenledger-user', 'user'],
    ['x-tokenledger-session', 'session'],
    ['x-tokenledger-feature', 'feature'],
    ['x-tokenledger-project', 'project'],
    ['x-tokenledger-stage', 'stage'],
  ];
/** Tags only the gateway sets (from the key): a client header can neither set nor override them. */
const RESERVED_TAGS = new Set([TENANT_TAG, GATEWAY_KEY_TAG]);

/** One proxied call, from its arrival to its settlement. */
interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  path: string;
  startMs: number;
  t0: number;
  provider: Provider;
  model: string;
  body: Rec;
  attribution: Attribution;
  key: GatewayKey | undefined;
  reservations: { id: string; check: BudgetCheck }[];
  trace: { traceId: string; parentSpanId: string } | undefined;
  /** The request to the provider, once sent. */
  upstream?: http.ClientRequest;
  status: number;
  streamed: boolean;
  clientGone: boolean;
  done: boolean;
  /** Set when the call ended without a metered answer: what to log. */
  outcome?: string;
}

/** An answer the gateway makes itself: status, error type and message, extra fields and headers. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Rec = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Creates a gateway (not yet listening).
 *
 * @example
 * const store = openSqliteShared(ledgerPath(undefined));
 * const gw = createGateway({ store, priceBook: loadPriceBook(undefined), providerKeys: { anthropic: process.env.ANTHROPIC_API_KEY } });
 * await gw.listen(8787, '127.0.0.1');
 * // clients: new Anthropic({ baseURL: 'http://127.0.0.1:8787', apiKey: 'tlk_…' })
 */
export function createGateway(opts: GatewayOptions): Gateway {
  return new GatewayServer(opts);
}

class GatewayServer implements Gateway {
  readonly server: http.Server;
  #url = '';
  readonly #store: SharedLedger;
  readonly #book: PriceBook;
  readonly #upstreams: Record<Provider, Upstream>;
  readonly #providerKeys: Partial<Record<Provider, string>>;
  readonly #passThrough: Record<Provider, boolean>;
  readonly #adminHash: Buffer | undefined;
  readonly #budgets: BudgetSpec[];
  readonly #alerts: AlertDispatcher | undefined;
  readonly #maxBody: number;
  readonly #timeoutMs: number;
  readonly #otlp: OtlpExporter | undefined;
  readonly #log: (line: string) => void;
  readonly #keys: KeyResolver;
  readonly #estimate: EstimateOptions;
  readonly #flushEvery: number;
  readonly #flushIntervalMs: number;
  readonly #writeSlice: number;
  readonly #now: () => number;
  readonly #agents: { http: http.Agent; https: https.Agent };
  #pending: UsageEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #background = new Set<Promise<unknown>>();
  readonly #active = new Set<Call>();
  #closing = false;

  constructor(opts: GatewayOptions) {
    this.#store = opts.store;
    this.#book = opts.priceBook;
    this.#now = opts.now ?? Date.now;
    this.#log = opts.logger ?? lineWriter(process.stderr);
    const upstream = (p: Provider): Upstream => {
      const raw = opts.upstreams?.[p] ?? DEFAULT_UPSTREAMS[p];
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new TypeError(`${p} upstream is not a URL: ${raw}`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        throw new TypeError(`${p} upstream must be http(s): ${raw}`);
      const secure = u.protocol === 'https:';
      return {
        url: u,
        prefix: u.pathname.replace(/\/+$/, '').replace(/\/v1$/, ''),
        secure,
        hostname: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || (secure ? 443 : 80),
        host: u.host,
      };
    };
    this.#upstreams = { anthropic: upstream('anthropic'), openai: upstream('openai') };
    this.#providerKeys = {};
    for (const p of ['anthropic', 'openai'] as const) {
      const k = opts.providerKeys?.[p];
      if (k) this.#providerKeys[p] = k;
    }
    const pt = opts.passThroughKeys;
    const passFor = (p: Provider) =>
      typeof pt === 'boolean' ? pt : (pt?.[p] ?? this.#providerKeys[p] === undefined);
    this.#passThrough = { anthropic: passFor('anthropic'), openai: passFor('openai') };
    this.#adminHash = opts.adminToken ? sha256(opts.adminToken) : undefined;
    this.#budgets = (opts.budgets ?? []).map((b) => {
      budgetLimitNano(b);
      windowMs(b.window);
      return { ...b, scope: { ...b.scope } };
    });
    this.#maxBody = opts.maxBodyBytes ?? 10 * MIB;
    this.#timeoutMs = opts.upstreamTimeoutMs ?? 600_000;
    // The upstream time limit is the sockets' idle timeout, set once per socket by the agent: a
    // per-request `setTimeout` would arm and disarm a timer (and two listeners) on every call.
    const agentOptions = {
      keepAlive: true,
      maxSockets: 512,
      scheduling: 'lifo',
      timeout: this.#timeoutMs,
    } as const;
    this.#agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.#keys = new KeyResolver(this.#store, opts.keyCacheMs ?? 10_000, this.#now);
    this.#estimate = opts.estimate ?? {};
    this.#flushEvery = Math.max(1, opts.flushEvery ?? 500);
    this.#flushIntervalMs = Math.max(0, opts.flushIntervalMs ?? 200);
    this.#writeSlice = this.#store.writeBatchSize ?? WRITE_SLICE;
    if (opts.alerts) {
      const store = this.#store;
      const alertStore: AlertStore = {
        claim: (k, nowMs) => store.claimAlert(k, nowMs),
        unclaim: (k) => store.unclaimAlert(k),
        close: () => {},
      };
      this.#alerts = new AlertDispatcher({
        ...opts.alerts,
        store: alertStore,
        onError: (err) => this.#error('alert', err),
      });
    }
    if (opts.otlpEndpoint)
      this.#otlp = new OtlpExporter({
        ...opts.otlp,
        endpoint: opts.otlpEndpoint,
        onError: (err) => this.#error('otlp', err),
      });
    this.server = http.createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#error('request', err);
        if (!res.headersSent && !res.destroyed)
          this.#reply(res, 500, undefined, 'internal_error', 'gateway error');
        else res.destroy();
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  listen(port = 8787, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        this.#url = `http://${h}:${a.port}`;
        resolve(this.#url);
      });
    });
  }

  async flush(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
    await this.#flushEvents();
    await this.#otlp?.flush();
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.#active.size > 0 && Date.now() < deadline) await sleep(20);
    this.server.closeAllConnections();
    await closed;
    await this.flush();
    await this.#alerts?.close();
    await this.flush();
    (this.#log as { flush?: () => void }).flush?.();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      this.#reply(res, 200, undefined, '', '', { status: 'ok' });
      return;
    }
    if (path === '/v1/spend') {
      await this.#spend(req, res, rawUrl);
      return;
    }
    const route = ROUTES[path];
    if (!route || req.method !== 'POST') {
      const t0 = performance.now();
      const known = route !== undefined;
      const status = known ? 405 : 404;
      const msg = known
        ? `${req.method} is not allowed on ${path}: use POST`
        : `tokenledger gateway: no route ${req.method} ${path} (proxied: POST ${Object.keys(ROUTES).join(', ')}; also GET /v1/spend, GET /healthz)`;
      this.#reply(res, status, route?.provider, known ? 'method_not_allowed' : 'not_found_error', msg);
      req.resume();
      this.#logLine({
        ts: new Date().toISOString(),
        method: req.method,
        path,
        status,
        latencyMs: ms(performance.now() - t0),
      });
      return;
    }
    await this.#proxy(req, res, route, path);
  }

  async #proxy(req: IncomingMessage, res: ServerResponse, route: Route, path: string): Promise<void> {
    const call: Call = {
      req,
      res,
      route,
      path,
      startMs: this.#now(),
      t0: performance.now(),
      provider: route.provider,
      model: '',
      body: {},
      attribution: {},
      key: undefined,
      reservations: [],
      trace: parseTraceparent(header(req, 'traceparent')),
      status: 0,
      streamed: false,
      clientGone: false,
      done: false,
    };
    this.#active.add(call);
    res.once('close', () => {
      if (res.writableFinished) return;
      call.clientGone = true;
      // A client that leaves a stream stops it: the provider stops generating, and what it generated
      // so far is charged. A non-streamed call is read to its end, so its usage is exact.
      if (call.streamed && !call.done) call.upstream?.destroy();
    });
    try {
      const auth = await this.#authenticate(req, route.provider);
      call.key = auth.key;
      const raw = await readBody(req, this.#maxBody);
      if (raw === 'too-large')
        throw new Refusal(
          413,
          'request_too_large',
          `request body is larger than the gateway's limit of ${this.#maxBody} bytes`,
          { limit_bytes: this.#maxBody },
          { connection: 'close' },
        );
      if (raw === 'aborted') {
        call.outcome = 'client_aborted';
        this.#end(call, null);
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        // Not the parser's message: it quotes the body, which holds the prompt.
        throw new Refusal(400, 'invalid_request_error', 'request body is not valid JSON');
      }
      if (!isObj(body)) throw new Refusal(400, 'invalid_request_error', 'request body must be a JSON object');
      call.body = body;
      call.model = typeof body.model === 'string' ? body.model : '';
      call.streamed = body.stream === true;
      call.attribution = attributionOf(req, auth.key);
      if (route.spec) await this.#reserve(call, route.spec);
      let send: Buffer = raw;
      let injected = false;
      if (route.spec?.prepare && call.streamed) {
        const prepared = route.spec.prepare(body);
        if (prepared.injected) {
          injected = true;
          send = Buffer.from(JSON.stringify(prepared.params));
        }
      }
      this.#forward(call, send, auth.upstreamKey, injected);
    } catch (caught) {
      let err = caught;
      if (!(err instanceof Refusal)) {
        this.#error('request', err);
        err = new Refusal(500, 'internal_error', 'the gateway failed on this request');
      }
      const r = err as Refusal;
      call.status = r.status;
      call.outcome = r.type;
      this.#reply(res, r.status, route.provider, r.type, r.message, r.extra, r.headers);
      if (r.status === 413) drainThenClose(req);
      this.#end(call, null);
    }
  }

  /**
   * Who is calling and with which provider key. A gateway key comes in `x-tokenledger-key`, or in
   * the provider's own auth header (`x-api-key`, `Authorization: Bearer`) when it starts with `tlk_`.
   * Any other key in those headers is the client's provider key, forwarded only when pass-through
   * is on; otherwise the gateway's held key is used, and only for gateway-key calls.
   */
  async #authenticate(
    req: IncomingMessage,
    provider: Provider,
  ): Promise<{ key: GatewayKey | undefined; upstreamKey: string | null }> {
    const { gatewayKey, providerKey } = credentials(req);
    let key: GatewayKey | undefined;
    if (gatewayKey !== undefined) {
      try {
        key = await this.#keys.resolve(gatewayKey);
      } catch (err) {
        this.#error('key lookup', err);
        throw new Refusal(
          503,
          'gateway_unavailable',
          'the gateway cannot check keys right now (store unavailable)',
        );
      }
      if (!key) throw new Refusal(401, 'authentication_error', 'invalid or revoked gateway key');
    }
    if (providerKey !== undefined) {
      if (this.#passThrough[provider]) return { key, upstreamKey: null };
      if (!key)
        throw new Refusal(
          401,
          'authentication_error',
          `this gateway does not forward ${provider} keys: authenticate with a gateway key (tlk_…)`,
        );
    }
    const held = this.#providerKeys[provider];
    if (key && held) return { key, upstreamKey: held };
    if (key)
      throw new Refusal(
        401,
        'authentication_error',
        `this gateway holds no ${provider} key: send your own ${provider === 'anthropic' ? 'in x-api-key' : 'as Authorization: Bearer'} and the gateway key in x-tokenledger-key`,
      );
    throw new Refusal(
      401,
      'authentication_error',
      held
        ? 'a gateway key (tlk_…) is required'
        : `no API key: send a gateway key (tlk_…) or your ${provider} key`,
    );
  }

  /** Reserves the call's worst case under every budget that applies; refuses with 429 (or 503: fail-closed). */
  async #reserve(call: Call, spec: EndpointSpec): Promise<void> {
    const specs = this.#budgets.slice();
    const own = call.key ? keyBudgetSpec(call.key) : undefined;
    if (own) specs.push(own);
    if (specs.length === 0) return;
    const checks = budgetChecks(specs, call.attribution, call.startMs);
    if (checks.length === 0) return;
    let worst: NanoUsd;
    try {
      const size = spec.size(call.body, this.#estimate);
      const speed = speedOf(call.body);
      worst = worstCaseNano(
        this.#book,
        { provider: call.provider, model: call.model, nowMs: call.startMs, ...(speed ? { speed } : {}) },
        size,
      ).nanoUsd;
    } catch (err) {
      this.#error('estimate', err);
      worst = costOf(
        { ...emptyUsage(), outputTokens: this.#estimate.defaultMaxOutputTokens ?? 32_000 },
        CONSERVATIVE_UNKNOWN_CARD,
      );
    }
    worst = Math.max(1, worst);
    const results = await Promise.allSettled(
      checks.map((c) =>
        this.#store.reserve(c.key.key, c.limitNano ?? Number.MAX_SAFE_INTEGER, worst, call.startMs),
      ),
    );
    let refusal: BudgetExceededError | undefined;
    let refusedCheck: BudgetCheck | undefined;
    let refusedSpent = 0;
    let failure: BudgetStoreError | undefined;
    results.forEach((r, i) => {
      const check = checks[i]!;
      if (r.status === 'rejected') {
        if (check.limitNano === null) this.#error('budget (alert-only)', r.reason);
        else failure ??= new BudgetStoreError(check.key.budgetId, r.reason);
      } else if (r.value.ok) call.reservations.push({ id: r.value.reservationId, check });
      else if (!refusal) {
        refusedCheck = check;
        refusedSpent = r.value.spentNano;
        refusal = new BudgetExceededError({
          key: check.key,
          limitNano: check.limitNano ?? Number.MAX_SAFE_INTEGER,
          spentNano: r.value.spentNano,
          reservedNano: r.value.reservedNano,
          estimateNano: worst,
          nowMs: call.startMs,
        });
      }
    });
    if (!refusal && !failure) return;
    this.#releaseAll(call);
    if (refusal) {
      const e = refusal;
      if (this.#alerts && refusedCheck) {
        const check = refusedCheck;
        for (const s of check.specs)
          if ((s.mode ?? 'enforce') === 'enforce')
            this.#alerts.observeRefusal({
              key: check.key,
              spec: s,
              limitNano: budgetLimitNano(s),
              spentNano: refusedSpent,
            });
      }
      const headers: Record<string, string> = { 'x-should-retry': 'false' };
      if (e.retryAfterMs !== undefined)
        headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
      throw new Refusal(
        429,
        'budget_exceeded',
        e.message,
        {
          budget: e.budgetId,
          scope: e.scope,
          window: refusedCheck ? windowName(refusedCheck) : undefined,
          limit_usd: e.limitUsd,
          spent_usd: e.spentUsd,
          reserved_usd: e.reservedUsd,
          estimate_usd: e.estimateUsd,
          ...(e.retryAfterMs !== undefined ? { retry_after_seconds: Math.ceil(e.retryAfterMs / 1000) } : {}),
        },
        headers,
      );
    }
    this.#error('budget', failure);
    throw new Refusal(503, 'budget_unavailable', failure!.message, { budget: failure!.budgetId });
  }

  // -------------------------------------------------------------------------------------------
  // Upstream
  // -------------------------------------------------------------------------------------------

  #forward(call: Call, body: Buffer, upstreamKey: string | null, injected: boolean): void {
    const { req, res, provider } = call;
    const upstream = this.#upstreams[provider];
    const { secure } = upstream;
    const up = (secure ? https : http).request({
      protocol: upstream.url.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      path: upstream.prefix + (req.url ?? call.path),
      method: 'POST',
      headers: upstreamHeaders(req, provider, upstreamKey, body.length, upstream.host),
      agent: secure ? this.#agents.https : this.#agents.http,
    });
    call.upstream = up;
    let responded = false;
    // Emitted from the socket's idle timeout, which the agent sets (see the constructor).
    up.on('timeout', () => up.destroy(new UpstreamTimeout(this.#timeoutMs)));
    up.on('error', (err) => {
      if (responded) return; // errors after the response started are handled by the response's close
      responded = true;
      if (call.clientGone) {
        call.outcome = 'client_aborted';
        this.#end(call, null);
        return;
      }
      const timeout = err instanceof UpstreamTimeout;
      call.status = timeout ? 504 : 502;
      call.outcome = timeout ? 'upstream_timeout' : 'upstream_unreachable';
      this.#reply(
        res,
        call.status,
        provider,
        call.outcome,
        timeout
          ? `the ${provider} API did not answer within ${this.#timeoutMs} ms`
          : `cannot reach the ${provider} API: ${errorCode(err)}`,
      );
      this.#end(call, null);
    });
    up.on('response', (upRes) => {
      responded = true;
      this.#relay(call, upRes, injected);
    });
    up.end(body);
  }

  #relay(call: Call, upRes: IncomingMessage, injected: boolean): void {
    const { res, route } = call;
    const status = upRes.statusCode ?? 502;
    call.status = status;
    const sse = /text\/event-stream/i.test(String(upRes.headers['content-type'] ?? ''));
    const metered = route.spec !== undefined && status >= 200 && status < 300;
    const withhold = metered && sse && injected;
    // What arrives in one turn of the event loop (the head, chunks, often the end) leaves in one
    // write: loopback and small-packet syscalls cost more than the bytes. The response is corked at
    // a turn's first chunk and uncorked at the turn's end, by one immediate per turn, which also
    // sends the head alone when no chunk came with it.
    let wrote = false;
    let turnPending = false;
    const endOfTurn = () => {
      turnPending = false;
      if (res.destroyed || res.writableEnded) return;
      if (wrote) res.uncork();
      else res.flushHeaders();
    };
    if (!res.destroyed && !res.headersSent) {
      res.writeHead(status, responseHeaders(upRes.rawHeaders, withhold));
      turnPending = true;
      setImmediate(endOfTurn);
    }
    let paused = false;
    const write = (chunk: Buffer) => {
      if (res.destroyed || res.writableEnded) return;
      // Corked once per turn: in the head's turn the immediate is already pending, not the cork.
      if (!wrote || !turnPending) res.cork();
      wrote = true;
      if (!turnPending) {
        turnPending = true;
        setImmediate(endOfTurn);
      }
      if (!res.write(chunk) && !paused) {
        paused = true;
        upRes.pause();
        res.once('drain', () => {
          paused = false;
          upRes.resume();
        });
      }
    };
    let ended = false;
    upRes.on('error', () => {}); // reported through 'close' below
    if (!metered) {
      upRes.on('data', write);
      upRes.on('end', () => {
        ended = true;
        if (!res.destroyed) res.end();
        call.outcome = status >= 400 ? 'upstream_error' : 'not_metered';
        this.#end(call, null);
      });
      upRes.on('close', () => {
        if (ended) return;
        res.destroy();
        call.outcome = 'upstream_cut';
        this.#end(call, null);
      });
      return;
    }
    const spec = route.spec!;
    if (sse) {
      const tracker = spec.tracker(call.body, () => spec.size(call.body, this.#estimate), injected);
      const framer = new SseFramer();
      const hints = STREAM_HINTS[spec.endpoint];
      let final = false;
      let first = true;
      // Text deltas matter only when a stream ends before its usage: kept unparsed until then.
      const deferred: string[] = [];
      let deferredChars = 0;
      const feed = (data: string): boolean => {
        let item: unknown;
        try {
          item = JSON.parse(data);
        } catch {
          return false;
        }
        try {
          tracker.onItem(item);
          return tracker.hide?.(item) ?? false;
        } catch (err) {
          this.#error('stream tracker', err);
          return false;
        }
      };
      let streamError = false;
      const onEvent = (block: Buffer): boolean => {
        const ev = parseSseBlock(block);
        if (!ev || ev.data === '[DONE]') return false;
        // The provider's in-stream error (overloaded, …): the stream ends after it, not complete.
        if (ev.event === 'error') streamError = true;
        if (hints) {
          if (hints.final(ev)) final = true;
          else if (!first && hints.delta(ev)) {
            if (deferredChars < MAX_DEFERRED_CHARS) {
              deferred.push(ev.data);
              deferredChars += ev.data.length;
            }
            return false;
          }
        }
        first = false;
        return feed(ev.data);
      };
      const result = (end: StreamEnd): CallResult => {
        if (!final) for (const d of deferred.splice(0)) feed(d);
        return tracker.result(end === 'complete' && streamError ? 'error' : end);
      };
      upRes.on('data', (chunk: Buffer) => {
        if (!withhold) {
          write(chunk);
          framer.push(chunk, onEvent);
          return;
        }
        // The one place bytes change: whole events are forwarded, except the usage chunk the client did not ask for.
        const out: Buffer[] = [];
        framer.push(chunk, (block) => {
          if (!onEvent(block)) out.push(block);
        });
        if (out.length === 1) write(out[0]!);
        else if (out.length > 1) write(Buffer.concat(out));
      });
      upRes.on('end', () => {
        ended = true;
        const rest = framer.rest();
        if (rest && withhold) write(rest);
        if (!res.destroyed) res.end();
        this.#end(call, result('complete'));
      });
      upRes.on('close', () => {
        if (ended) return;
        if (call.clientGone) {
          call.outcome = 'client_aborted';
          this.#end(call, result('aborted'));
          return;
        }
        res.destroy();
        call.outcome = 'upstream_cut';
        this.#end(call, result('error'));
      });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    upRes.on('data', (chunk: Buffer) => {
      write(chunk);
      if (size <= MAX_PARSED_RESPONSE) {
        chunks.push(chunk);
        size += chunk.length;
      }
    });
    upRes.on('end', () => {
      ended = true;
      if (!res.destroyed) res.end();
      let result: CallResult | null = null;
      if (size <= MAX_PARSED_RESPONSE) {
        try {
          const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
          result = spec.resultOf(JSON.parse(whole.toString('utf8')));
        } catch {
          call.outcome = 'unreadable_response';
        }
      } else call.outcome = 'response_too_large_to_meter';
      this.#end(call, result);
    });
    upRes.on('close', () => {
      if (ended) return;
      res.destroy();
      call.outcome = 'upstream_cut';
      this.#end(call, null);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Settlement
  // -------------------------------------------------------------------------------------------

  /** The call is over: record its event (when it has usage), settle or release its budgets, log it. */
  #end(call: Call, result: CallResult | null): void {
    if (call.done) return;
    call.done = true;
    this.#active.delete(call);
    const endMs = performance.now();
    let event: UsageEvent | undefined;
    try {
      if (result?.usage) event = this.#record(call, result);
    } catch (err) {
      this.#error('record', err);
    }
    if (event) this.#chargeAll(call, event.cost.nanoUsd ?? costOf(event.usage, CONSERVATIVE_UNKNOWN_CARD));
    else this.#releaseAll(call);
    if (event && this.#otlp) {
      const span: CallSpan = {
        startMs: call.startMs,
        endMs: call.startMs + (endMs - call.t0),
        operation: 'chat',
        requestModel: call.model,
        httpStatus: call.status,
      };
      if (call.trace) {
        span.traceId = call.trace.traceId;
        span.parentSpanId = call.trace.parentSpanId;
      }
      this.#otlp.add(event, span);
    }
    const a = call.attribution;
    const line: Rec = {
      ts: new Date(call.startMs).toISOString(),
      method: call.req.method,
      path: call.path,
      status: call.status,
      provider: call.provider,
      model: event?.model ?? (call.model || undefined),
      stream: call.streamed,
      tenant: call.key?.tenant,
      key: call.key?.id,
      run: a.run,
      agent: a.agentName,
      user: a.user,
    };
    if (event) {
      const u = event.usage;
      Object.assign(line, {
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        cacheReadTokens: u.cacheReadTokens,
        cacheWriteTokens: cacheWriteTokens(u),
        costUsd: event.cost.nanoUsd === null ? null : nanoToUsd(event.cost.nanoUsd),
        estimated: event.cost.estimated || undefined,
        event: event.id,
      });
    }
    if (call.outcome) line.outcome = call.outcome;
    else if (result && !event)
      line.outcome = 'no_usage'; // an answer that reported none: not charged
    else if (result?.status && result.status !== 'ok') line.outcome = result.status;
    line.latencyMs = ms(endMs - call.t0);
    this.#logLine(line);
  }

  #record(call: Call, result: CallResult): UsageEvent {
    const model = result.model || call.model || 'unknown';
    const provider = call.provider;
    const usage = result.usage!;
    const speed = speedOf(call.body);
    const cost = priceEvent(this.#book, model, provider, call.startMs, usage, speed);
    if (result.estimatedNote) {
      cost.estimated = true;
      cost.note = [cost.note, result.estimatedNote].filter(Boolean).join('; ');
    }
    const attribution: Attribution = { ...call.attribution };
    if (call.clientGone && call.streamed) attribution.status = 'aborted';
    else if (result.status && result.status !== 'ok') attribution.status = result.status;
    const event: UsageEvent = {
      id: meterEventId(call.startMs, result.responseId ? `${provider}:${result.responseId}` : undefined),
      ts: call.startMs,
      source: 'gateway',
      provider,
      model,
      usage,
      cost,
      attribution,
    };
    if (speed) event.speed = speed;
    this.#enqueue(event);
    return event;
  }

  #chargeAll(call: Call, chargeNano: NanoUsd): void {
    for (const r of call.reservations.splice(0))
      this.#track(
        this.#store.settle(r.id, chargeNano).then(
          () => this.#observe(r.check),
          (err: unknown) => this.#error('budget settle', err),
        ),
      );
  }

  #releaseAll(call: Call): void {
    for (const r of call.reservations.splice(0))
      this.#track(this.#store.release(r.id).catch((err: unknown) => this.#error('budget release', err)));
  }

  async #observe(check: BudgetCheck): Promise<void> {
    if (!this.#alerts) return;
    const { spentNano } = await this.#store.budgetUsage(check.key.key);
    for (const spec of check.specs)
      this.#alerts.observe({ key: check.key, spec, limitNano: budgetLimitNano(spec), spentNano });
  }

  #track(p: Promise<unknown>): void {
    const t = p
      .catch((err: unknown) => this.#error('background', err))
      .finally(() => this.#background.delete(t));
    this.#background.add(t);
  }

  #enqueue(event: UsageEvent): void {
    this.#pending.push(event);
    if (this.#pending.length >= this.#flushEvery) void this.#flushEvents();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.#flushEvents(), this.#flushIntervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Writes the waiting events; one write at a time, in slices of {@link WRITE_SLICE} (or the store's
   * own `writeBatchSize`) with a turn of
   * the event loop between them (a store that writes synchronously, SQLite, then never holds the
   * loop for long); failures are kept for the next flush (bounded). Never rejects.
   */
  #flushEvents(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#writing = this.#writing.then(async () => {
      while (this.#pending.length > 0) {
        const events = this.#pending.splice(0, this.#writeSlice);
        try {
          await this.#store.writeEvents(events);
        } catch (err) {
          this.#error('ledger write', err);
          this.#pending = events.concat(this.#pending).slice(-MAX_PENDING_EVENTS);
          if (!this.#timer && !this.#closing) {
            this.#timer = setTimeout(() => void this.#flushEvents(), 1000);
            this.#timer.unref();
          }
          return;
        }
        if (this.#pending.length > 0) await new Promise((r) => setImmediate(r));
      }
    });
    return this.#writing;
  }

  // -------------------------------------------------------------------------------------------
  // Query API
  // -------------------------------------------------------------------------------------------

  /**
   * `GET /v1/spend?by=agent&since=YYYY-MM-DD&until=YYYY-MM-DD[&tenant=…][&project=…]`: the spend
   * report (`totals` and `groups`, as `report --json` gives them). A gateway key sees its tenant
   * only; the admin token sees every tenant, or one with `tenant=`. `by` may also be `tenant`, `key`,
   * `user`, `feature`, `run` or `provider`.
   */
  async #spend(req: IncomingMessage, res: ServerResponse, rawUrl: string): Promise<void> {
    const t0 = performance.now();
    let status = 200;
    let tenant: string | undefined;
    try {
      if (req.method !== 'GET') throw new Refusal(405, 'method_not_allowed', 'use GET /v1/spend');
      const url = new URL(rawUrl, 'http://gateway');
      const p = url.searchParams;
      const admin = this.#isAdmin(req);
      let key: GatewayKey | undefined;
      if (!admin) {
        const { gatewayKey } = credentials(req);
        if (gatewayKey === undefined)
          throw new Refusal(401, 'authentication_error', 'send a gateway key (tlk_…) or the admin token');
        try {
          key = await this.#keys.resolve(gatewayKey);
        } catch (err) {
          this.#error('key lookup', err);
          throw new Refusal(503, 'gateway_unavailable', 'the gateway cannot check keys right now');
        }
        if (!key) throw new Refusal(401, 'authentication_error', 'invalid or revoked gateway key');
      }
      const asked = p.get('tenant') ?? undefined;
      if (key && asked !== undefined && asked !== key.tenant)
        throw new Refusal(403, 'permission_error', "a gateway key reads its own tenant's spend only");
      tenant = key ? key.tenant : asked;
      const by = p.get('by') ?? 'day';
      const since = dayParam(p, 'since');
      const until = dayParam(p, 'until');
      const project = p.get('project') ?? undefined;
      const filter = {
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(project ? { project } : {}),
        ...(tenant !== undefined ? { tenant } : {}),
      };
      await this.flush();
      let totals: Tally;
      let groups: Tally[];
      if ((GROUP_BYS as readonly string[]).includes(by)) {
        ({ totals, groups } = await this.#store.aggregate(by as GroupBy, filter));
      } else if (by in EXTRA_GROUPS) {
        ({ totals, groups } = groupEvents(await this.#store.events(filter), EXTRA_GROUPS[by]!));
      } else
        throw new Refusal(
          400,
          'invalid_request_error',
          `by must be one of ${[...GROUP_BYS, ...Object.keys(EXTRA_GROUPS)].join(', ')}`,
        );
      const body = {
        by,
        tenant: tenant ?? null,
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        totals: tallyJson(totals),
        groups: groups.map((g) => ({ key: g.key, ...tallyJson(g) })),
      };
      this.#reply(res, 200, undefined, '', '', body);
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      status = err.status;
      this.#reply(res, err.status, undefined, err.type, err.message);
    }
    this.#logLine({
      ts: new Date().toISOString(),
      method: req.method,
      path: '/v1/spend',
      status,
      tenant,
      latencyMs: ms(performance.now() - t0),
    });
  }

  #isAdmin(req: IncomingMessage): boolean {
    if (!this.#adminHash) return false;
    const auth = header(req, 'authorization');
    const m = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
    if (!m) return false;
    return timingSafeEqual(sha256(m[1]!.trim()), this.#adminHash);
  }

  // -------------------------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------------------------

  /** A JSON answer of the gateway's own: provider-shaped errors, or `json` as is. */
  #reply(
    res: ServerResponse,
    status: number,
    provider: Provider | undefined,
    type: string,
    message: string,
    extra: Rec = {},
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const payload = status < 400 ? extra : errorPayload(provider, type, message, extra);
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  }

  #logLine(record: Rec): void {
    try {
      this.#log(JSON.stringify(record));
    } catch {
      // A failing logger must not fail the request.
    }
  }

  #error(where: string, err: unknown): void {
    this.#logLine({
      ts: new Date().toISOString(),
      level: 'error',
      where,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * A logger writing lines to `stream` in batches: every 50 ms or 64 KiB, and on `flush()` (the
 * gateway calls it when it closes). One write per request would cost more than the request's own
 * metering.
 *
 * @example createGateway({ …, logger: lineWriter(createWriteStream('/var/log/tokenledger.jsonl', { flags: 'a' })) });
 */
export function lineWriter(
  stream: NodeJS.WritableStream,
  intervalMs = 50,
): ((line: string) => void) & {
  flush(): void;
} {
  let lines: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const out = `${lines.join('\n')}\n`;
    lines = [];
    chars = 0;
    stream.write(out);
  };
  const log = (line: string) => {
    lines.push(line);
    chars += line.length;
    if (chars >= 65_536) flush();
    else if (!timer) {
      timer = setTimeout(flush, intervalMs);
      timer.unref();
    }
  };
  return Object.assign(log, { flush });
}

class UpstreamTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

const sleep = (msDelay: number) => new Promise((r) => setTimeout(r, msDelay));
const ms = (x: number) => Math.round(x * 1000) / 1000;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

/** The gateway key and the client's own provider key, from the request's auth headers. */
function credentials(req: IncomingMessage): { gatewayKey?: string; providerKey?: string } {
  const own = header(req, 'x-tokenledger-key')?.trim();
  const apiKey = header(req, 'x-api-key')?.trim();
  const auth = header(req, 'authorization');
  const bearer = auth ? /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() : undefined;
  const out: { gatewayKey?: string; providerKey?: string } = {};
  if (own) out.gatewayKey = own;
  for (const k of [apiKey, bearer]) {
    if (!k) continue;
    if (k.startsWith(KEY_PREFIX)) out.gatewayKey ??= k;
    else out.providerKey ??= k;
  }
  return out;
}

/**
 * The headers sent upstream: the client's, minus hop-by-hop and gateway headers, with the provider
 * key set. A raw `[name, value, …]` list: Node then writes it as is, without validating and storing
 * each header in turn.
 */
function upstreamHeaders(
  req: IncomingMessage,
  provider: Provider,
  upstreamKey: string | null,
  length: number,
  host: string,
): string[] {
  const h = req.headers;
  // Nearly always one token (`keep-alive`): compared as is, no set built for it.
  const conn = h.connection;
  const connectionTokens = conn?.includes(',') ? tokensOf(conn) : undefined;
  const connectionToken =
    conn !== undefined && connectionTokens === undefined ? conn.trim().toLowerCase() : undefined;
  const out: string[] = [];
  for (const name in h) {
    const value = h[name];
    if (value === undefined || DROP_REQUEST.has(name)) continue;
    if (name === connectionToken || connectionTokens?.has(name)) continue;
    if (name.startsWith('x-tokenledger-')) continue;
    // The held key replaces the client's; a gateway key in the provider's own header never goes upstream.
    if (name === 'x-api-key' || name === 'authorization') {
      if (upstreamKey !== null) continue;
      const v = Array.isArray(value) ? value[0] : value;
      if (v && (v.startsWith(KEY_PREFIX) || /^Bearer\s+tlk_/i.test(v))) continue;
    }
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  if (upstreamKey !== null) {
    if (provider === 'anthropic') out.push('x-api-key', upstreamKey);
    else out.push('authorization', `Bearer ${upstreamKey}`);
  }
  // Usage is read off the bytes: ask for them uncompressed.
  out.push('content-length', String(length), 'accept-encoding', 'identity', 'host', host);
  return out;
}

/** The header names a `Connection` header lists (hop-by-hop for this request). */
function tokensOf(connection: string): Set<string> {
  return new Set(
    connection
      .toLowerCase()
      .split(',')
      .map((s) => s.trim()),
  );
}

/** The upstream's response headers minus hop-by-hop ones (and the length, when bytes are withheld). */
function responseHeaders(raw: string[], withhold: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROP_RESPONSE.has(name) || (withhold && name === 'content-length')) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

/** A header value made safe to store: first value, percent-decoded, no control characters, bounded. */
function cleanValue(v: string | string[] | undefined): string | undefined {
  let s = (Array.isArray(v) ? v[0] : v)?.trim();
  if (!s) return undefined;
  if (s.includes('%')) {
    try {
      s = decodeURIComponent(s);
    } catch {
      // Not percent-encoded after all: kept as sent.
    }
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  s = s.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, HEADER_VALUE_MAX);
  return s === '' ? undefined : s;
}

/**
 * Attribution from `x-tokenledger-*` headers, and the tenant and key id from the gateway key.
 * `x-tokenledger-agent` names the agent; `x-tokenledger-parent` is its parent's path (`main/planner`),
 * so the delegation tree builds as it does for the live meter. `x-tokenledger-tags: a=1,b=2`.
 */
function attributionOf(req: IncomingMessage, key: GatewayKey | undefined): Attribution {
  const a: Attribution = {};
  for (const [h, field] of ATTRIBUTION_HEADERS) {
    const v = cleanValue(req.headers[h]);
    if (v !== undefined) a[field] = v;
  }
  const agent = cleanValue(req.headers['x-tokenledger-agent']);
  if (agent !== undefined) {
    const segment = agent.replaceAll('/', '_');
    let parent = cleanValue(req.headers['x-tokenledger-parent'])?.replace(/^\/+|\/+$/g, '');
    if (parent && parent !== 'main' && !parent.startsWith('main/')) parent = `main/${parent}`;
    a.agentName = agent;
    a.agentId = segment;
    a.agentPath = `${parent || 'main'}/${segment}`;
  }
  const tags: Record<string, string> = {};
  const raw = Array.isArray(req.headers['x-tokenledger-tags'])
    ? req.headers['x-tokenledger-tags'].join(',')
    : req.headers['x-tokenledger-tags'];
  if (raw)
    for (const pair of raw.split(/[,;]/).slice(0, 32)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const k = cleanValue(pair.slice(0, eq));
      const v = cleanValue(pair.slice(eq + 1));
      if (k === undefined || v === undefined || RESERVED_TAGS.has(k)) continue;
      tags[k] = v;
    }
  if (key) {
    tags[TENANT_TAG] = key.tenant;
    tags[GATEWAY_KEY_TAG] = key.id;
  }
  if (Object.keys(tags).length > 0) a.tags = tags;
  return a;
}

function speedOf(body: Rec): string | undefined {
  return typeof body.speed === 'string' && body.speed !== 'standard' ? body.speed : undefined;
}

function windowName(check: BudgetCheck): string {
  const w = check.key.window;
  return typeof w === 'string' ? w : `${w.ms}ms`;
}

/** Errors in the provider's own shape, so its SDK reports them as it reports the provider's. */
function errorPayload(provider: Provider | undefined, type: string, message: string, extra: Rec): Rec {
  const error = { type, message, ...extra };
  if (provider === 'openai') return { error: { ...error, code: type, param: null } };
  if (provider === 'anthropic') return { type: 'error', error };
  return { error };
}

/**
 * Reads a request body up to `max` bytes: `'too-large'` as soon as it is known to be larger (from
 * `content-length`, or while reading), `'aborted'` when the client went away.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (r: Buffer | 'too-large' | 'aborted') => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) done('too-large');
      else chunks.push(c);
    };
    const onEnd = () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onClose = () => {
      if (!req.complete) done('aborted');
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}

/**
 * After an early answer (413): reads and drops the rest of the body so the client, still sending,
 * gets the answer instead of a reset; a client that keeps sending is cut off after 5 s.
 */
function drainThenClose(req: IncomingMessage): void {
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), 5000);
  timer.unref();
  req.socket.once('close', () => clearTimeout(timer));
}

function dayParam(p: URLSearchParams, name: string): string | undefined {
  const v = p.get(name);
  if (v === null || v === '') return undefined;
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(v);
  if (!m || Number.isNaN(Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`)))
    throw new Refusal(400, 'invalid_request_error', `${name} takes a date as YYYY-MM-DD, got "${v}"`);
  return `${m[1]}-${m[2]}-${m[3]}`;
}

/** Groupings the ledger's `GroupBy` does not have, computed from the events. */
const EXTRA_GROUPS: Record<string, (e: UsageEvent) => string | undefined> = {
  tenant: (e) => e.attribution.tags?.[TENANT_TAG],
  key: (e) => e.attribution.tags?.[GATEWAY_KEY_TAG],
  user: (e) => e.attribution.user,
  feature: (e) => e.attribution.feature,
  run: (e) => e.attribution.run,
  provider: (e) => e.provider,
};

function groupEvents(events: UsageEvent[], keyOf: (e: UsageEvent) => string | undefined) {
  const totals = emptyTally('total');
  const groups = new Map<string, Tally>();
  for (const e of events) {
    addEvent(totals, e);
    const k = keyOf(e) ?? '(none)';
    let g = groups.get(k);
    if (!g) {
      g = emptyTally(k);
      groups.set(k, g);
    }
    addEvent(g, e);
  }
  return { totals, groups: sortGroups([...groups.values()], 'model') };
}
