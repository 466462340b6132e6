import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { isObj, type Rec, str } from '../core/json.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import {
  ANTHROPIC_TOKENIZER_MARGIN,
  type EstimateOptions,
  type RequestSize,
  sizeAnthropicMessages,
  sizeOpenAIChat,
  sizeOpenAIResponses,
} from './estimate.js';
import type { CallResult } from './meter.js';
import type { StreamEnd } from './stream-observer.js';
import {
  AnthropicStreamUsage,
  usageFromAnthropicMessage,
  usageFromOpenAIChat,
  usageFromOpenAIResponse,
  usageFromOpenAIResponseEvent,
} from './usage.js';

/**
 * The provider endpoints the meter knows: how a request is sized for its worst case, how a
 * response and a stream are read for usage. Shared by the SDK wrappers (`wrap.ts`) and the gateway.
 */

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

/** A call's result with the answering model and the response id, each when known. */
function callResult(
  usage: UsageBuckets | null,
  status: CallResult['status'],
  model: string | undefined,
  id: string | undefined,
): CallResult {
  const r: CallResult = { usage, status };
  if (model) r.model = model;
  if (id) r.responseId = id;
  return r;
}

function resultFrom(usage: UsageBuckets | null, data: unknown): CallResult {
  const d = isObj(data) ? data : {};
  return callResult(usage, 'ok', str(d.model), str(d.id));
}

/** Text generated so far, kept only in memory and only to estimate the output of a cut stream. */
export class GeneratedText {
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

/** What a stream has told so far: its usage, the answering model, the response id, the text. */
class StreamSeen {
  readonly text = new GeneratedText();
  usage: UsageBuckets | null = null;
  model: string | undefined;
  id: string | undefined;

  result(end: StreamEnd): CallResult {
    return callResult(this.usage, end === 'complete' ? 'ok' : end, this.model, this.id);
  }

  /**
   * An OpenAI stream cut before its usage: the request's input (tokenizer count) and the text
   * received are what was billed, as far as anyone can tell. Marked as an estimate.
   */
  openAIResult(end: StreamEnd, size: () => RequestSize): CallResult {
    const r = this.result(end);
    if (this.usage || !(this.model || this.id)) return r;
    let input = 0;
    try {
      input = size().inputTokens;
    } catch {
      // The request cannot be sized: the output alone is still better than nothing.
    }
    r.estimatedNote = 'stream ended before its usage: input and output estimated with a tokenizer';
    r.usage = { ...emptyUsage(), inputTokens: input, outputTokens: this.text.tokens(1) };
    return r;
  }
}

export const ANTHROPIC_MESSAGES: EndpointSpec = {
  provider: 'anthropic',
  endpoint: 'anthropic.messages',
  size: (params, opts) => sizeAnthropicMessages(params, opts),
  resultOf: (data) => resultFrom(usageFromAnthropicMessage(data as never), data),
  tracker(_params, _size, _injected) {
    const usage = new AnthropicStreamUsage();
    const seen = new StreamSeen();
    return {
      onItem(item) {
        if (!isObj(item)) return;
        usage.push(item as never);
        if (item.type === 'message_start' && isObj(item.message)) {
          seen.model = str(item.message.model);
          seen.id = str(item.message.id);
        } else if (item.type === 'content_block_delta' && isObj(item.delta)) {
          const d = item.delta;
          seen.text.add(d.text ?? d.thinking ?? d.partial_json);
        }
      },
      result(end) {
        seen.usage = usage.usage();
        const r = seen.result(end);
        const u = seen.usage;
        if (u && !usage.complete) {
          // Cut before `message_stop`: the last cumulative count may predate the text received.
          const received = seen.text.tokens(ANTHROPIC_TOKENIZER_MARGIN);
          if (received > u.outputTokens) {
            u.outputTokens = received;
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
    const seen = new StreamSeen();
    const isUsageChunk = (item: Rec) =>
      isObj(item.usage) && Array.isArray(item.choices) && item.choices.length === 0;
    return {
      onItem(item) {
        if (!isObj(item)) return;
        seen.model ??= str(item.model);
        seen.id ??= str(item.id);
        const u = usageFromOpenAIChat(item as never);
        if (u) seen.usage = u;
        if (Array.isArray(item.choices))
          for (const c of item.choices) {
            if (!isObj(c) || !isObj(c.delta)) continue;
            seen.text.add(c.delta.content);
            seen.text.add(c.delta.refusal);
            if (Array.isArray(c.delta.tool_calls))
              for (const tc of c.delta.tool_calls)
                if (isObj(tc) && isObj(tc.function)) seen.text.add(tc.function.arguments);
          }
      },
      hide: (item) => injected && isObj(item) && isUsageChunk(item),
      result: (end) => seen.openAIResult(end, size),
    };
  },
};

export const OPENAI_RESPONSES: EndpointSpec = {
  provider: 'openai',
  endpoint: 'openai.responses',
  size: (params, opts) => sizeOpenAIResponses(params, opts),
  resultOf: (data) => resultFrom(usageFromOpenAIResponse(data as never), data),
  tracker(_params, size, _injected) {
    const seen = new StreamSeen();
    return {
      onItem(item) {
        if (!isObj(item)) return;
        if (isObj(item.response)) {
          seen.model ??= str(item.response.model);
          seen.id ??= str(item.response.id);
        }
        const u = usageFromOpenAIResponseEvent(item as never);
        if (u) seen.usage = u;
        if (typeof item.type === 'string' && item.type.endsWith('.delta')) seen.text.add(item.delta);
      },
      result: (end) => seen.openAIResult(end, size),
    };
  },
};
