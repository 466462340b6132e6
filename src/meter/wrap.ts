import { BudgetExceededError, BudgetStoreError } from '../core/budget.js';
import { isObj, type Rec } from '../core/json.js';
import { isApiPromise, rejectedApiPromise, resolvedApiPromise } from './api-promise.js';
import { requestCacheKey } from './cache.js';
import { ANTHROPIC_MESSAGES, type EndpointSpec, OPENAI_CHAT, OPENAI_RESPONSES } from './endpoints.js';
import type { CallPlan, CallTicket, Meter } from './meter.js';
import { observeStream } from './stream-observer.js';

/**
 * SDK wrappers: `meter.wrap(client)` instruments an `@anthropic-ai/sdk` or `openai` client IN PLACE
 * (its `create` methods) and returns it, so the type, every option and every helper built on
 * `create` stay the SDK's own: `.withResponse()`, `.asResponse()`, `messages.stream()`,
 * `messages.parse()`, `chat.completions.stream()`/`.parse()`, `responses.stream()`/`.parse()`.
 * Patching the resource objects (not a Proxy around the client) matters: the streaming helpers
 * call `client.chat.completions.create` on the client they were built from, which a Proxy would
 * not see.
 */

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

const WRAPPED = Symbol.for('tokenledger.wrapped');

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
