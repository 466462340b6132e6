import type {
  Usage as AnthropicUsage,
  Message,
  RawMessageStreamEvent,
} from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import type { Response, ResponseStreamEvent, ResponseUsage } from 'openai/resources/responses/responses';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { emptyUsage, totalTokens, type UsageBuckets } from '../core/usage.js';
import {
  type AnthropicStreamEventLike,
  AnthropicStreamUsage,
  tokenCount,
  usageFromAiSdk,
  usageFromAnthropicMessage,
  usageFromAnthropicUsage,
  usageFromOpenAIChat,
  usageFromOpenAIChatChunk,
  usageFromOpenAIResponse,
  usageFromOpenAIResponseEvent,
  usageFromOpenAIStreamEvent,
} from './usage.js';

/** Expected buckets: every field not given is 0. */
const buckets = (b: Partial<UsageBuckets>): UsageBuckets => ({ ...emptyUsage(), ...b });

// ---------------------------------------------------------------------------------------------
// Anthropic Messages
// ---------------------------------------------------------------------------------------------

/** A full SDK-typed usage, as `messages.create` returns it (cache read, 5m + 1h writes, search). */
const sonnetUsage: AnthropicUsage = {
  input_tokens: 2_100,
  cache_creation_input_tokens: 3_000,
  cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 2_000 },
  cache_read_input_tokens: 40_000,
  output_tokens: 850,
  output_tokens_details: { thinking_tokens: 600 },
  server_tool_use: { web_search_requests: 2, web_fetch_requests: 0 },
  inference_geo: null,
  service_tier: 'standard',
  speed: null,
};

describe('usageFromAnthropicMessage', () => {
  it('maps a Messages API usage with cache reads, a 5m/1h write split and web searches', () => {
    const message = { id: 'msg_01', type: 'message', role: 'assistant', usage: sonnetUsage };
    // input 2,100 is already uncached; writes 3,000 = 1,000 (5m) + 2,000 (1h); thinking ⊂ output.
    const u = usageFromAnthropicMessage(message);
    expect(u).toEqual(
      buckets({
        inputTokens: 2_100,
        cacheReadTokens: 40_000,
        cacheWrite5mTokens: 1_000,
        cacheWrite1hTokens: 2_000,
        outputTokens: 850,
        reasoningTokens: 600,
        webSearchRequests: 2,
      }),
    );
    // Billed: 2,100 + 40,000 + 3,000 + 850 = 45,950 (thinking 600 is inside the 850).
    expect(totalTokens(u!)).toBe(45_950);
    // The SDK's own types are accepted as they are (checked by tsc).
    expectTypeOf<Message>().toExtend<NonNullable<Parameters<typeof usageFromAnthropicMessage>[0]>>();
    expectTypeOf<RawMessageStreamEvent>().toExtend<AnthropicStreamEventLike>();
  });

  it('lets the cache-write total win over a split that does not add up', () => {
    // 1h claims 1,500 of a 1,000 total: 1h = min(1,500, 1,000) = 1,000, 5m = 0.
    const over = usageFromAnthropicUsage({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 1_000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 1_500 },
    });
    expect(over).toEqual(buckets({ inputTokens: 10, outputTokens: 5, cacheWrite1hTokens: 1_000 }));
    // Split 200 + 300 = 500 < total 1,000: 1h = 300, 5m = 1,000 − 300 = 700.
    const under = usageFromAnthropicUsage({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 1_000,
      cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 300 },
    });
    expect(under).toEqual(
      buckets({ inputTokens: 10, outputTokens: 5, cacheWrite5mTokens: 700, cacheWrite1hTokens: 300 }),
    );
  });

  it('takes the split sum when only the split is given, and a bare total as 5m writes', () => {
    // No total: 400 (5m) + 600 (1h) = 1,000 writes.
    expect(
      usageFromAnthropicUsage({
        input_tokens: 3,
        output_tokens: 7,
        cache_creation: { ephemeral_5m_input_tokens: 400, ephemeral_1h_input_tokens: 600 },
      }),
    ).toEqual(buckets({ inputTokens: 3, outputTokens: 7, cacheWrite5mTokens: 400, cacheWrite1hTokens: 600 }));
    // Older API: total without a split → all 5-minute writes.
    expect(
      usageFromAnthropicUsage({ input_tokens: 3, output_tokens: 7, cache_creation_input_tokens: 900 }),
    ).toEqual(buckets({ inputTokens: 3, outputTokens: 7, cacheWrite5mTokens: 900 }));
  });

  it('reads null cache fields as zero and returns null when there is no usage at all', () => {
    expect(
      usageFromAnthropicUsage({
        input_tokens: 12,
        output_tokens: 34,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        cache_creation: null,
        server_tool_use: null,
      }),
    ).toEqual(buckets({ inputTokens: 12, outputTokens: 34 }));
    expect(usageFromAnthropicMessage({ usage: null })).toBeNull();
    expect(usageFromAnthropicMessage({})).toBeNull();
    expect(usageFromAnthropicMessage({ usage: {} })).toBeNull();
    expect(usageFromAnthropicMessage(null)).toBeNull();
    expect(usageFromAnthropicMessage(undefined)).toBeNull();
    // A real zero-token usage is not "no usage".
    expect(usageFromAnthropicUsage({ input_tokens: 0, output_tokens: 0 })).toEqual(emptyUsage());
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic streaming
// ---------------------------------------------------------------------------------------------

/** The events of a real streamed call (SSE `data:` payloads, in order). */
function sseEvents(): AnthropicStreamEventLike[] {
  return [
    {
      type: 'message_start',
      message: {
        id: 'msg_stream',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-sonnet-4-5',
        stop_reason: null,
        usage: {
          input_tokens: 25,
          cache_creation_input_tokens: 1_500,
          cache_read_input_tokens: 12_000,
          cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 1_500 },
          output_tokens: 1,
          service_tier: 'standard',
        },
      } as AnthropicStreamEventLike['message'],
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ', world' } },
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        output_tokens: 310,
        input_tokens: null,
        cache_creation_input_tokens: null,
        cache_read_input_tokens: null,
        server_tool_use: { web_search_requests: 1 },
      },
    },
    { type: 'message_stop' },
  ] as AnthropicStreamEventLike[];
}

describe('AnthropicStreamUsage', () => {
  it('folds a full SSE sequence: input and cache from message_start, output from message_delta', () => {
    const s = new AnthropicStreamUsage();
    for (const e of sseEvents()) s.push(e);
    // input 25, reads 12,000, writes 1,500 all 1h; output 310 (cumulative, replaces the initial 1).
    const u = s.usage();
    expect(u).toEqual(
      buckets({
        inputTokens: 25,
        cacheReadTokens: 12_000,
        cacheWrite1hTokens: 1_500,
        outputTokens: 310,
        webSearchRequests: 1,
      }),
    );
    expect(totalTokens(u!)).toBe(13_835); // 25 + 12,000 + 1,500 + 310
    expect(s.complete).toBe(true);
  });

  it('still yields what was billed when the stream is aborted before message_delta', () => {
    const events = sseEvents().slice(0, 4); // message_start … first text delta, then the connection drops
    const s = events.reduce((acc, e) => acc.push(e), new AnthropicStreamUsage());
    // The whole input side was billed; output so far is message_start's initial 1.
    expect(s.usage()).toEqual(
      buckets({ inputTokens: 25, cacheReadTokens: 12_000, cacheWrite1hTokens: 1_500, outputTokens: 1 }),
    );
    expect(s.complete).toBe(false);
  });

  it('treats message_delta output_tokens as cumulative: later values replace, never add', () => {
    const s = new AnthropicStreamUsage();
    s.push(sseEvents()[0]);
    s.push({ type: 'message_delta', usage: { output_tokens: 40 } });
    s.push({ type: 'message_delta', usage: { output_tokens: 95 } });
    // 95, not 1 + 40 + 95 = 136.
    expect(s.usage()?.outputTokens).toBe(95);
  });

  it('takes input/cache fields from message_delta when a newer API sends them, never shrinking', () => {
    const s = new AnthropicStreamUsage();
    s.push({ type: 'message_start', message: { usage: { input_tokens: 10, output_tokens: 2 } } });
    s.push({
      type: 'message_delta',
      usage: {
        input_tokens: 10,
        cache_read_input_tokens: 5_000,
        cache_creation_input_tokens: 0,
        output_tokens: 200,
      },
    });
    expect(s.usage()).toEqual(buckets({ inputTokens: 10, cacheReadTokens: 5_000, outputTokens: 200 }));
    // A compatible server zeroing input on a later delta does not erase what was billed.
    s.push({
      type: 'message_delta',
      usage: { input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 220 },
    });
    expect(s.usage()).toEqual(buckets({ inputTokens: 10, cacheReadTokens: 5_000, outputTokens: 220 }));
  });

  it('returns null until an event carries usage', () => {
    const s = new AnthropicStreamUsage();
    expect(s.usage()).toBeNull();
    s.push({ type: 'ping' });
    s.push(null);
    s.push({ type: 'error' });
    expect(s.usage()).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions
// ---------------------------------------------------------------------------------------------

const chatUsage: CompletionUsage = {
  prompt_tokens: 1_200,
  completion_tokens: 300,
  total_tokens: 1_500,
  prompt_tokens_details: { cached_tokens: 1_000, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 256, audio_tokens: 0 },
};

describe('usageFromOpenAIChat', () => {
  it('splits cached tokens out of prompt_tokens and keeps reasoning inside output', () => {
    const completion = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: chatUsage,
    };
    // prompt 1,200 with 1,000 cached → input 200, cacheRead 1,000; output 300 of which 256 reasoning.
    const u = usageFromOpenAIChat(completion);
    expect(u).toEqual(
      buckets({ inputTokens: 200, cacheReadTokens: 1_000, outputTokens: 300, reasoningTokens: 256 }),
    );
    // Not double counted: 200 + 1,000 + 300 = 1,500 = total_tokens.
    expect(totalTokens(u!)).toBe(chatUsage.total_tokens);
    expectTypeOf<ChatCompletion>().toExtend<NonNullable<Parameters<typeof usageFromOpenAIChat>[0]>>();
    expectTypeOf<ChatCompletionChunk>().toExtend<
      NonNullable<Parameters<typeof usageFromOpenAIChatChunk>[0]>
    >();
  });

  it('reads a usage without details as all uncached input', () => {
    const u = usageFromOpenAIChat({ usage: { prompt_tokens: 57, completion_tokens: 17, total_tokens: 74 } });
    expect(u).toEqual(buckets({ inputTokens: 57, outputTokens: 17 }));
    expect(usageFromOpenAIChat({ usage: null })).toBeNull();
    expect(usageFromOpenAIChat({})).toBeNull();
  });

  const chunk = (content: string, usage?: CompletionUsage | null) => ({
    id: 'chatcmpl-2',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
    ...(usage === undefined ? {} : { usage }),
  });

  it('finds usage on the include_usage final chunk (empty choices) and nowhere else', () => {
    const final = {
      id: 'chatcmpl-2',
      object: 'chat.completion.chunk',
      choices: [],
      usage: {
        prompt_tokens: 2_048,
        completion_tokens: 64,
        total_tokens: 2_112,
        prompt_tokens_details: { cached_tokens: 1_920 },
      },
    };
    // include_usage: every chunk has usage null until the last.
    const stream = [chunk('Hel', null), chunk('lo', null), final];
    const found = stream.map(usageFromOpenAIChatChunk);
    expect(found.slice(0, 2)).toEqual([null, null]);
    // 2,048 − 1,920 cached = 128 uncached.
    expect(found[2]).toEqual(buckets({ inputTokens: 128, cacheReadTokens: 1_920, outputTokens: 64 }));
    expect(totalTokens(found[2]!)).toBe(2_112);
  });

  it('finds no usage in a stream that did not ask include_usage', () => {
    const stream = [chunk('Hel'), chunk('lo'), { ...chunk(''), choices: [] }];
    expect(stream.map(usageFromOpenAIChatChunk)).toEqual([null, null, null]);
  });
});

// ---------------------------------------------------------------------------------------------
// OpenAI Responses
// ---------------------------------------------------------------------------------------------

const responseUsage: ResponseUsage = {
  input_tokens: 5_000,
  input_tokens_details: { cached_tokens: 4_096, cache_write_tokens: 0 },
  output_tokens: 1_800,
  output_tokens_details: { reasoning_tokens: 1_024 },
  total_tokens: 6_800,
};

describe('usageFromOpenAIResponse', () => {
  it('maps a completed response: cached out of input, reasoning inside output', () => {
    const response = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      output: [],
      usage: responseUsage,
    };
    // input 5,000 − 4,096 cached = 904; output 1,800 of which 1,024 reasoning.
    const u = usageFromOpenAIResponse(response);
    expect(u).toEqual(
      buckets({ inputTokens: 904, cacheReadTokens: 4_096, outputTokens: 1_800, reasoningTokens: 1_024 }),
    );
    expect(totalTokens(u!)).toBe(responseUsage.total_tokens); // 904 + 4,096 + 1,800 = 6,800
    expect(usageFromOpenAIResponse({ usage: null })).toBeNull();
    expectTypeOf<Response>().toExtend<NonNullable<Parameters<typeof usageFromOpenAIResponse>[0]>>();
    expectTypeOf<ResponseStreamEvent>().toExtend<
      NonNullable<Parameters<typeof usageFromOpenAIResponseEvent>[0]>
    >();
  });

  const event = (type: string, usage: ResponseUsage | null, status = 'in_progress') => ({
    type,
    sequence_number: 1,
    response: { id: 'resp_2', object: 'response', status, usage },
  });

  it('reads usage from response.completed and response.incomplete, not from earlier events', () => {
    const incompleteUsage: ResponseUsage = {
      input_tokens: 300,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 512,
      output_tokens_details: { reasoning_tokens: 512 },
      total_tokens: 812,
    };
    const stream = [
      event('response.created', null),
      event('response.in_progress', null),
      { type: 'response.output_text.delta', sequence_number: 3, delta: 'Hi' },
      event('response.incomplete', incompleteUsage, 'incomplete'),
    ];
    const found = stream.map(usageFromOpenAIResponseEvent);
    expect(found.slice(0, 3)).toEqual([null, null, null]);
    // max_output_tokens hit while reasoning: all 512 output tokens were reasoning, and billed.
    expect(found[3]).toEqual(buckets({ inputTokens: 300, outputTokens: 512, reasoningTokens: 512 }));
    expect(usageFromOpenAIResponseEvent(event('response.completed', responseUsage, 'completed'))).toEqual(
      buckets({ inputTokens: 904, cacheReadTokens: 4_096, outputTokens: 1_800, reasoningTokens: 1_024 }),
    );
    // A terminal event counts only for what it says: an in-progress snapshot with usage is ignored.
    expect(usageFromOpenAIResponseEvent(event('response.in_progress', responseUsage))).toBeNull();
  });

  it('reads usage from response.failed, and dispatches both APIs in usageFromOpenAIStreamEvent', () => {
    const failed = event(
      'response.failed',
      { ...responseUsage, output_tokens: 10, total_tokens: 5_010 },
      'failed',
    );
    expect(usageFromOpenAIStreamEvent(failed)).toEqual(
      buckets({ inputTokens: 904, cacheReadTokens: 4_096, outputTokens: 10, reasoningTokens: 10 }),
    );
    expect(usageFromOpenAIStreamEvent({ usage: chatUsage })).toEqual(
      buckets({ inputTokens: 200, cacheReadTokens: 1_000, outputTokens: 300, reasoningTokens: 256 }),
    );
    expect(usageFromOpenAIStreamEvent(event('response.created', null))).toBeNull();
    expect(usageFromOpenAIStreamEvent(null)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Vercel AI SDK
// ---------------------------------------------------------------------------------------------

describe('usageFromAiSdk', () => {
  it('maps the v5 LanguageModelV2Usage of an OpenAI model (input includes cached)', () => {
    const u = usageFromAiSdk({
      inputTokens: 1_200,
      outputTokens: 300,
      totalTokens: 1_500,
      reasoningTokens: 256,
      cachedInputTokens: 1_000,
    });
    // 1,200 − 1,000 = 200 uncached; reasoning 256 stays inside output 300.
    expect(u).toEqual(
      buckets({ inputTokens: 200, cacheReadTokens: 1_000, outputTokens: 300, reasoningTokens: 256 }),
    );
    expect(totalTokens(u!)).toBe(1_500);
  });

  it('reads the v5 Anthropic provider input as exclusive and takes cache writes from metadata', () => {
    const usage = { inputTokens: 25, outputTokens: 310, totalTokens: 335, cachedInputTokens: 800 };
    const u = usageFromAiSdk(usage, {
      provider: 'anthropic.messages',
      providerMetadata: { anthropic: { cacheCreationInputTokens: 1_500 } },
    });
    // input 25 uncached as is; reads 800; writes 1,500 (no TTL split in the AI SDK → 5m).
    expect(u).toEqual(
      buckets({ inputTokens: 25, cacheReadTokens: 800, cacheWrite5mTokens: 1_500, outputTokens: 310 }),
    );
    // Without the hint, cached 800 > input 25 still reveals an exclusive input (the OTLP rule).
    expect(usageFromAiSdk(usage)).toEqual(
      buckets({ inputTokens: 25, cacheReadTokens: 800, outputTokens: 310 }),
    );
  });

  it('adds v5 reasoning reported beside output (total = input + output + reasoning)', () => {
    // Google in v5: candidates 50 without thoughts 200; total 350 = 100 + 50 + 200.
    const u = usageFromAiSdk({ inputTokens: 100, outputTokens: 50, reasoningTokens: 200, totalTokens: 350 });
    expect(u).toEqual(buckets({ inputTokens: 100, outputTokens: 250, reasoningTokens: 200 }));
    expect(totalTokens(u!)).toBe(350);
  });

  it('maps the v6 LanguageModelV3Usage nested shape', () => {
    const u = usageFromAiSdk({
      inputTokens: { total: 13_525, noCache: 25, cacheRead: 12_000, cacheWrite: 1_500 },
      outputTokens: { total: 310, text: 110, reasoning: 200 },
      raw: { input_tokens: 25 },
    } as Parameters<typeof usageFromAiSdk>[0]);
    expect(u).toEqual(
      buckets({
        inputTokens: 25,
        cacheReadTokens: 12_000,
        cacheWrite5mTokens: 1_500,
        outputTokens: 310,
        reasoningTokens: 200,
      }),
    );
    expect(totalTokens(u!)).toBe(13_835); // 13,525 + 310
    // No noCache: 13,525 − 12,000 − 1,500 = 25; no output total: text 110 + reasoning 200 = 310.
    expect(
      usageFromAiSdk({
        inputTokens: { total: 13_525, noCache: undefined, cacheRead: 12_000, cacheWrite: 1_500 },
        outputTokens: { total: undefined, text: 110, reasoning: 200 },
      }),
    ).toEqual(u);
  });

  it('maps the v6 ai LanguageModelUsage (flat totals with detail objects)', () => {
    const u = usageFromAiSdk({
      inputTokens: 1_200,
      inputTokenDetails: { noCacheTokens: 200, cacheReadTokens: 1_000, cacheWriteTokens: undefined },
      outputTokens: 300,
      outputTokenDetails: { textTokens: 44, reasoningTokens: 256 },
      totalTokens: 1_500,
    });
    expect(u).toEqual(
      buckets({ inputTokens: 200, cacheReadTokens: 1_000, outputTokens: 300, reasoningTokens: 256 }),
    );
    expect(totalTokens(u!)).toBe(1_500);
  });

  it('returns null when the provider reported nothing, and keeps a bare total as unsplit', () => {
    expect(
      usageFromAiSdk({ inputTokens: undefined, outputTokens: undefined, totalTokens: undefined }),
    ).toBeNull();
    expect(
      usageFromAiSdk({
        inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: undefined, text: undefined, reasoning: undefined },
      }),
    ).toBeNull();
    expect(usageFromAiSdk(undefined)).toBeNull();
    expect(usageFromAiSdk({ inputTokens: undefined, outputTokens: undefined, totalTokens: 900 })).toEqual(
      buckets({ unsplitTokens: 900 }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Bad numbers
// ---------------------------------------------------------------------------------------------

describe('bad-number guards', () => {
  it('tokenCount: absent for non-numbers, 0 for negatives, rounds fractions, caps at MAX_SAFE_INTEGER', () => {
    expect(tokenCount(undefined)).toBeUndefined();
    expect(tokenCount(null)).toBeUndefined();
    expect(tokenCount(Number.NaN)).toBeUndefined();
    expect(tokenCount(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(tokenCount('12')).toBeUndefined();
    expect(tokenCount(-5)).toBe(0);
    expect(tokenCount(12.4)).toBe(12);
    expect(tokenCount(12.6)).toBe(13);
    expect(tokenCount(2 ** 60)).toBe(Number.MAX_SAFE_INTEGER);
    expect(tokenCount(7)).toBe(7);
  });

  it('cached > prompt: the prompt is taken as exclusive instead of going negative', () => {
    // prompt 200 cannot include 1,000 cached: input 200 uncached + 1,000 reads (not −800).
    expect(
      usageFromOpenAIChat({
        usage: { prompt_tokens: 200, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1_000 } },
      }),
    ).toEqual(buckets({ inputTokens: 200, cacheReadTokens: 1_000, outputTokens: 5 }));
    expect(
      usageFromOpenAIResponse({
        usage: { input_tokens: 10, output_tokens: 1, input_tokens_details: { cached_tokens: 64 } },
      }),
    ).toEqual(buckets({ inputTokens: 10, cacheReadTokens: 64, outputTokens: 1 }));
  });

  it('reasoning > output: clamped to output, so the display subset never exceeds its whole', () => {
    const u = usageFromOpenAIChat({
      usage: {
        prompt_tokens: 10,
        completion_tokens: 100,
        completion_tokens_details: { reasoning_tokens: 150 },
      },
    });
    expect(u).toEqual(buckets({ inputTokens: 10, outputTokens: 100, reasoningTokens: 100 }));
    expect(totalTokens(u!)).toBe(110);
  });

  it('negative, NaN and fractional counts are clamped field by field; all-garbage is no usage', () => {
    expect(
      usageFromAnthropicUsage({
        input_tokens: -3,
        output_tokens: Number.NaN,
        cache_read_input_tokens: 99.6,
        cache_creation_input_tokens: -1,
      }),
    ).toEqual(buckets({ inputTokens: 0, cacheReadTokens: 100 }));
    expect(
      usageFromAnthropicUsage({ input_tokens: Number.NaN, output_tokens: Number.POSITIVE_INFINITY }),
    ).toBeNull();
    expect(
      usageFromOpenAIChat({
        usage: { prompt_tokens: Number.NaN, completion_tokens: Number.NaN, total_tokens: null },
      }),
    ).toBeNull();
    // A negative cached count is 0: all of the prompt is uncached.
    expect(
      usageFromOpenAIChat({
        usage: { prompt_tokens: 50, completion_tokens: 2, prompt_tokens_details: { cached_tokens: -7 } },
      }),
    ).toEqual(buckets({ inputTokens: 50, outputTokens: 2 }));
    // A negative cumulative delta (→ 0) does not erase output already billed.
    const s = new AnthropicStreamUsage().push({
      type: 'message_start',
      message: { usage: { input_tokens: 4, output_tokens: 1 } },
    });
    s.push({ type: 'message_delta', usage: { output_tokens: -20 } });
    expect(s.usage()).toEqual(buckets({ inputTokens: 4, outputTokens: 1 }));
    s.push({ type: 'message_delta', usage: { output_tokens: 9.7 } });
    expect(s.usage()?.outputTokens).toBe(10);
  });
});
