/**
 * Fake Anthropic and OpenAI HTTP servers for tests of the SDK wrappers.
 *
 * One `node:http` server on 127.0.0.1 (random port) speaks the providers' real wire formats — JSON
 * bodies, SSE streams, error bodies and request-id headers — so the REAL `@anthropic-ai/sdk` and
 * `openai` clients can be pointed at it:
 *
 * ```ts
 * const fake = await startFakeProviders();
 * const anthropic = new Anthropic({ apiKey: 'test', baseURL: fake.anthropicBaseURL, maxRetries: 0 });
 * const openai = new OpenAI({ apiKey: 'test', baseURL: fake.openaiBaseURL, maxRetries: 0 });
 * fake.setNext({ usage: { outputTokens: 7 } }, '/v1/messages');
 * ```
 *
 * Routes: `POST /v1/messages` (JSON or SSE when `stream: true`), `POST /v1/messages/count_tokens`,
 * `POST /v1/chat/completions` (JSON or SSE; the usage chunk only with `stream_options.include_usage`),
 * `POST /v1/responses` (JSON or SSE). Anything else answers 404.
 *
 * Usage is scripted in the canonical disjoint buckets of FORMATS.md ("Canonical usage buckets") and
 * converted to each provider's convention:
 * - Anthropic: `input_tokens` = inputTokens (uncached), `cache_read_input_tokens` = cacheReadTokens,
 *   `cache_creation_input_tokens` = cacheWrite5mTokens + cacheWrite1hTokens, split in
 *   `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`; `output_tokens` =
 *   outputTokens (`output_tokens_details.thinking_tokens` = reasoningTokens when > 0, else null).
 *   Streaming: `message_start` carries input/cache usage and `output_tokens` = min(1, outputTokens);
 *   `message_delta` carries the cumulative totals.
 * - OpenAI (both APIs): input total (`prompt_tokens` / `input_tokens`) = inputTokens + cacheReadTokens
 *   + cacheWrite5mTokens + cacheWrite1hTokens (cached INCLUDED), `cached_tokens` = cacheReadTokens,
 *   output (`completion_tokens` / `output_tokens`) = outputTokens, `reasoning_tokens` =
 *   reasoningTokens (a subset of output), `total_tokens` = input total + output. Responses also gets
 *   `input_tokens_details.cache_write_tokens` = cacheWrite5mTokens + cacheWrite1hTokens.
 * - `count_tokens` answers `input_tokens` = the sum of the four input buckets.
 * `rawUsage` replaces the converted usage object verbatim (for odd or null-filled shapes).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Canonical, disjoint usage buckets (FORMATS.md). */
export interface FakeUsage {
  inputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  /** Includes reasoning. */
  outputTokens: number;
  /** Subset of outputTokens. */
  reasoningTokens: number;
}

/** Defaults for `/v1/messages` (and `count_tokens`): 25 + 1,000 read + 200 5m + 300 1h writes, 40 out. */
export const DEFAULT_ANTHROPIC_USAGE: Readonly<FakeUsage> = Object.freeze({
  inputTokens: 25,
  cacheReadTokens: 1000,
  cacheWrite5mTokens: 200,
  cacheWrite1hTokens: 300,
  outputTokens: 40,
  reasoningTokens: 0,
});

/** Defaults for the OpenAI routes: 100 uncached + 900 cached input, 60 output of which 20 reasoning. */
export const DEFAULT_OPENAI_USAGE: Readonly<FakeUsage> = Object.freeze({
  inputTokens: 100,
  cacheReadTokens: 900,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
  outputTokens: 60,
  reasoningTokens: 20,
});

export const DEFAULT_TEXT = 'Hello from the fake provider.';

/** What one call answers. Every field is optional; unset fields take the documented defaults. */
export interface FakeResponse {
  /** Assistant text; streamed as one delta per word (spaces kept). Default `DEFAULT_TEXT`. */
  text?: string;
  /** Usage in canonical buckets; missing buckets come from the route's default usage. */
  usage?: Partial<FakeUsage>;
  /** Replaces the converted provider usage object verbatim. */
  rawUsage?: Record<string, unknown>;
  /** HTTP status; >= 400 answers the provider's JSON error shape instead of a result. */
  status?: number;
  /** Error details for `status >= 400` or `errorAfterEvents` (type defaults from the status). */
  error?: { type?: string; message?: string; code?: string };
  /** Wait this long before sending the response headers. */
  delayMs?: number;
  /** Slow stream: wait this long before each SSE event. */
  eventDelayMs?: number;
  /**
   * Cut the stream after this many SSE events (pings count). `cutMode: 'destroy'` (default) resets
   * the connection mid-body; `'end'` ends the body cleanly without the remaining events.
   */
  cutAfterEvents?: number;
  cutMode?: 'destroy' | 'end';
  /** After this many SSE events, send the provider's in-stream error event and end the stream. */
  errorAfterEvents?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  /** URL path with the query string, e.g. `/v1/messages`. */
  path: string;
  /** Lower-case names; `authorization`, `x-api-key` and `proxy-authorization` values are `[redacted]`. */
  headers: Record<string, string>;
  /** The parsed JSON body, the raw text when it is not JSON, `undefined` when empty. */
  body: unknown;
}

export interface FakeProvidersOptions {
  /** Used whenever no scripted response is queued (merged over the route defaults). */
  defaultResponse?: FakeResponse;
}

export interface FakeProviders {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** For `new Anthropic({ baseURL })` (the SDK appends `/v1/...`). */
  anthropicBaseURL: string;
  /** For `new OpenAI({ baseURL })`: `<url>/v1`. */
  openaiBaseURL: string;
  /** Every request received, in order (recorded once its body has arrived, before any delay). */
  requests: RecordedRequest[];
  /** Number of requests whose path starts with `pathPrefix` (all requests without it). */
  count(pathPrefix?: string): number;
  /**
   * Queues the answer of a next call: of the next call to `path` (exact path, e.g. `/v1/responses`)
   * or, without `path`, of the next call to any route. Per-path queues are used first.
   */
  setNext(response: FakeResponse, path?: string): void;
  /** Queues several answers for successive calls to `path`. */
  script(path: string, responses: FakeResponse[]): void;
  /** Clears recorded requests and all queued answers. */
  reset(): void;
  close(): Promise<void>;
}

const REDACTED_HEADERS = new Set(['authorization', 'x-api-key', 'proxy-authorization']);

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const OPENAI_ERROR_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: null },
  503: { type: 'server_error', code: null },
};

type Json = Record<string, unknown>;

interface Sse {
  event?: string;
  data: string;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  body: Json;
  script: FakeResponse;
  seq: number;
}

export async function startFakeProviders(opts: FakeProvidersOptions = {}): Promise<FakeProviders> {
  const requests: RecordedRequest[] = [];
  const global: FakeResponse[] = [];
  const perPath = new Map<string, FakeResponse[]>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  const nextScript = (path: string): FakeResponse => {
    const queued = perPath.get(path)?.shift() ?? global.shift();
    return { ...opts.defaultResponse, ...queued };
  };

  /** Resolves true after `ms`, false early when the response closed or the server is closing. */
  const wait = (ms: number, res: ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve(alive(res));
      const onClose = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off('close', onClose);
        resolve(alive(res));
      }, ms);
      timers.add(timer);
      res.once('close', onClose);
    });
  const alive = (res: ServerResponse): boolean => !closed && !res.destroyed && !res.writableEnded;

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
        if (alive(res) && !res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `fake provider failed: ${String(err)}` } }));
        } else res.destroy();
      });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const path = req.url ?? '/';
    const pathname = path.split('?')[0] ?? path;
    let parsed: unknown;
    if (raw.length > 0) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      headers[name] = REDACTED_HEADERS.has(name)
        ? '[redacted]'
        : Array.isArray(value)
          ? value.join(', ')
          : value;
    }
    requests.push({ method: req.method ?? 'GET', path, headers, body: parsed });

    const route = req.method === 'POST' ? ROUTES[pathname] : undefined;
    if (!route) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `fake provider: no route ${req.method} ${pathname}` } }));
      return;
    }
    const script = nextScript(pathname);
    if (script.delayMs && !(await wait(script.delayMs, res))) return;
    const body: Json = parsed !== null && typeof parsed === 'object' ? (parsed as Json) : {};
    const ctx: Ctx = { req, res, body, script, seq: ++seq };
    if (script.status !== undefined && script.status >= 400) {
      const { status, json } = route.error(ctx, script.status);
      res.writeHead(status, { 'content-type': 'application/json', ...route.headers(ctx), ...script.headers });
      res.end(JSON.stringify(json));
      return;
    }
    if (body.stream === true && route.stream) {
      await writeStream(ctx, route, route.stream(ctx));
      return;
    }
    res.writeHead(script.status ?? 200, {
      'content-type': 'application/json',
      ...route.headers(ctx),
      ...script.headers,
    });
    res.end(JSON.stringify(route.json(ctx)));
  }

  async function writeStream(ctx: Ctx, route: Route, events: Sse[]): Promise<void> {
    const { res, script } = ctx;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...route.headers(ctx),
      ...script.headers,
    });
    res.flushHeaders();
    let sent = 0;
    for (const ev of events) {
      if (script.cutAfterEvents !== undefined && sent >= script.cutAfterEvents) {
        if (script.cutMode === 'end') res.end();
        else res.destroy();
        return;
      }
      if (script.errorAfterEvents !== undefined && sent >= script.errorAfterEvents) {
        const error = route.streamError(ctx);
        await writeEvent(res, error);
        res.end();
        return;
      }
      if (script.eventDelayMs && !(await wait(script.eventDelayMs, res))) return;
      if (!alive(ctx.res)) return;
      await writeEvent(res, ev);
      sent++;
    }
    res.end();
  }

  /** Writes one SSE event and resolves once it reached the socket (so a cut right after keeps it). */
  const writeEvent = (res: ServerResponse, ev: Sse): Promise<void> =>
    new Promise((resolve) => {
      const text = `${ev.event !== undefined ? `event: ${ev.event}\n` : ''}data: ${ev.data}\n\n`;
      res.write(text, () => resolve());
    });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    anthropicBaseURL: url,
    openaiBaseURL: `${url}/v1`,
    requests,
    count: (pathPrefix) =>
      pathPrefix === undefined
        ? requests.length
        : requests.filter((r) => r.path.startsWith(pathPrefix)).length,
    setNext(response, path) {
      if (path === undefined) global.push(response);
      else script(path, [response]);
    },
    script,
    reset() {
      requests.length = 0;
      global.length = 0;
      perPath.clear();
    },
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  function script(path: string, responses: FakeResponse[]): void {
    const queue = perPath.get(path) ?? [];
    queue.push(...responses);
    perPath.set(path, queue);
  }
}

// ---------------------------------------------------------------------------------------------------
// Routes

interface Route {
  headers(ctx: Ctx): Record<string, string>;
  json(ctx: Ctx): Json;
  stream?(ctx: Ctx): Sse[];
  error(ctx: Ctx, status: number): { status: number; json: Json };
  streamError(ctx: Ctx): Sse;
}

const ROUTES: Record<string, Route | undefined> = {
  '/v1/messages': {
    headers: anthropicHeaders,
    json: (ctx) => anthropicMessage(ctx, 'final'),
    stream: anthropicStream,
    error: anthropicError,
    streamError: (ctx) => {
      const json = anthropicError(ctx, 529).json;
      return { event: 'error', data: JSON.stringify({ type: 'error', error: json.error }) };
    },
  },
  '/v1/messages/count_tokens': {
    headers: anthropicHeaders,
    json: (ctx) => {
      const u = usageOf(ctx, DEFAULT_ANTHROPIC_USAGE);
      return {
        input_tokens: u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens,
      };
    },
    error: anthropicError,
    streamError: () => ({ data: '' }),
  },
  '/v1/chat/completions': {
    headers: openaiHeaders,
    json: chatCompletion,
    stream: chatStream,
    error: openaiError,
    streamError: (ctx) => ({ data: JSON.stringify({ error: openaiError(ctx, 500).json.error }) }),
  },
  '/v1/responses': {
    headers: openaiHeaders,
    json: (ctx) => openaiResponse(ctx, 'completed'),
    stream: responsesStream,
    error: openaiError,
    streamError: (ctx) => {
      const e = openaiError(ctx, 500).json.error as Json;
      return {
        event: 'error',
        data: JSON.stringify({
          type: 'error',
          code: e.code ?? 'server_error',
          message: e.message,
          param: null,
        }),
      };
    },
  },
};

function usageOf(ctx: Ctx, defaults: Readonly<FakeUsage>): FakeUsage {
  return { ...defaults, ...ctx.script.usage };
}

function modelOf(ctx: Ctx): string {
  return typeof ctx.body.model === 'string' ? ctx.body.model : 'unknown-model';
}

function textOf(ctx: Ctx): string {
  return ctx.script.text ?? DEFAULT_TEXT;
}

/** One piece per word, each keeping its leading space: deltas concatenate back to the text. */
function pieces(text: string): string[] {
  return text.match(/\s*\S+\s*$|\s*\S+/g) ?? [text];
}

function id(prefix: string, ctx: Ctx): string {
  return `${prefix}${String(ctx.seq).padStart(24, '0')}`;
}

const sse = (event: string | undefined, data: unknown): Sse =>
  event === undefined ? { data: JSON.stringify(data) } : { event, data: JSON.stringify(data) };

// --- Anthropic -------------------------------------------------------------------------------------

function anthropicHeaders(ctx: Ctx): Record<string, string> {
  return { 'request-id': id('req_fake', ctx), 'anthropic-organization-id': 'org-fake' };
}

function anthropicUsage(ctx: Ctx, phase: 'start' | 'final'): Json {
  if (ctx.script.rawUsage) return ctx.script.rawUsage;
  const u = usageOf(ctx, DEFAULT_ANTHROPIC_USAGE);
  return {
    input_tokens: u.inputTokens,
    cache_creation_input_tokens: u.cacheWrite5mTokens + u.cacheWrite1hTokens,
    cache_read_input_tokens: u.cacheReadTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: u.cacheWrite5mTokens,
      ephemeral_1h_input_tokens: u.cacheWrite1hTokens,
    },
    output_tokens: phase === 'start' ? Math.min(1, u.outputTokens) : u.outputTokens,
    output_tokens_details: u.reasoningTokens > 0 ? { thinking_tokens: u.reasoningTokens } : null,
    server_tool_use: null,
    service_tier: 'standard',
  };
}

function anthropicMessage(ctx: Ctx, phase: 'start' | 'final'): Json {
  return {
    id: id('msg_fake', ctx),
    type: 'message',
    role: 'assistant',
    model: modelOf(ctx),
    content: phase === 'start' ? [] : [{ type: 'text', text: textOf(ctx) }],
    stop_reason: phase === 'start' ? null : 'end_turn',
    stop_sequence: null,
    usage: anthropicUsage(ctx, phase),
  };
}

function anthropicStream(ctx: Ctx): Sse[] {
  const final = anthropicUsage(ctx, 'final');
  const deltaUsage: Json = ctx.script.rawUsage
    ? ctx.script.rawUsage
    : {
        input_tokens: final.input_tokens,
        cache_creation_input_tokens: final.cache_creation_input_tokens,
        cache_read_input_tokens: final.cache_read_input_tokens,
        output_tokens: final.output_tokens,
        output_tokens_details: final.output_tokens_details,
        server_tool_use: null,
      };
  return [
    sse('message_start', { type: 'message_start', message: anthropicMessage(ctx, 'start') }),
    sse('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
    sse('ping', { type: 'ping' }),
    ...pieces(textOf(ctx)).map((text) =>
      sse('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text },
      }),
    ),
    sse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    sse('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: deltaUsage,
    }),
    sse('message_stop', { type: 'message_stop' }),
  ];
}

function anthropicError(ctx: Ctx, status: number): { status: number; json: Json } {
  const type = ctx.script.error?.type ?? ANTHROPIC_ERROR_TYPES[status] ?? 'api_error';
  return {
    status,
    json: {
      type: 'error',
      error: { type, message: ctx.script.error?.message ?? `fake ${type}` },
      request_id: id('req_fake', ctx),
    },
  };
}

// --- OpenAI ----------------------------------------------------------------------------------------

function openaiHeaders(ctx: Ctx): Record<string, string> {
  return {
    'x-request-id': id('req_fake', ctx),
    'openai-processing-ms': '12',
    'openai-version': '2020-10-01',
  };
}

function openaiTotals(ctx: Ctx): FakeUsage & { input: number; cacheWrite: number } {
  const u = usageOf(ctx, DEFAULT_OPENAI_USAGE);
  const cacheWrite = u.cacheWrite5mTokens + u.cacheWrite1hTokens;
  return { ...u, cacheWrite, input: u.inputTokens + u.cacheReadTokens + cacheWrite };
}

function chatUsage(ctx: Ctx): Json {
  if (ctx.script.rawUsage) return ctx.script.rawUsage;
  const u = openaiTotals(ctx);
  return {
    prompt_tokens: u.input,
    completion_tokens: u.outputTokens,
    total_tokens: u.input + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cacheReadTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function created(): number {
  return Math.floor(Date.now() / 1000);
}

function chatCompletion(ctx: Ctx): Json {
  return {
    id: id('chatcmpl-fake', ctx),
    object: 'chat.completion',
    created: created(),
    model: modelOf(ctx),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: textOf(ctx), refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: chatUsage(ctx),
    service_tier: 'default',
    system_fingerprint: null,
  };
}

function chatStream(ctx: Ctx): Sse[] {
  const opts = ctx.body.stream_options as Json | undefined;
  const withUsage = opts?.include_usage === true;
  const base = {
    id: id('chatcmpl-fake', ctx),
    object: 'chat.completion.chunk',
    created: created(),
    model: modelOf(ctx),
    service_tier: 'default',
    system_fingerprint: null,
  };
  const chunk = (delta: Json, finish: string | null): Sse =>
    sse(undefined, {
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    });
  const events: Sse[] = [
    chunk({ role: 'assistant', content: '', refusal: null }, null),
    ...pieces(textOf(ctx)).map((content) => chunk({ content }, null)),
    chunk({}, 'stop'),
  ];
  if (withUsage) events.push(sse(undefined, { ...base, choices: [], usage: chatUsage(ctx) }));
  events.push({ data: '[DONE]' });
  return events;
}

function responsesUsage(ctx: Ctx): Json {
  if (ctx.script.rawUsage) return ctx.script.rawUsage;
  const u = openaiTotals(ctx);
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cacheReadTokens, cache_write_tokens: u.cacheWrite },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.input + u.outputTokens,
  };
}

function outputMessage(ctx: Ctx, text: string | undefined): Json {
  return {
    id: id('msg_fake', ctx),
    type: 'message',
    status: text === undefined ? 'in_progress' : 'completed',
    role: 'assistant',
    content: text === undefined ? [] : [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  };
}

function openaiResponse(ctx: Ctx, status: 'in_progress' | 'completed'): Json {
  const done = status === 'completed';
  const now = created();
  return {
    id: id('resp_fake', ctx),
    object: 'response',
    created_at: now,
    status,
    background: false,
    completed_at: done ? now : null,
    error: null,
    incomplete_details: null,
    instructions: typeof ctx.body.instructions === 'string' ? ctx.body.instructions : null,
    max_output_tokens: typeof ctx.body.max_output_tokens === 'number' ? ctx.body.max_output_tokens : null,
    model: modelOf(ctx),
    output: done ? [outputMessage(ctx, textOf(ctx))] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done ? responsesUsage(ctx) : null,
    user: null,
    metadata: {},
  };
}

function responsesStream(ctx: Ctx): Sse[] {
  const text = textOf(ctx);
  const itemId = id('msg_fake', ctx);
  const part = (t: string): Json => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
  const events: Json[] = [
    { type: 'response.created', response: openaiResponse(ctx, 'in_progress') },
    { type: 'response.in_progress', response: openaiResponse(ctx, 'in_progress') },
    { type: 'response.output_item.added', output_index: 0, item: outputMessage(ctx, undefined) },
    {
      type: 'response.content_part.added',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: part(''),
    },
    ...pieces(text).map((delta) => ({
      type: 'response.output_text.delta',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      delta,
      logprobs: [],
    })),
    {
      type: 'response.output_text.done',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      text,
      logprobs: [],
    },
    {
      type: 'response.content_part.done',
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: part(text),
    },
    { type: 'response.output_item.done', output_index: 0, item: outputMessage(ctx, text) },
    { type: 'response.completed', response: openaiResponse(ctx, 'completed') },
  ];
  return events.map((e, i) => sse(e.type as string, { ...e, sequence_number: i }));
}

function openaiError(ctx: Ctx, status: number): { status: number; json: Json } {
  const known = OPENAI_ERROR_TYPES[status] ?? { type: 'server_error', code: null };
  const type = ctx.script.error?.type ?? known.type;
  return {
    status,
    json: {
      error: {
        message: ctx.script.error?.message ?? `fake ${type}`,
        type,
        param: null,
        code: ctx.script.error?.code ?? known.code,
      },
    },
  };
}
