import type { MessageCreateParamsNonStreaming } from '@anthropic-ai/sdk/resources/messages';
import type { LanguageModelMiddleware } from 'ai';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ResponseCreateParamsNonStreaming } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { type PriceBook, type PriceQuote, type RateCard, ratesFromPerMTok } from '../core/pricing.js';
import { createPriceBook } from '../prices/price-book.js';
import {
  ANTHROPIC_TOKENIZER_MARGIN,
  CONSERVATIVE_UNKNOWN_CARD,
  type RequestSize,
  sizeAiSdkCall,
  sizeAnthropicMessages,
  sizeOpenAIChat,
  sizeOpenAIResponses,
  worstCaseNano,
} from './estimate.js';

/** The AI SDK v6 provider call options (`LanguageModelV3CallOptions`), as a middleware gets them. */
type AiSdkCallOptions = Parameters<NonNullable<LanguageModelMiddleware['transformParams']>>[0]['params'];

// o200k counts, checked once against gpt-tokenizer 4.0.0's `countTokens` (and by hand: 'Hello',
// ',', ' world', '!' — the BPE keeps a word with its leading space).
const HELLO = 'Hello, world!';
const HELLO_TOKENS = 4;
const FOX = 'The quick brown fox jumps over the lazy dog.';
const FOX_TOKENS = 10; // 'The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.'

// Framing, as the module counts it: 3 per request, 4 per message (OpenAI's cookbook figures).
const REQUEST = 3;
const MESSAGE = 4;
const anthropicText = (o200k: number) => Math.ceil(o200k * ANTHROPIC_TOKENIZER_MARGIN);

const NOW = Date.parse('2026-01-15T00:00:00Z');
const book = createPriceBook();

/** Pico-dollars → nano-dollars, rounded up as the worst case is. */
const nanoUp = (pico: number) => Math.ceil(pico / 1000);

describe('the tokenizer', () => {
  it('is o200k: the hand-checked counts hold', () => {
    expect(countTokens(HELLO)).toBe(HELLO_TOKENS);
    expect(countTokens(FOX)).toBe(FOX_TOKENS);
  });
});

describe('sizeOpenAIChat', () => {
  it('counts a message: framing + o200k text, no margin; n multiplies the output cap', () => {
    const params: ChatCompletionCreateParamsNonStreaming = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: HELLO }],
      max_completion_tokens: 500,
      n: 2,
    };
    // 3 + 4 + 4 = 11: what OpenAI bills for this message on gpt-4o.
    expect(sizeOpenAIChat(params)).toEqual({
      inputTokens: REQUEST + MESSAGE + HELLO_TOKENS,
      maxOutputTokens: 1_000,
      outputCapKnown: true,
      cacheWrite: 'none',
    });
  });

  it('takes max_completion_tokens over max_tokens, max_tokens alone, or the default cap', () => {
    const messages: ChatCompletionCreateParamsNonStreaming['messages'] = [{ role: 'user', content: 'x' }];
    expect(
      sizeOpenAIChat({ model: 'gpt-4o', messages, max_completion_tokens: 300, max_tokens: 900 }),
    ).toMatchObject({ maxOutputTokens: 300, outputCapKnown: true });
    expect(sizeOpenAIChat({ model: 'gpt-4o', messages, max_tokens: 900 })).toMatchObject({
      maxOutputTokens: 900,
      outputCapKnown: true,
    });
    expect(sizeOpenAIChat({ model: 'gpt-4o', messages })).toMatchObject({
      maxOutputTokens: 32_000,
      outputCapKnown: false,
    });
    expect(
      sizeOpenAIChat({ model: 'gpt-4o', messages, n: 3 }, { defaultMaxOutputTokens: 1_000 }),
    ).toMatchObject({ maxOutputTokens: 3_000, outputCapKnown: false });
  });

  it('counts text, image, audio and file parts, tool calls and tools', () => {
    const tool = {
      type: 'function' as const,
      function: {
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
      },
    };
    const params: ChatCompletionCreateParamsNonStreaming = {
      model: 'gpt-4o',
      max_tokens: 10,
      tools: [tool],
      messages: [
        { role: 'system', content: FOX },
        {
          role: 'user',
          content: [
            { type: 'text', text: HELLO },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            { type: 'file', file: { file_id: 'file-abc' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: HELLO },
      ],
    };
    const text =
      FOX_TOKENS +
      HELLO_TOKENS +
      countTokens('get_weather') +
      countTokens('{"city":"Paris"}') +
      HELLO_TOKENS +
      countTokens(JSON.stringify(tool));
    const media = 3_000 + 3_000 + 5_000; // image, audio, file at their defaults
    const tools = 12 + 8; // OpenAI's hidden tool framing
    expect(sizeOpenAIChat(params).inputTokens).toBe(REQUEST + 4 * MESSAGE + text + media + tools);
    // Per-kind figures are options.
    const custom = sizeOpenAIChat(params, { imageTokens: 100, audioTokens: 10, documentTokens: 1 });
    expect(custom.inputTokens).toBe(REQUEST + 4 * MESSAGE + text + 111 + tools);
  });

  it('adds a prediction to the output: rejected predicted tokens are billed', () => {
    const size = sizeOpenAIChat({
      model: 'gpt-4o',
      max_completion_tokens: 100,
      messages: [{ role: 'user', content: 'x' }],
      prediction: { type: 'content', content: FOX },
    });
    expect(size.maxOutputTokens).toBe(100 + FOX_TOKENS);
  });

  it('never throws on special-token text or junk', () => {
    expect(
      sizeOpenAIChat({ messages: [{ role: 'user', content: 'a <|endoftext|> b' }] }).inputTokens,
    ).toBeGreaterThan(REQUEST + MESSAGE);
    for (const junk of [
      null,
      undefined,
      42,
      'text',
      [],
      { messages: 'no' },
      { messages: [null, 7, { content: 5 }] },
    ])
      expect(() => sizeOpenAIChat(junk)).not.toThrow();
    expect(sizeOpenAIChat(null)).toEqual({
      inputTokens: REQUEST,
      maxOutputTokens: 32_000,
      outputCapKnown: false,
      cacheWrite: 'none',
    });
    // A cycle in a tool schema: counted without it, not thrown.
    const schema: Record<string, unknown> = { type: 'object' };
    schema.self = schema;
    expect(() =>
      sizeOpenAIChat({ messages: [], tools: [{ type: 'function', function: { parameters: schema } }] }),
    ).not.toThrow();
  });
});

describe('sizeAnthropicMessages', () => {
  it('applies the 1.35 Claude margin to tokenizer counts (not to framing); max_tokens is the cap', () => {
    const params: MessageCreateParamsNonStreaming = {
      model: 'claude-sonnet-4-5',
      max_tokens: 1_024,
      messages: [{ role: 'user', content: HELLO }],
    };
    // 4 o200k tokens × 1.35 = 5.4 → 6.
    expect(sizeAnthropicMessages(params)).toEqual({
      inputTokens: REQUEST + MESSAGE + 6,
      maxOutputTokens: 1_024,
      outputCapKnown: true,
      cacheWrite: 'none',
    });
    expect(sizeAnthropicMessages(params, { tokenizerMargin: 1 }).inputTokens).toBe(
      REQUEST + MESSAGE + HELLO_TOKENS,
    );
    expect(sizeAnthropicMessages({ ...params, max_tokens: undefined })).toMatchObject({
      maxOutputTokens: 32_000,
      outputCapKnown: false,
    });
  });

  it('counts system blocks, tool use/results, thinking, documents, images and the tool prompt', () => {
    const tool = {
      name: 'get_weather',
      description: 'Weather in a city',
      input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } },
    };
    const params: MessageCreateParamsNonStreaming = {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: [{ type: 'text', text: FOX }],
      tools: [tool],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: HELLO },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: FOX } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: HELLO, signature: 'sig' },
            { type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: FOX }] }],
        },
      ],
    };
    const o200k =
      FOX_TOKENS + // system
      HELLO_TOKENS +
      FOX_TOKENS + // plain-text document
      HELLO_TOKENS + // thinking
      countTokens('get_weather') +
      countTokens('{"city":"Paris"}') +
      FOX_TOKENS + // tool result
      countTokens(JSON.stringify(tool));
    const fixed = REQUEST + 3 * MESSAGE + 3_000 + 5_000 + 346; // image, PDF, tool-use system prompt
    expect(sizeAnthropicMessages(params).inputTokens).toBe(fixed + anthropicText(o200k));
  });

  it('reports the longest cache_control TTL found anywhere (top level, system, tools, blocks)', () => {
    const base: MessageCreateParamsNonStreaming = {
      model: 'claude-sonnet-4-5',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x' }],
    };
    expect(sizeAnthropicMessages(base).cacheWrite).toBe('none');
    expect(sizeAnthropicMessages({ ...base, cache_control: { type: 'ephemeral' } }).cacheWrite).toBe('5m');
    const system: MessageCreateParamsNonStreaming['system'] = [
      { type: 'text', text: 'a', cache_control: { type: 'ephemeral', ttl: '5m' } },
      { type: 'text', text: 'b', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ];
    expect(sizeAnthropicMessages({ ...base, system }).cacheWrite).toBe('1h');
    const nested: MessageCreateParamsNonStreaming['messages'] = [
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 't',
            content: [{ type: 'text', text: 'r', cache_control: { type: 'ephemeral', ttl: '1h' } }],
          },
        ],
      },
    ];
    expect(sizeAnthropicMessages({ ...base, messages: nested }).cacheWrite).toBe('1h');
    const tools: MessageCreateParamsNonStreaming['tools'] = [
      { name: 't', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } },
    ];
    expect(sizeAnthropicMessages({ ...base, tools }).cacheWrite).toBe('5m');
  });

  it('counts an unknown block as its JSON, with binary payloads as media, not as text', () => {
    const blob = 'QUJD'.repeat(25_000); // 100 kB of base64
    const block = { type: 'future_audio', source: { type: 'base64', data: blob } };
    const size = sizeAnthropicMessages({ max_tokens: 1, messages: [{ role: 'user', content: [block] }] });
    const json = JSON.stringify({ ...block, source: { type: 'base64', data: '' } });
    expect(size.inputTokens).toBe(REQUEST + MESSAGE + 5_000 + anthropicText(countTokens(json)));
    // A data URL says which media it is.
    const image = { type: 'future', url: `data:image/png;base64,${blob}` };
    const sized = sizeAnthropicMessages({ max_tokens: 1, messages: [{ role: 'user', content: [image] }] });
    expect(sized.inputTokens).toBe(
      REQUEST + MESSAGE + 3_000 + anthropicText(countTokens(JSON.stringify({ ...image, url: '' }))),
    );
  });
});

describe('sizeOpenAIResponses', () => {
  it('counts instructions, input items, images and max_output_tokens; flags server-held context', () => {
    const params: ResponseCreateParamsNonStreaming = {
      model: 'gpt-5',
      instructions: FOX,
      max_output_tokens: 256,
      previous_response_id: 'resp_123',
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: HELLO },
            { type: 'input_image', image_url: 'https://example.com/a.png', detail: 'auto' },
          ],
        },
        { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":1}' },
        { type: 'function_call_output', call_id: 'c1', output: HELLO },
      ],
    };
    const size = sizeOpenAIResponses(params);
    const text = FOX_TOKENS + HELLO_TOKENS + countTokens('lookup') + countTokens('{"q":1}') + HELLO_TOKENS;
    expect(size).toEqual({
      inputTokens: REQUEST + 4 * MESSAGE + text + 3_000,
      maxOutputTokens: 256,
      outputCapKnown: true,
      cacheWrite: 'none',
      note: 'input held by the server (previous_response_id) is not counted',
    });
    expect(sizeOpenAIResponses({ model: 'gpt-5', input: HELLO })).toEqual({
      inputTokens: REQUEST + MESSAGE + HELLO_TOKENS,
      maxOutputTokens: 32_000,
      outputCapKnown: false,
      cacheWrite: 'none',
    });
  });
});

describe('sizeAiSdkCall', () => {
  const options: AiSdkCallOptions = {
    maxOutputTokens: 1_000,
    prompt: [
      { role: 'system', content: HELLO },
      {
        role: 'user',
        content: [
          { type: 'text', text: HELLO },
          { type: 'file', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
          { type: 'file', mediaType: 'text/plain', data: Buffer.from(FOX).toString('base64') },
        ],
        providerOptions: { anthropic: { cacheControl: { type: 'ephemeral', ttl: '1h' } } },
      },
      {
        role: 'assistant',
        content: [{ type: 'tool-call', toolCallId: 't1', toolName: 'lookup', input: { q: 1 } }],
      },
      {
        role: 'tool',
        content: [
          { type: 'tool-result', toolCallId: 't1', toolName: 'lookup', output: { type: 'text', value: FOX } },
        ],
      },
    ],
  };
  const o200k =
    HELLO_TOKENS +
    HELLO_TOKENS +
    FOX_TOKENS + // the text file, decoded
    countTokens('lookup') +
    countTokens('{"q":1}') +
    countTokens('lookup') +
    FOX_TOKENS;

  it('counts the prompt; the margin follows the provider (Anthropic or unknown 1.35, OpenAI 1.0)', () => {
    const fixed = REQUEST + 4 * MESSAGE + 3_000;
    expect(sizeAiSdkCall(options, { provider: 'openai.chat' })).toEqual({
      inputTokens: fixed + o200k,
      maxOutputTokens: 1_000,
      outputCapKnown: true,
      cacheWrite: '1h',
    });
    expect(sizeAiSdkCall(options, { provider: 'anthropic.messages' }).inputTokens).toBe(
      fixed + anthropicText(o200k),
    );
    expect(sizeAiSdkCall(options).inputTokens).toBe(fixed + anthropicText(o200k));
    expect(
      sizeAiSdkCall(options, { provider: 'amazon-bedrock', modelId: 'anthropic.claude-sonnet-4-5' })
        .inputTokens,
    ).toBe(fixed + anthropicText(o200k));
    expect(sizeAiSdkCall(options, { provider: 'google.generative-ai' }).inputTokens).toBe(
      fixed + Math.ceil(o200k * 1.1),
    );
    expect(sizeAiSdkCall(options, { provider: 'anthropic.messages', tokenizerMargin: 2 }).inputTokens).toBe(
      fixed + 2 * o200k,
    );
  });

  it('adds an Anthropic thinking budget to the cap, as the AI SDK does to max_tokens', () => {
    const thinking = {
      ...options,
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 2_000 } } },
    };
    expect(sizeAiSdkCall(thinking, { provider: 'anthropic.messages' }).maxOutputTokens).toBe(3_000);
    expect(sizeAiSdkCall({ prompt: [] })).toMatchObject({ maxOutputTokens: 32_000, outputCapKnown: false });
  });

  it('counts tools and a JSON response schema', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } } as const;
    const withTools: AiSdkCallOptions = {
      prompt: [],
      tools: [{ type: 'function', name: 'lookup', description: 'Find', inputSchema: schema }],
      responseFormat: { type: 'json', schema },
    };
    const o = countTokens('lookup') + countTokens('Find') + 2 * countTokens(JSON.stringify(schema));
    expect(sizeAiSdkCall(withTools, { provider: 'openai.responses' }).inputTokens).toBe(REQUEST + 12 + 8 + o);
    expect(sizeAiSdkCall(withTools, { provider: 'anthropic.messages' }).inputTokens).toBe(
      REQUEST + 346 + anthropicText(o),
    );
  });
});

describe('large prompts', () => {
  // Deterministic mixed text: words, numbers, punctuation, code and some CJK.
  function corpus(chars: number): string {
    const words = ['budget', 'token', 'ledger', 'the', 'agent', 'spend', 'of', 'model', 'cache', 'price'];
    const extras = ['const x = f(y);', '{"a": [1, 2, 3]}', '日本語の文章', '$1,234.56', '\n\n'];
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed;
    };
    const out: string[] = [];
    let n = 0;
    while (n < chars) {
      const r = next();
      const w = r % 17 === 0 ? extras[r % extras.length]! : words[r % words.length]!;
      const piece = r % 11 === 0 ? `${w}. ` : `${w} `;
      out.push(piece);
      n += piece.length;
    }
    return out.join('');
  }

  it('estimates a 100 kB prompt from samples, close to the exact count and not below it', () => {
    const text = corpus(100_000);
    const messages: ChatCompletionCreateParamsNonStreaming['messages'] = [
      { role: 'system', content: text.slice(0, 30_000) },
      { role: 'user', content: text.slice(30_000) },
    ];
    const exact = sizeOpenAIChat(
      { model: 'gpt-4o', messages },
      { exactCountChars: Number.POSITIVE_INFINITY },
    );
    expect(exact.inputTokens).toBe(
      REQUEST + 2 * MESSAGE + countTokens(text.slice(0, 30_000)) + countTokens(text.slice(30_000)),
    );
    const sampled = sizeOpenAIChat({ model: 'gpt-4o', messages }).inputTokens;
    expect(sampled).toBeGreaterThanOrEqual(exact.inputTokens);
    expect(sampled).toBeLessThanOrEqual(exact.inputTokens * 1.2);
  });

  it('prices a >200k-token Claude request at the long-context tier', () => {
    const text = corpus(900_000);
    const size = sizeAnthropicMessages({
      model: 'claude-sonnet-4-5',
      max_tokens: 1_000,
      messages: [{ role: 'user', content: text }],
    });
    expect(size.inputTokens).toBeGreaterThan(200_000);
    const wc = worstCaseNano(book, { provider: 'anthropic', model: 'claude-sonnet-4-5', nowMs: NOW }, size);
    // genai-prices: claude-sonnet-4-5 above 200k input tokens = $6 in / $22.50 out per MTok.
    expect(wc).toEqual({ nanoUsd: nanoUp(size.inputTokens * 6_000_000 + 1_000 * 22_500_000), priced: true });
  });
});

describe('worstCaseNano', () => {
  const size = (s: Partial<RequestSize>): RequestSize => ({
    inputTokens: 1_000,
    maxOutputTokens: 100,
    outputCapKnown: true,
    cacheWrite: 'none',
    ...s,
  });
  const sonnet = { provider: 'anthropic', model: 'claude-sonnet-4-5', nowMs: NOW };

  it('prices input and the full output cap at the model rates (claude-sonnet-4-5: $3 / $15)', () => {
    // 1,000 × $3/MTok + 100 × $15/MTok = $0.003 + $0.0015 = $0.0045
    expect(worstCaseNano(book, sonnet, size({}))).toEqual({ nanoUsd: 4_500_000, priced: true });
  });

  it('prices input at the cache-write rate of the TTL asked for: 1h $6, 5m $3.75', () => {
    expect(worstCaseNano(book, sonnet, size({ cacheWrite: '1h' })).nanoUsd).toBe(6_000_000 + 1_500_000);
    expect(worstCaseNano(book, sonnet, size({ cacheWrite: '5m' })).nanoUsd).toBe(3_750_000 + 1_500_000);
  });

  it('picks the tier from the input size: 200,000 is base, 200,001 is the >200k tier', () => {
    expect(worstCaseNano(book, sonnet, size({ inputTokens: 200_000 })).nanoUsd).toBe(
      nanoUp(200_000 * 3_000_000 + 100 * 15_000_000),
    );
    expect(worstCaseNano(book, sonnet, size({ inputTokens: 200_001 })).nanoUsd).toBe(
      nanoUp(200_001 * 6_000_000 + 100 * 22_500_000),
    );
  });

  it('reserves an unknown model at the conservative card, unpriced and said so, never $0', () => {
    const wc = worstCaseNano(book, { provider: 'acme', model: 'mystery-9000', nowMs: NOW }, size({}));
    // 1,000 × $15/MTok + 100 × $75/MTok = $0.015 + $0.0075
    expect(wc.nanoUsd).toBe(22_500_000);
    expect(wc.priced).toBe(false);
    expect(wc.note).toMatch(/unpriced: no price for acme\/mystery-9000/);
    expect(CONSERVATIVE_UNKNOWN_CARD.base.cacheWrite1h).toBe(30_000_000);
    const card: RateCard = { base: ratesFromPerMTok({ input: 100, output: 100 }), tiers: [] };
    const custom = worstCaseNano(book, { provider: 'acme', model: 'mystery', nowMs: NOW }, size({}), {
      unknownModelCard: card,
    });
    expect(custom.nanoUsd).toBe(110_000_000);
  });

  it('rounds up and never reserves 0 for a call that sends anything', () => {
    const free: PriceBook = {
      version: 'test',
      quote: () => ({
        matchedModel: 'free',
        provider: 'x',
        card: { base: ratesFromPerMTok({ input: 0, output: 0 }), tiers: [] },
        source: 'test',
        estimated: false,
      }),
    };
    expect(worstCaseNano(free, { provider: 'x', model: 'free', nowMs: NOW }, size({})).nanoUsd).toBe(1);
    expect(
      worstCaseNano(
        free,
        { provider: 'x', model: 'free', nowMs: NOW },
        size({ inputTokens: 0, maxOutputTokens: 0 }),
      ).nanoUsd,
    ).toBe(0);
    // 3 tokens × $0.0001/MTok = 300 pico: 0 nano rounded half up, 1 nano rounded up.
    const tiny: PriceBook = {
      version: 'test',
      quote: () => ({
        matchedModel: 'tiny',
        provider: 'x',
        card: { base: ratesFromPerMTok({ input: 0.0001, output: 0.0001 }), tiers: [] },
        source: 'test',
        estimated: false,
      }),
    };
    const wc = worstCaseNano(
      tiny,
      { provider: 'x', model: 'tiny', nowMs: NOW },
      size({ inputTokens: 3, maxOutputTokens: 0 }),
    );
    expect(wc.nanoUsd).toBe(1);
    // 1,001 × 100 pico = 100,100 pico → 101 nano.
    expect(
      worstCaseNano(
        tiny,
        { provider: 'x', model: 'tiny', nowMs: NOW },
        size({ inputTokens: 1_001, maxOutputTokens: 0 }),
      ).nanoUsd,
    ).toBe(101);
  });

  it('passes speed to the book, and carries its note, the size note and a missing cap into the note', () => {
    const asked: unknown[] = [];
    const quote: PriceQuote = {
      matchedModel: 'm',
      provider: 'p',
      card: { base: ratesFromPerMTok({ input: 1, output: 2 }), tiers: [] },
      source: 'test',
      estimated: true,
      note: 'fast mode priced at standard rates',
    };
    const spy: PriceBook = {
      version: 'test',
      quote: (req) => {
        asked.push(req);
        return quote;
      },
    };
    const wc = worstCaseNano(
      spy,
      { provider: 'p', model: 'm', nowMs: NOW, speed: 'fast' },
      size({ outputCapKnown: false, note: 'input held by the server (conversation) is not counted' }),
    );
    expect(asked).toEqual([{ model: 'm', provider: 'p', time: NOW, speed: 'fast' }]);
    expect(wc.priced).toBe(true);
    expect(wc.note).toBe(
      'fast mode priced at standard rates; no output cap in the request: reserved for 100 output tokens; ' +
        'input held by the server (conversation) is not counted',
    );
  });

  it('treats a price book that throws as an unknown model', () => {
    const broken: PriceBook = {
      version: 'x',
      quote: () => {
        throw new Error('boom');
      },
    };
    expect(worstCaseNano(broken, sonnet, size({}))).toMatchObject({ nanoUsd: 22_500_000, priced: false });
  });

  it('end to end: an OpenAI chat with n = 2 on gpt-4o ($2.50 / $10)', () => {
    const s = sizeOpenAIChat({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: HELLO }],
      max_tokens: 50,
      n: 2,
    });
    // 11 × $2.50/MTok + 100 × $10/MTok = 27,500 + 1,000,000 nano
    expect(worstCaseNano(book, { provider: 'openai', model: 'gpt-4o', nowMs: NOW }, s)).toEqual({
      nanoUsd: 1_027_500,
      priced: true,
    });
  });
});
