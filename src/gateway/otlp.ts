import { randomBytes } from 'node:crypto';
import type { UsageEvent } from '../core/event.js';
import { nanoToUsd } from '../core/money.js';

/**
 * OTLP/HTTP JSON export of the gateway's events: each call as a GenAI-semconv client span
 * (`chat {model}`) and as token/duration histograms and a cost counter. Batched (every
 * `flushIntervalMs` or `maxBatch` spans), posted in the background: a slow or dead collector never
 * delays a request, and failures go to `onError` with the number of spans dropped.
 *
 * Token attributes follow the semconv: `gen_ai.usage.input_tokens` INCLUDES cache reads and writes
 * (given separately in `gen_ai.usage.cache_read.input_tokens` / `…cache_creation.input_tokens`),
 * so `tokenledger ingest` reads an exported file back to the same buckets (1-hour cache writes come
 * back as 5-minute ones: the semconv has no TTL; `tokenledger.usage.cache_creation_1h.input_tokens`
 * keeps the split).
 */

export interface OtlpExporterOptions {
  /** Collector base URL, e.g. `http://127.0.0.1:4318`; `/v1/traces` and `/v1/metrics` are appended. */
  endpoint: string;
  serviceName?: string;
  /** Extra request headers (e.g. an auth token for the collector). */
  headers?: Record<string, string>;
  flushIntervalMs?: number;
  maxBatch?: number;
  /** Spans waiting beyond this are dropped (and reported): a dead collector must not grow memory. */
  maxQueue?: number;
  timeoutMs?: number;
  onError?: (err: Error) => void;
  fetch?: typeof fetch;
}

/** The span context of one call: its trace (from the client's `traceparent` when sent) and timing. */
export interface CallSpan {
  traceId?: string;
  parentSpanId?: string;
  startMs: number;
  endMs: number;
  /** The endpoint's operation, `chat` for all three APIs. */
  operation: string;
  requestModel: string;
  httpStatus: number;
}

interface Queued {
  event: UsageEvent;
  span: CallSpan;
}

type AnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}

const str = (key: string, v: string | undefined): KeyValue[] =>
  v === undefined || v === '' ? [] : [{ key, value: { stringValue: v } }];
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: String(v) } });

/** Semconv's advised buckets for `gen_ai.client.token.usage`. */
const TOKEN_BOUNDS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** … and for `gen_ai.client.operation.duration` (seconds). */
const DURATION_BOUNDS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

const nanos = (ms: number): string => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

/** A `traceparent` header → its trace id and the caller's span id (to parent ours under). */
export function parseTraceparent(
  h: string | undefined,
): { traceId: string; parentSpanId: string } | undefined {
  const m = h ? /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/.exec(h.trim().toLowerCase()) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, parentSpanId: m[2]! };
}

export class OtlpExporter {
  readonly #endpoint: string;
  readonly #service: string;
  readonly #headers: Record<string, string>;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #onError: (err: Error) => void;
  readonly #fetch: typeof fetch;
  #queue: Queued[] = [];
  #timer: NodeJS.Timeout | undefined;
  #tail: Promise<void> = Promise.resolve();
  #dropped = 0;

  constructor(opts: OtlpExporterOptions) {
    let url: URL;
    try {
      url = new URL(opts.endpoint);
    } catch {
      throw new TypeError(`OTLP endpoint is not a URL: ${opts.endpoint}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`OTLP endpoint must be http(s): ${opts.endpoint}`);
    this.#endpoint = opts.endpoint.replace(/\/+$/, '');
    this.#service = opts.serviceName ?? 'tokenledger-gateway';
    this.#headers = { 'content-type': 'application/json', ...opts.headers };
    this.#intervalMs = opts.flushIntervalMs ?? 1000;
    this.#maxBatch = opts.maxBatch ?? 512;
    this.#maxQueue = opts.maxQueue ?? 20_000;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#onError = opts.onError ?? ((err) => process.emitWarning(err));
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Queues one call; returns at once. */
  add(event: UsageEvent, span: CallSpan): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push({ event, span });
    if (this.#queue.length >= this.#maxBatch) this.#send();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.#send(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Posts everything queued; resolves when every post so far has finished (never rejects). */
  async flush(): Promise<void> {
    this.#send();
    await this.#tail;
  }

  #send(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#dropped > 0) {
      this.#onError(new Error(`OTLP export: ${this.#dropped} span(s) dropped (queue full)`));
      this.#dropped = 0;
    }
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      // One batch after another: a collector sees spans in order and at most one post in flight.
      this.#tail = this.#tail.then(() => this.#post(batch));
    }
  }

  async #post(batch: Queued[]): Promise<void> {
    const nowMs = Date.now();
    await Promise.all([
      this.#postJson('/v1/traces', tracesJson(batch, this.#service), batch.length, 'span'),
      this.#postJson('/v1/metrics', metricsJson(batch, this.#service, nowMs), batch.length, 'metric point'),
    ]);
  }

  async #postJson(path: string, body: unknown, n: number, what: string): Promise<void> {
    try {
      const res = await this.#fetch(`${this.#endpoint}${path}`, {
        method: 'POST',
        headers: this.#headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.#onError(
        new Error(`OTLP export to ${path} failed (${why}): ${n} ${what}(s) from this batch lost`),
      );
    }
  }
}

function resource(service: string) {
  return {
    attributes: [
      { key: 'service.name', value: { stringValue: service } },
      { key: 'telemetry.sdk.name', value: { stringValue: 'tokenledger' } },
    ],
  };
}

const SCOPE = { name: 'tokenledger.gateway' };

/** One span per call, GenAI client-span attributes plus tokenledger's attribution. */
export function tracesJson(batch: Queued[], service: string) {
  const spans = batch.map(({ event: e, span: s }) => {
    const u = e.usage;
    const cacheWrite = u.cacheWrite5mTokens + u.cacheWrite1hTokens;
    const a = e.attribution;
    const attributes: KeyValue[] = [
      ...str('gen_ai.operation.name', s.operation),
      ...str('gen_ai.provider.name', e.provider),
      ...str('gen_ai.system', e.provider),
      ...str('gen_ai.request.model', s.requestModel),
      ...str('gen_ai.response.model', e.model),
      ...str('gen_ai.response.id', responseIdOf(e.id, e.provider)),
      int('gen_ai.usage.input_tokens', u.inputTokens + u.cacheReadTokens + cacheWrite + u.unsplitTokens),
      int('gen_ai.usage.output_tokens', u.outputTokens),
      int('gen_ai.usage.cache_read.input_tokens', u.cacheReadTokens),
      int('gen_ai.usage.cache_creation.input_tokens', cacheWrite),
      ...(u.cacheWrite1hTokens > 0
        ? [int('tokenledger.usage.cache_creation_1h.input_tokens', u.cacheWrite1hTokens)]
        : []),
      ...(u.reasoningTokens > 0 ? [int('gen_ai.usage.reasoning.output_tokens', u.reasoningTokens)] : []),
      ...str('gen_ai.agent.name', a.agentName),
      ...str('gen_ai.conversation.id', a.session),
      ...str('user.id', a.user),
      ...str('tokenledger.run', a.run),
      ...str('tokenledger.task', a.task),
      ...str('tokenledger.feature', a.feature),
      ...str('tokenledger.agent.path', a.agentPath),
      ...str('tokenledger.tenant', a.tags?.tenant),
      ...str('tokenledger.status', a.status),
      ...str('tokenledger.event.id', e.id),
      int('http.response.status_code', s.httpStatus),
      ...(e.cost.nanoUsd === null
        ? [{ key: 'tokenledger.cost.unpriced', value: { boolValue: true } }]
        : [
            { key: 'tokenledger.cost.usd', value: { doubleValue: nanoToUsd(e.cost.nanoUsd) } },
            int('tokenledger.cost.nano_usd', e.cost.nanoUsd),
          ]),
      ...(e.cost.estimated ? [{ key: 'tokenledger.cost.estimated', value: { boolValue: true } }] : []),
    ];
    const failed = a.status === 'error' || a.status === 'aborted';
    return {
      traceId: s.traceId ?? randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
      name: `${s.operation} ${s.requestModel || e.model}`,
      kind: 3, // SPAN_KIND_CLIENT
      startTimeUnixNano: nanos(s.startMs),
      endTimeUnixNano: nanos(Math.max(s.startMs, s.endMs)),
      attributes,
      status: failed ? { code: 2, message: a.status } : { code: 0 },
    };
  });
  return { resourceSpans: [{ resource: resource(service), scopeSpans: [{ scope: SCOPE, spans }] }] };
}

/** `m:…:anthropic:msg_01X` → `msg_01X` (the provider's id, when the event id carries it). */
function responseIdOf(id: string, provider: string): string | undefined {
  const marker = `:${provider}:`;
  const at = id.indexOf(marker);
  return at < 0 ? undefined : id.slice(at + marker.length);
}

interface HistogramPoint {
  attributes: KeyValue[];
  count: number;
  sum: number;
  min: number;
  max: number;
  buckets: number[];
}

function histogram(bounds: number[]) {
  const points = new Map<string, HistogramPoint>();
  return {
    add(attrs: KeyValue[], v: number) {
      const id = JSON.stringify(attrs);
      let p = points.get(id);
      if (!p) {
        p = {
          attributes: attrs,
          count: 0,
          sum: 0,
          min: v,
          max: v,
          buckets: new Array(bounds.length + 1).fill(0),
        };
        points.set(id, p);
      }
      p.count++;
      p.sum += v;
      p.min = Math.min(p.min, v);
      p.max = Math.max(p.max, v);
      let i = bounds.findIndex((b) => v <= b);
      if (i < 0) i = bounds.length;
      p.buckets[i]!++;
    },
    points: () => [...points.values()],
  };
}

/** Delta histograms `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, and a cost sum. */
export function metricsJson(batch: Queued[], service: string, nowMs: number) {
  const tokens = histogram(TOKEN_BOUNDS);
  const duration = histogram(DURATION_BOUNDS);
  const cost = new Map<string, { attributes: KeyValue[]; usd: number }>();
  let startMs = nowMs;
  for (const { event: e, span: s } of batch) {
    startMs = Math.min(startMs, s.startMs);
    const base = [
      ...str('gen_ai.operation.name', s.operation),
      ...str('gen_ai.provider.name', e.provider),
      ...str('gen_ai.request.model', s.requestModel),
      ...str('gen_ai.response.model', e.model),
    ];
    const u = e.usage;
    const input = u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens;
    tokens.add([...base, ...str('gen_ai.token.type', 'input')], input + u.unsplitTokens);
    tokens.add([...base, ...str('gen_ai.token.type', 'output')], u.outputTokens);
    duration.add(base, Math.max(0, s.endMs - s.startMs) / 1000);
    if (e.cost.nanoUsd !== null) {
      const attrs = [...base, ...str('tokenledger.tenant', e.attribution.tags?.tenant)];
      const id = JSON.stringify(attrs);
      const c = cost.get(id) ?? { attributes: attrs, usd: 0 };
      c.usd += nanoToUsd(e.cost.nanoUsd);
      cost.set(id, c);
    }
  }
  const start = nanos(startMs);
  const time = nanos(nowMs);
  const histogramMetric = (
    name: string,
    unit: string,
    description: string,
    bounds: number[],
    pts: HistogramPoint[],
  ) => ({
    name,
    unit,
    description,
    histogram: {
      aggregationTemporality: 1, // DELTA: each post covers its own calls
      dataPoints: pts.map((p) => ({
        attributes: p.attributes,
        startTimeUnixNano: start,
        timeUnixNano: time,
        count: String(p.count),
        sum: p.sum,
        min: p.min,
        max: p.max,
        bucketCounts: p.buckets.map(String),
        explicitBounds: bounds,
      })),
    },
  });
  const metrics = [
    histogramMetric(
      'gen_ai.client.token.usage',
      '{token}',
      'Tokens used per call',
      TOKEN_BOUNDS,
      tokens.points(),
    ),
    histogramMetric(
      'gen_ai.client.operation.duration',
      's',
      'Call duration',
      DURATION_BOUNDS,
      duration.points(),
    ),
    {
      name: 'tokenledger.cost',
      unit: 'USD',
      description: 'List-price cost of the calls',
      sum: {
        aggregationTemporality: 1,
        isMonotonic: true,
        dataPoints: [...cost.values()].map((c) => ({
          attributes: c.attributes,
          startTimeUnixNano: start,
          timeUnixNano: time,
          asDouble: c.usd,
        })),
      },
    },
  ];
  return {
    resourceMetrics: [{ resource: resource(service), scopeMetrics: [{ scope: SCOPE, metrics }] }],
  };
}
