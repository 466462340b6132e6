import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { BudgetExceededError, BudgetStoreError } from '../core/budget.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { isApiPromise, rejectedApiPromise, resolvedApiPromise } from './api-promise.js';
import { requestCacheKey } from './cache.js';
import {
  type EstimateOptions,
  type RequestSize,
  sizeAnthropicMessages,
  sizeOpenAIChat,
  sizeOpenAIResponses,
} from './estimate.js';
import type { CallPlan, CallResult, CallTicket, Meter } from './meter.js';
import { observeStream, type StreamEnd } from './stream-observer.js';
import {
  AnthropicStreamUsage,
  usageFromAnthropicMessage,
  usageFromOpenAIChat,
  usageFromOpenAIResponse,
  usageFromOpenAIResponseEvent,
} from './usage.js';

/**
 * SDK wrappers: `meter.wrap(client)` instruments an `@anthropic-ai/sdk` or `openai` client IN PLACE
 * (its `create` methods) and returns it, so the type, every option and every helper built on
 * `create` stay the SDK's own: `.withResponse()`, `.asResponse()`, `messages.stream()`,
 * `messages.parse()`, `chat.completions.stream()`/`.parse()`, `responses.stream()`/`.parse()`.
 * Patching the resource objects (not a Proxy around the client) matters: the streaming helpers
 * call `client.chat.completions.create` on the client they were built from, which a Proxy would
 * not see.
 */

type Rec = Record<string, unknown>;
const isObj = (x: unknown): x is Rec => typeof x === 'object' && x !== null && !Array.isArray(x);
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

const WRAPPED = Symbol.for('tokenledger.wrapped');

/**
 * How one endpoint is metered: by the SDK wrappers here, and by the gateway (`src/gateway`), which
 * feeds the same trackers the events it parses off the wire, so both read usage the same way.
 */
export interface EndpointSpec {
  provider: string;
  endpoint: string;
  size(params: unknown, opts: EstimateOptions): RequestSize;
  /** A non-streamed answer → what it used. */
  resultOf(data: unknown): CallResult;
  /** Reads a stream as it is consumed. */
  tracker(params: unknown, size: () => RequestSize, injected: boolean): StreamTracker;
  /** Changes the request before it is sent (e.g. ask for the usage chunk); returns whether it did. */
  prepare?(params: Rec): { params: Rec; injected: boolean };
}

export interface StreamTracker {
  onItem(item: unknown): void;
  hide?(item: unknown): boolean;
  result(end: StreamEnd): CallResult;
}

/** Which SDK a client is, by the methods it has. */
export function clientKind(client: unknown): 'anthropic' | 'openai' | undefined {
  if (!isObj(client)) return undefined;
  const c = client as { messages?: { create?: unknown }; chat?: { completions?: { create?: unknown } } };
  if (typeof c.chat?.completions?.create === 'function') return 'openai';
  if (typeof c.messages?.create === 'function') return 'anthropic';
  return undefined;
}

/**
 * Instruments `client` for `meter` and returns it. A client wrapped twice is metered once.
 * Throws `TypeError` for an object that is neither SDK client (a developer error, at set-up).
 */
export function wrapClient<T>(meter: Meter, client: T): T {
  const kind = clientKind(client);
  if (!kind) throw new TypeError('meter.wrap: not an @anthropic-ai/sdk or openai client');
  const c = client as unknown as Rec & {
    messages?: Rec;
    beta?: { messages?: Rec };
    chat?: { completions?: Rec };
    responses?: Rec;
  };
  if (kind === 'anthropic') {
    patch(meter, c.messages, ANTHROPIC_MESSAGES);
    patch(meter, c.beta?.messages, ANTHROPIC_MESSAGES);
  } else {
    patch(meter, c.chat?.completions, OPENAI_CHAT);
    patch(meter, c.responses, OPENAI_RESPONSES);
  }
  return client;
}

function patch(meter: Meter, resource: Rec | undefined, spec: EndpointSpec): void {
  if (!resource || typeof resource.create !== 'function') return;
  const original = resource.create as AnyFn & { [WRAPPED]?: boolean };
  if (original[WRAPPED]) return;
  const metered = meteredCreate(meter, spec, original) as AnyFn & { [WRAPPED]?: boolean };
  metered[WRAPPED] = true;
  resource.create = metered;
}

function meteredCreate(meter: Meter, spec: EndpointSpec, original: AnyFn): AnyFn {
  return function metered(this: unknown, ...args: unknown[]) {
    const params = args[0];
    if (!isObj(params)) return original.apply(this, args);
    const streamed = params.stream === true;
    const plan: CallPlan = {
      provider: spec.provider,
      endpoint: spec.endpoint,
      model: typeof params.model === 'string' ? params.model : '',
      size: () => spec.size(params, meter.estimateOptions),
    };
    if (typeof params.speed === 'string' && params.speed !== 'standard') plan.speed = params.speed;

    // The cache is looked up before budgets: an answer served from it costs nothing.
    const cache = streamed ? undefined : meter.cache;
    let cacheKey: string | undefined;
    if (cache) {
      try {
        const scope = meter.cacheScope(meter.attributionNow());
        cacheKey = requestCacheKey({ provider: spec.provider, endpoint: spec.endpoint, params, scope });
        const hit = cache.store.get(cacheKey, Date.now());
        if (hit) {
          meter.recordCacheHit(plan, hit);
          return resolvedApiPromise(hit.body, { 'x-tokenledger-cache': 'hit' });
        }
      } catch (err) {
        meter.reportError(err);
      }
    }

    let ticket: CallTicket | undefined;
    try {
      ticket = meter.beginCall(plan);
    } catch (err) {
      // Fail-closed: a budget refused the call (or cannot be checked); it is never sent.
      if (err instanceof BudgetExceededError || err instanceof BudgetStoreError)
        return rejectedApiPromise(err);
      meter.reportError(err);
    }

    let sendArgs = args;
    let injected = false;
    if (ticket && streamed && spec.prepare) {
      try {
        const prepared = spec.prepare(params);
        injected = prepared.injected;
        sendArgs = [prepared.params, ...args.slice(1)];
      } catch (err) {
        meter.reportError(err);
      }
    }

    let sent: unknown;
    try {
      sent = original.apply(this, sendArgs);
    } catch (err) {
      if (ticket) meter.failCall(ticket, err);
      throw err;
    }
    if (!ticket) return sent;
    const t = ticket;

    const onData = (data: unknown): unknown => {
      try {
        if (streamed && isObj(data)) {
          const tracker = spec.tracker(params, plan.size, injected);
          return observeStream(
            data,
            {
              onItem: (item) => tracker.onItem(item),
              hide: tracker.hide ? (item) => tracker.hide!(item) : undefined,
              onEnd: (end) => meter.finishCall(t, tracker.result(end)),
            },
            (err) => meter.reportError(err),
          );
        }
        const result = spec.resultOf(data);
        const event = meter.finishCall(t, result);
        if (cache && cacheKey && event)
          cache.store.set(
            cacheKey,
            {
              body: data,
              provider: spec.provider,
              model: event.model,
              usage: event.usage,
              costNano: event.cost.nanoUsd,
              storedAtMs: Date.now(),
            },
            Date.now() + cache.ttlMs,
          );
      } catch (err) {
        meter.reportError(err);
      }
      return data;
    };

    // Fast path: the SDKs' APIPromise keeps its parser and its response promise as plain fields.
    // Wrapping those two meters the call without a second APIPromise or extra promise chain.
    const ap = sent as { parseResponse?: unknown; responsePromise?: unknown };
    if (
      isApiPromise(sent) &&
      typeof ap.parseResponse === 'function' &&
      ap.responsePromise instanceof Promise
    ) {
      const parse = ap.parseResponse as (this: unknown, ...a: unknown[]) => Promise<unknown>;
      ap.parseResponse = async function (this: unknown, ...a: unknown[]) {
        return onData(await parse.apply(this, a));
      };
      ap.responsePromise = ap.responsePromise.then(undefined, (err: unknown) => {
        meter.failCall(t, err);
        throw err;
      });
      return sent;
    }
    if (isApiPromise(sent) && typeof sent._thenUnwrap === 'function') {
      // HTTP and connection errors surface on the response promise; observing it parses nothing.
      sent.asResponse().then(undefined, (err: unknown) => meter.failCall(t, err));
      return sent._thenUnwrap(onData);
    }
    // Not an SDK APIPromise (another client shape, a test double): observe the plain promise.
    return Promise.resolve(sent).then(onData, (err: unknown) => {
      meter.failCall(t, err);
      throw err;
    });
  };
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);

function resultFrom(usage: UsageBuckets | null, data: unknown): CallResult {
  const r: CallResult = { usage, status: 'ok' };
  if (isObj(data)) {
    const model = str(data.model);
    const id = str(data.id);
    if (model) r.model = model;
    if (id) r.responseId = id;
  }
  return r;
}

/** Text generated so far, kept only in memory and only to estimate the output of a cut stream. */
class GeneratedText {
  #parts: string[] = [];
  #length = 0;
  add(s: unknown): void {
    // 4 MB of text is far beyond any output cap; past it the estimate stays at the cap.
    if (typeof s === 'string' && s !== '' && this.#length < 4_000_000) {
      this.#parts.push(s);
      this.#length += s.length;
    }
  }
  tokens(margin: number): number {
    return this.#length === 0 ? 0 : Math.ceil(countTokens(this.#parts.join('')) * margin);
  }
}

function endStatus(end: StreamEnd): 'ok' | 'error' | 'aborted' {
  return end === 'complete' ? 'ok' : end;
}

export const ANTHROPIC_MESSAGES: EndpointSpec = {
  provider: 'anthropic',
  endpoint: 'anthropic.messages',
  size: (params, opts) => sizeAnthropicMessages(params, opts),
  resultOf: (data) => resultFrom(usageFromAnthropicMessage(data as never), data),
  tracker(_params, _size, _injected) {
    const usage = new AnthropicStreamUsage();
    const text = new GeneratedText();
    let model: string | undefined;
    let id: string | undefined;
    return {
      onItem(item) {
        if (!isObj(item)) return;
        usage.push(item as never);
        if (item.type === 'message_start' && isObj(item.message)) {
          model = str(item.message.model);
          id = str(item.message.id);
        } else if (item.type === 'content_block_delta' && isObj(item.delta)) {
          const d = item.delta;
          text.add(d.text ?? d.thinking ?? d.partial_json);
        }
      },
      result(end) {
        const u = usage.usage();
        const r: CallResult = { usage: u, status: endStatus(end) };
        if (model) r.model = model;
        if (id) r.responseId = id;
        if (u && !usage.complete) {
          // Cut before `message_stop`: the last cumulative count may predate the text received.
          const seen = text.tokens(1.35);
          if (seen > u.outputTokens) {
            u.outputTokens = seen;
            r.estimatedNote = 'stream ended early: output estimated from the text received';
          }
        }
        return r;
      },
    };
  },
};

export const OPENAI_CHAT: EndpointSpec = {
  provider: 'openai',
  endpoint: 'openai.chat.completions',
  size: (params, opts) => sizeOpenAIChat(params, opts),
  resultOf: (data) => resultFrom(usageFromOpenAIChat(data as never), data),
  prepare(params) {
    const so = isObj(params.stream_options) ? params.stream_options : undefined;
    if (so?.include_usage === true) return { params, injected: false };
    // Without it a stream reports no usage at all; the extra chunk is hidden from the caller.
    return { params: { ...params, stream_options: { ...so, include_usage: true } }, injected: true };
  },
  tracker(_params, size, injected) {
    const text = new GeneratedText();
    let usage: UsageBuckets | null = null;
    let model: string | undefined;
    let id: string | undefined;
    const isUsageChunk = (item: Rec) =>
      isObj(item.usage) && Array.isArray(item.choices) && item.choices.length === 0;
    return {
      onItem(item) {
        if (!isObj(item)) return;
        model ??= str(item.model);
        id ??= str(item.id);
        const u = usageFromOpenAIChat(item as never);
        if (u) usage = u;
        if (Array.isArray(item.choices))
          for (const c of item.choices) {
            if (!isObj(c) || !isObj(c.delta)) continue;
            text.add(c.delta.content);
            text.add(c.delta.refusal);
            if (Array.isArray(c.delta.tool_calls))
              for (const tc of c.delta.tool_calls)
                if (isObj(tc) && isObj(tc.function)) text.add(tc.function.arguments);
          }
      },
      hide: (item) => injected && isObj(item) && isUsageChunk(item),
      result(end) {
        const r: CallResult = { usage, status: endStatus(end) };
        if (model) r.model = model;
        if (id) r.responseId = id;
        if (!usage && (model || id)) r.usage = estimatedUsage(size, text, r);
        return r;
      },
    };
  },
};

export const OPENAI_RESPONSES: EndpointSpec = {
  provider: 'openai',
  endpoint: 'openai.responses',
  size: (params, opts) => sizeOpenAIResponses(params, opts),
  resultOf: (data) => resultFrom(usageFromOpenAIResponse(data as never), data),
  tracker(_params, size, _injected) {
    const text = new GeneratedText();
    let usage: UsageBuckets | null = null;
    let model: string | undefined;
    let id: string | undefined;
    return {
      onItem(item) {
        if (!isObj(item)) return;
        if (isObj(item.response)) {
          model ??= str(item.response.model);
          id ??= str(item.response.id);
        }
        const u = usageFromOpenAIResponseEvent(item as never);
        if (u) usage = u;
        if (typeof item.type === 'string' && item.type.endsWith('.delta')) text.add(item.delta);
      },
      result(end) {
        const r: CallResult = { usage, status: endStatus(end) };
        if (model) r.model = model;
        if (id) r.responseId = id;
        if (!usage && (model || id)) r.usage = estimatedUsage(size, text, r);
        return r;
      },
    };
  },
};

/**
 * An OpenAI stream cut before its usage: the request's input (tokenizer count) and the text
 * received are what was billed, as far as anyone can tell. Marked as an estimate.
 */
function estimatedUsage(size: () => RequestSize, text: GeneratedText, r: CallResult): UsageBuckets {
  let input = 0;
  try {
    input = size().inputTokens;
  } catch {
    // The request cannot be sized: the output alone is still better than nothing.
  }
  r.estimatedNote = 'stream ended before its usage: input and output estimated with a tokenizer';
  return { ...emptyUsage(), inputTokens: input, outputTokens: text.tokens(1) };
}
