import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Attribution, Problem, UsageEvent } from '../core/event.js';
import { arr, isObj, type Rec } from '../core/json.js';
import { type PriceBook, priceEvent } from '../core/pricing.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { scanJsonl } from './jsonl-reader.js';

export { looksLikeOtlp } from './otlp-detect.js';

/** What one OTLP/JSON file yields. */
export interface OtlpParse {
  /** One event per counted model call (GenAI span or Claude Code `api_request` log), by time then id. */
  events: UsageEvent[];
  /** Lines or records that could not be used, with where they were (line 0: a whole-file document). */
  problems: Problem[];
  /** Distinct spans read, whether or not they carried usage. */
  spans: number;
  /**
   * Metrics (`Metric` objects in `resourceMetrics`) seen and deliberately not counted: tokenledger
   * counts events, never metrics too, so the same tokens are never counted twice.
   */
  skippedMetrics: number;
}

/** Index of the quote closing the string opened at `open`, or -1 when the text ends first. */

/**
 * Reads one OTLP/JSON file: JSON Lines with one `TracesData`, `LogsData` or `MetricsData` per line,
 * or a whole file holding one (pretty-printed) document. Produces one event per GenAI model-call
 * span with token usage (current semconv and older OpenLLMetry spellings) and per Claude Code
 * `claude_code.api_request` log record; metrics are counted in `skippedMetrics`, never as spend.
 * The span tree is read as the delegation tree: each `invoke_agent` ancestor is one `agentPath`
 * segment. A malformed line is a problem and the rest of the file is still read; an unterminated
 * last line that does not parse is a line still being written and is ignored.
 *
 * @example
 * const book = createPriceBook();
 * const { events, problems, skippedMetrics } = parseOtlpFile('traces.jsonl', book);
 * for (const e of events) console.log(e.attribution.agentPath, e.model, e.cost.nanoUsd);
 */
export function parseOtlpFile(file: string, book: PriceBook): OtlpParse {
  const r = new OtlpReader(file, book);
  const doc = wholeDocument(file);
  if (doc !== undefined) {
    r.document(doc, 0);
  } else {
    scanJsonl(file, {
      // Every OTLP line starts with `{`: every line is decoded.
      patterns: [OPEN],
      onCandidate: (buf, start, end, line) => r.line(buf.toString('utf8', start, end), line),
      onMalformed: (line, reason) => r.problem(line, reason),
      onTail: (text, line) => r.tail(text, line),
    });
  }
  return r.finish();
}

const OPEN = Buffer.from('{');
const HEAD_BYTES = 64 * 1024;

/**
 * The file's document when it is one pretty-printed JSON document, else `undefined` (JSON Lines).
 * A JSONL file's first line is a whole object (ends with `}`); a pretty-printed document's first
 * line is `{` alone or the start of one. Only then is the whole file read and parsed; when it does
 * not parse either, the file is read as JSON Lines so that each bad line is reported where it is.
 */
function wholeDocument(file: string): unknown {
  const head = readHead(file);
  const text = head.replace(/^\uFEFF/, '');
  const start = text.search(/\S/);
  if (start < 0 || text[start] !== '{') return undefined;
  const nl = text.indexOf('\n', start);
  // No newline in the head: one long JSONL line (or a one-line file), which the JSONL reader handles.
  if (nl < 0) return undefined;
  if (text.slice(start, nl).trimEnd().endsWith('}')) return undefined;
  try {
    const doc: unknown = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''));
    return isObj(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

function readHead(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** An OTLP attribute list `[{key, value: AnyValue}]` → key → AnyValue (first occurrence wins). */
function attrMap(list: unknown): Map<string, Rec> {
  const m = new Map<string, Rec>();
  for (const a of arr(list)) {
    if (isObj(a) && typeof a.key === 'string' && isObj(a.value) && !m.has(a.key)) m.set(a.key, a.value);
  }
  return m;
}

/** A scalar attribute as text: strings as they are, numbers (64-bit ints arrive as strings) in decimal. */
function text(attrs: Map<string, Rec>, key: string): string | undefined {
  const v = attrs.get(key);
  if (!v) return undefined;
  const raw = v.stringValue ?? v.intValue ?? v.doubleValue;
  if (typeof raw === 'string') return raw.length > 0 ? raw : undefined;
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return undefined;
}

/**
 * A token count: `undefined` when absent, `null` when not a non-negative integer. `intValue` is a
 * string in OTLP/JSON; Claude Code's log events write counts as `stringValue`s; some exporters
 * write plain numbers or integral doubles. All are accepted.
 */
function tokenCount(attrs: Map<string, Rec>, key: string): number | undefined | null {
  const v = attrs.get(key);
  if (!v) return undefined;
  const raw = v.intValue ?? v.stringValue ?? v.doubleValue;
  if (raw === undefined) return undefined;
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 0 ? raw : null;
  if (typeof raw === 'string' && /^\d{1,15}$/.test(raw)) return Number(raw);
  return null;
}

/**
 * Nanoseconds since the epoch (a 19-digit string in OTLP/JSON) → epoch ms, or `null` when absent or
 * zero (OTLP's "unset"). The digits are cut, not divided as a float: a double cannot hold 19 digits,
 * and `Number("1767952809999999999") / 1e6` is already the next millisecond.
 */
function nanosToMs(v: unknown): number | null {
  if (typeof v === 'string' && /^\d{1,21}$/.test(v)) {
    const ms = v.length > 6 ? Number(v.slice(0, -6)) : 0;
    return ms > 0 ? ms : null;
  }
  if (typeof v === 'number' && Number.isFinite(v) && v >= 1e6) return Math.floor(v / 1e6);
  return null;
}

/** A span or trace id: hex (lower-cased; OTLP/JSON ids are hex, case-insensitive); all zeros = none. */
function spanIdOf(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || /^0+$/.test(v)) return undefined;
  return /^[0-9a-fA-F]+$/.test(v) ? v.toLowerCase() : v;
}

function serviceOf(resource: unknown): string | undefined {
  return isObj(resource) ? text(attrMap(resource.attributes), 'service.name') : undefined;
}

// GenAI semantic conventions: current names first, then the older spellings (OpenLLMetry & co.).
const G = {
  op: 'gen_ai.operation.name',
  provider: ['gen_ai.provider.name', 'gen_ai.system'],
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  agentName: 'gen_ai.agent.name',
  agentId: 'gen_ai.agent.id',
  conversation: 'gen_ai.conversation.id',
  input: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  output: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  cacheRead: ['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens'],
  cacheWrite: ['gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens'],
  reasoning: ['gen_ai.usage.reasoning.output_tokens'],
} as const;

/** Operations that are not model calls: their usage, if any, is someone else's (rule: no double count). */
const NOT_A_CALL = new Set(['invoke_agent', 'create_agent', 'execute_tool']);
const INVOKE_AGENT = 'invoke_agent';

/**
 * `gen_ai.provider.name` / `gen_ai.system` values → the provider ids of `@pydantic/genai-prices`
 * (checked with its `findProvider`), so events group under one name and the price book finds the
 * provider. Names are lower-cased first (OpenLLMetry writes `OpenAI`, `Anthropic`). Azure maps to
 * `azure`, not to what `findProvider('azure.ai.openai')` matches (`openai`, by substring): Azure
 * bills its own account, and genai-prices' `azure` provider falls back to OpenAI's models for
 * prices. Names genai-prices does not know pass through lower-cased.
 */
const PROVIDER_IDS: Record<string, string> = {
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  gemini: 'google',
  vertex_ai: 'google',
  vertexai: 'google',
  google: 'google',
  'aws.bedrock': 'aws',
  bedrock: 'aws',
  aws: 'aws',
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  'az.ai.openai': 'azure',
  'az.ai.inference': 'azure',
  azure: 'azure',
  mistral_ai: 'mistral',
  mistralai: 'mistral',
  x_ai: 'x-ai',
  xai: 'x-ai',
  together_ai: 'together',
};

function providerId(name: string | undefined): string {
  if (!name) return 'unknown';
  const n = name.trim().toLowerCase();
  return PROVIDER_IDS[n] ?? n;
}

/** Reads a span's usage attributes. `present` is false when the span carries none at all. */
type SpanUsage =
  | { present: false }
  | { present: true; usage: UsageBuckets }
  | { present: true; error: string };

function firstCount(
  attrs: Map<string, Rec>,
  keys: readonly string[],
): { key: string; n: number | null } | null {
  for (const key of keys) {
    const n = tokenCount(attrs, key);
    if (n !== undefined) return { key, n };
  }
  return null;
}

/**
 * GenAI usage attributes → disjoint buckets.
 *
 * Whether `input_tokens` includes cached tokens is ambiguous: the semconv says it SHOULD (OpenAI and
 * Gemini report it that way), but Anthropic instrumentations often copy Anthropic's own `usage`,
 * whose `input_tokens` EXCLUDES cache reads and writes. The attributes do not say which, so:
 * when cache reads + cache writes > input, input cannot include them and is taken as exclusive
 * (uncached = input); otherwise it is taken as inclusive (uncached = input − reads − writes).
 * The rule can be wrong one way only: an exclusive-input call whose uncached input is at least its
 * cache traffic (e.g. 5,000 uncached + 1,000 cache reads) is read as inclusive, and its uncached
 * input is under-counted by the cache tokens. Cache writes have no TTL in the semconv: they go to
 * the 5-minute bucket. Output includes reasoning; `reasoningTokens` is the display-only part of it.
 */
function spanUsage(attrs: Map<string, Rec>): SpanUsage {
  const input = firstCount(attrs, G.input);
  const output = firstCount(attrs, G.output);
  const read = firstCount(attrs, G.cacheRead);
  const write = firstCount(attrs, G.cacheWrite);
  const reasoning = firstCount(attrs, G.reasoning);
  const all = [input, output, read, write, reasoning];
  if (all.every((c) => c === null)) return { present: false };
  const bad = all.find((c) => c !== null && c.n === null);
  if (bad) {
    const raw = attrs.get(bad.key);
    return {
      present: true,
      error: `${bad.key} is not a non-negative integer (${JSON.stringify(raw).slice(0, 60)})`,
    };
  }
  const inTok = input?.n ?? 0;
  const cacheRead = read?.n ?? 0;
  const cacheWrite = write?.n ?? 0;
  const usage = emptyUsage();
  usage.inputTokens = cacheRead + cacheWrite > inTok ? inTok : inTok - cacheRead - cacheWrite;
  usage.cacheReadTokens = cacheRead;
  usage.cacheWrite5mTokens = cacheWrite;
  usage.outputTokens = output?.n ?? 0;
  // A subset of output by definition: clamped so a display figure never exceeds what it is part of.
  usage.reasoningTokens = Math.min(reasoning?.n ?? 0, usage.outputTokens);
  return { present: true, usage };
}

/** What is kept of a span: the few fields tokenledger uses, not its whole attribute list. */
interface SpanInfo {
  traceId: string;
  spanId: string;
  parentId?: string;
  op?: string;
  agentId?: string;
  agentName?: string;
  conversation?: string;
  provider: string;
  model: string;
  usage: SpanUsage;
  ts: number | null;
  error: boolean;
  service?: string;
  line: number;
}

/** Who a span runs for: the agents above it (and itself, for an `invoke_agent` span). */
interface AgentContext {
  path: string;
  agentName: string;
  agentId?: string;
  conversation?: string;
}

const ROOT_CONTEXT: AgentContext = { path: 'main', agentName: 'main' };

const isErrorStatus = (status: unknown): boolean =>
  isObj(status) && (status.code === 2 || status.code === '2' || status.code === 'STATUS_CODE_ERROR');

const CC_API_REQUEST = 'claude_code.api_request';

class OtlpReader {
  private readonly spans = new Map<string, SpanInfo>();
  private readonly events: UsageEvent[] = [];
  private readonly eventIds = new Set<string>();
  private readonly problems: Problem[] = [];
  private skippedMetrics = 0;

  constructor(
    private readonly file: string,
    private readonly book: PriceBook,
  ) {}

  problem(line: number, reason: string): void {
    this.problems.push({ file: this.file, line, reason });
  }

  line(text: string, line: number): void {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      this.problem(line, `malformed JSON: ${(err as Error).message}`);
      return;
    }
    this.document(doc, line);
  }

  /** An unterminated last line: a complete record when it parses, else still being written. */
  tail(text: string, line: number): void {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return;
    }
    this.document(doc, line);
  }

  document(doc: unknown, line: number): void {
    if (!isObj(doc)) {
      this.problem(line, 'not a JSON object');
      return;
    }
    let known = false;
    if (Array.isArray(doc.resourceSpans)) {
      known = true;
      for (const rs of doc.resourceSpans) {
        if (!isObj(rs)) continue;
        const service = serviceOf(rs.resource);
        // `instrumentationLibrary*` is the older OTLP name of `scope*`.
        for (const ss of arr(rs.scopeSpans ?? rs.instrumentationLibrarySpans)) {
          if (isObj(ss)) for (const s of arr(ss.spans)) this.span(s, service, line);
        }
      }
    }
    if (Array.isArray(doc.resourceLogs)) {
      known = true;
      for (const rl of doc.resourceLogs) {
        if (!isObj(rl)) continue;
        const service = serviceOf(rl.resource);
        for (const sl of arr(rl.scopeLogs ?? rl.instrumentationLibraryLogs)) {
          if (isObj(sl)) for (const r of arr(sl.logRecords)) this.logRecord(r, service, line);
        }
      }
    }
    if (Array.isArray(doc.resourceMetrics)) {
      known = true;
      for (const rm of doc.resourceMetrics) {
        if (!isObj(rm)) continue;
        for (const sm of arr(rm.scopeMetrics ?? rm.instrumentationLibraryMetrics)) {
          if (isObj(sm)) this.skippedMetrics += arr(sm.metrics).length;
        }
      }
    }
    if (!known)
      this.problem(line, 'not an OTLP document (no resourceSpans, resourceLogs or resourceMetrics)');
  }

  /** Keeps a span for the tree; events are made in `finish`, once every span of the file is known. */
  private span(s: unknown, service: string | undefined, line: number): void {
    if (!isObj(s)) {
      this.problem(line, 'span is not a JSON object');
      return;
    }
    const traceId = spanIdOf(s.traceId);
    const spanId = spanIdOf(s.spanId);
    if (!traceId || !spanId) {
      this.problem(line, `span "${String(s.name ?? '')}" without a traceId or spanId`);
      return;
    }
    const key = `${traceId}:${spanId}`;
    // The same span exported twice (a retried export): the first copy is the span.
    if (this.spans.has(key)) return;
    const attrs = attrMap(s.attributes);
    const info: SpanInfo = {
      traceId,
      spanId,
      provider: providerId(text(attrs, G.provider[0]) ?? text(attrs, G.provider[1])),
      model: text(attrs, G.responseModel) ?? text(attrs, G.requestModel) ?? 'unknown',
      usage: spanUsage(attrs),
      ts: nanosToMs(s.startTimeUnixNano) ?? nanosToMs(s.endTimeUnixNano),
      error: isErrorStatus(s.status),
      line,
    };
    const parentId = spanIdOf(s.parentSpanId);
    if (parentId) info.parentId = parentId;
    const op = text(attrs, G.op);
    if (op) info.op = op;
    const agentId = text(attrs, G.agentId);
    if (agentId) info.agentId = agentId;
    const agentName = text(attrs, G.agentName);
    if (agentName) info.agentName = agentName;
    const conversation = text(attrs, G.conversation);
    if (conversation) info.conversation = conversation;
    if (service) info.service = service;
    this.spans.set(key, info);
  }

  /** A Claude Code `claude_code.api_request` log event → one event; other log records are not spend. */
  private logRecord(r: unknown, service: string | undefined, line: number): void {
    if (!isObj(r)) {
      this.problem(line, 'log record is not a JSON object');
      return;
    }
    const attrs = attrMap(r.attributes);
    const body = isObj(r.body) ? r.body.stringValue : undefined;
    // Claude Code puts the full name in the body and `api_request` in `event.name`; newer OTLP
    // exporters also have a top-level `eventName`. Any of them naming the event is enough.
    if (
      r.eventName !== CC_API_REQUEST &&
      text(attrs, 'event.name') !== CC_API_REQUEST &&
      body !== CC_API_REQUEST
    )
      return;
    const input = tokenCount(attrs, 'input_tokens');
    const output = tokenCount(attrs, 'output_tokens');
    const read = tokenCount(attrs, 'cache_read_tokens');
    const write = tokenCount(attrs, 'cache_creation_tokens');
    if (input === null || output === null || read === null || write === null) {
      this.problem(line, 'claude_code.api_request with a token count that is not a non-negative integer');
      return;
    }
    const timeNanos = [r.timeUnixNano, r.observedTimeUnixNano].find((t) => nanosToMs(t) !== null);
    const eventTs = text(attrs, 'event.timestamp');
    const ts = timeNanos !== undefined ? nanosToMs(timeNanos)! : eventTs ? Date.parse(eventTs) : Number.NaN;
    if (Number.isNaN(ts)) {
      this.problem(line, 'claude_code.api_request without a valid time');
      return;
    }
    // Anthropic's convention: input_tokens excludes cache reads and writes.
    const usage = emptyUsage();
    usage.inputTokens = input ?? 0;
    usage.outputTokens = output ?? 0;
    usage.cacheReadTokens = read ?? 0;
    usage.cacheWrite5mTokens = write ?? 0;
    const session = text(attrs, 'session.id');
    const requestId = text(attrs, 'request_id');
    const id = requestId
      ? `cc-otel:${requestId}`
      : `cc-otel:${session ?? ''}:${typeof timeNanos === 'string' ? timeNanos : String(ts)}`;
    if (this.eventIds.has(id)) return;
    this.eventIds.add(id);
    const querySource = text(attrs, 'query_source');
    const attribution: Attribution = {
      agentName: text(attrs, 'agent.name') ?? (querySource === 'subagent' ? 'subagent' : 'main'),
    };
    if (session) attribution.session = session;
    const user = text(attrs, 'user.email') ?? text(attrs, 'user.id');
    if (user) attribution.user = user;
    const tags: Record<string, string> = {};
    if (service) tags.service = service;
    if (querySource) tags.querySource = querySource;
    // What Claude Code itself charged, kept for comparison; the cost below comes from the price book.
    const reported = text(attrs, 'cost_usd');
    if (reported) tags.reportedCostUsd = reported;
    if (Object.keys(tags).length > 0) attribution.tags = tags;
    const model = text(attrs, 'model') ?? 'unknown';
    this.events.push({
      id,
      ts,
      source: 'otlp',
      provider: 'anthropic',
      model,
      usage,
      cost: priceEvent(this.book, model, 'anthropic', ts, usage),
      attribution,
    });
  }

  finish(): OtlpParse {
    this.spanEvents();
    this.events.sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.problems.sort((a, b) => a.line - b.line);
    return {
      events: this.events,
      problems: this.problems,
      spans: this.spans.size,
      skippedMetrics: this.skippedMetrics,
    };
  }

  /**
   * Spans → events, once the whole file is read (parents may come after children, on other lines).
   * A span with usage is a model call unless its operation says otherwise; an `invoke_agent` span
   * with usage usually repeats the sum of its children, so it counts only when no descendant has any.
   */
  private spanEvents(): void {
    const withUsageBelow = this.spansWithUsageBelow();
    const contexts = new Map<string, AgentContext>();
    for (const [key, s] of this.spans) {
      if (!s.usage.present) continue;
      const counted = s.op === INVOKE_AGENT ? !withUsageBelow.has(key) : !(s.op && NOT_A_CALL.has(s.op));
      if (!counted) continue;
      if ('error' in s.usage) {
        this.problem(s.line, `span ${s.spanId}: ${s.usage.error}`);
        continue;
      }
      if (s.ts === null) {
        this.problem(s.line, `span ${s.spanId} has usage but no valid startTimeUnixNano`);
        continue;
      }
      const ctx = this.contextOf(key, contexts);
      const attribution: Attribution = { run: s.traceId, agentPath: ctx.path, agentName: ctx.agentName };
      if (ctx.agentId) attribution.agentId = ctx.agentId;
      if (ctx.conversation) attribution.session = ctx.conversation;
      if (s.error) attribution.status = 'error';
      if (s.service) attribution.tags = { service: s.service };
      this.events.push({
        id: `otlp:${s.traceId}:${s.spanId}`,
        ts: s.ts,
        source: 'otlp',
        provider: s.provider,
        model: s.model,
        usage: s.usage.usage,
        cost: priceEvent(this.book, s.model, s.provider, s.ts, s.usage.usage),
        attribution,
      });
    }
  }

  private parentKey(s: SpanInfo): string | undefined {
    return s.parentId ? `${s.traceId}:${s.parentId}` : undefined;
  }

  /**
   * Keys of spans with a descendant carrying usage. Each usage span marks its ancestors and stops
   * at the first one already marked (whose ancestors are then marked too), so every span is marked
   * once; the stop also ends a (malformed) parent cycle.
   */
  private spansWithUsageBelow(): Set<string> {
    const marked = new Set<string>();
    for (const s of this.spans.values()) {
      if (!s.usage.present) continue;
      let key = this.parentKey(s);
      while (key !== undefined && !marked.has(key)) {
        const parent = this.spans.get(key);
        if (!parent) break; // the parent is not in this file: the tree is cut there
        marked.add(key);
        key = this.parentKey(parent);
      }
    }
    return marked;
  }

  /**
   * The agent context of a span, from the root down: each `invoke_agent` span on the way (itself
   * included) adds a path segment, `gen_ai.agent.id` or else its span id. Conversation ids are set
   * on agent spans more often than on model calls, so the nearest one above is inherited. A parent
   * missing from the file makes its child a root; a parent cycle is cut where it closes. Memoised:
   * each span is resolved once.
   */
  private contextOf(key: string, memo: Map<string, AgentContext>): AgentContext {
    const chain: SpanInfo[] = [];
    const seen = new Set<string>();
    let base = ROOT_CONTEXT;
    let cur: string | undefined = key;
    while (cur !== undefined) {
      const known = memo.get(cur);
      if (known) {
        base = known;
        break;
      }
      const s = this.spans.get(cur);
      if (!s || seen.has(cur)) break;
      seen.add(cur);
      chain.push(s);
      cur = this.parentKey(s);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const s = chain[i]!;
      base = extendContext(base, s);
      memo.set(`${s.traceId}:${s.spanId}`, base);
    }
    return base;
  }
}

function extendContext(ctx: AgentContext, s: SpanInfo): AgentContext {
  const conversation = s.conversation ?? ctx.conversation;
  if (s.op !== INVOKE_AGENT) {
    return conversation === ctx.conversation ? ctx : { ...ctx, conversation };
  }
  // `/` separates path segments (buildDelegationTree splits on it): an id must not contain one.
  const segment = (s.agentId ?? s.spanId).replaceAll('/', '_');
  const next: AgentContext = {
    path: `${ctx.path}/${segment}`,
    agentName: s.agentName ?? segment,
    agentId: segment,
  };
  if (conversation) next.conversation = conversation;
  return next;
}
