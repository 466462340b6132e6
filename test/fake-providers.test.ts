import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';

const SECRET = 'sk-test-secret-do-not-record';
let fake: FakeProviders;
let anthropic: Anthropic;
let openai: OpenAI;

beforeAll(async () => {
  fake = await startFakeProviders();
  anthropic = new Anthropic({ apiKey: SECRET, baseURL: fake.anthropicBaseURL, maxRetries: 0 });
  openai = new OpenAI({ apiKey: SECRET, baseURL: fake.openaiBaseURL, maxRetries: 0 });
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const MODEL = 'claude-sonnet-4-6';
const ask = { model: MODEL, max_tokens: 256, messages: [{ role: 'user' as const, content: 'hi' }] };

describe('fake Anthropic /v1/messages', () => {
  it('non-streaming create returns the scripted usage, model and text', async () => {
    fake.setNext(
      {
        text: 'Four words of text.',
        usage: {
          inputTokens: 12,
          cacheReadTokens: 3400,
          cacheWrite5mTokens: 500,
          cacheWrite1hTokens: 1500,
          outputTokens: 77,
        },
      },
      '/v1/messages',
    );
    const msg = await anthropic.messages.create(ask);
    expect(msg.model).toBe(MODEL);
    expect(msg.role).toBe('assistant');
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.content).toEqual([{ type: 'text', text: 'Four words of text.' }]);
    expect(msg.usage).toMatchObject({
      input_tokens: 12,
      output_tokens: 77,
      cache_read_input_tokens: 3400,
      cache_creation_input_tokens: 2000,
      cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1500 },
      service_tier: 'standard',
    });
  });

  it('defaults: 25 input, 1,000 read, 200 5m + 300 1h writes, 40 output', async () => {
    const msg = await anthropic.messages.create({ ...ask, model: 'claude-haiku-4-5' });
    expect(msg.model).toBe('claude-haiku-4-5');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake provider.' });
    expect(msg.usage.input_tokens).toBe(25);
    expect(msg.usage.cache_read_input_tokens).toBe(1000);
    expect(msg.usage.cache_creation_input_tokens).toBe(500);
    expect(msg.usage.cache_creation).toEqual({
      ephemeral_5m_input_tokens: 200,
      ephemeral_1h_input_tokens: 300,
    });
    expect(msg.usage.output_tokens).toBe(40);
  });

  it('stream: true yields the real event sequence with usage in message_start and message_delta', async () => {
    fake.setNext({
      text: 'one two three',
      usage: { inputTokens: 9, cacheReadTokens: 100, outputTokens: 31 },
    });
    const stream = await anthropic.messages.create({ ...ask, stream: true });
    const types: string[] = [];
    let text = '';
    let startUsage: Anthropic.Usage | undefined;
    let deltaOutput: number | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'message_start') startUsage = ev.message.usage;
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') deltaOutput = ev.usage.output_tokens;
    }
    // `ping` is consumed by the SDK; it is on the wire (checked in the raw test below).
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toBe('one two three');
    expect(startUsage).toMatchObject({
      input_tokens: 9,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 500,
      output_tokens: 1,
    });
    expect(deltaOutput).toBe(31);
  });

  it('the raw SSE wire format has event/data lines and a ping', async () => {
    const res = await fetch(`${fake.anthropicBaseURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': SECRET },
      body: JSON.stringify({ ...ask, stream: true }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const raw = await res.text();
    const blocks = raw.split('\n\n').filter((b) => b.length > 0);
    expect(blocks.every((b) => /^event: [a-z_]+\ndata: \{.*\}$/.test(b))).toBe(true);
    expect(blocks.map((b) => b.split('\n')[0])).toEqual([
      'event: message_start',
      'event: content_block_start',
      'event: ping',
      'event: content_block_delta',
      'event: content_block_delta',
      'event: content_block_delta',
      'event: content_block_delta',
      'event: content_block_delta',
      'event: content_block_stop',
      'event: message_delta',
      'event: message_stop',
    ]);
    expect(JSON.parse(blocks[9]!.split('data: ')[1]!)).toMatchObject({
      delta: { stop_reason: 'end_turn' },
      usage: { output_tokens: 40 },
    });
  });

  it('messages.stream() finalMessage() has the full usage including the 1h split', async () => {
    fake.setNext({
      text: 'streamed answer',
      usage: {
        inputTokens: 4,
        cacheReadTokens: 20_000,
        cacheWrite5mTokens: 0,
        cacheWrite1hTokens: 6000,
        outputTokens: 123,
      },
    });
    const final = await anthropic.messages.stream(ask).finalMessage();
    expect(final.model).toBe(MODEL);
    expect(final.content).toMatchObject([{ type: 'text', text: 'streamed answer' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage).toMatchObject({
      input_tokens: 4,
      cache_read_input_tokens: 20_000,
      cache_creation_input_tokens: 6000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 6000 },
      output_tokens: 123,
    });
  });

  it('.withResponse() gives the raw Response and the request id', async () => {
    const { data, response, request_id } = await anthropic.messages.create(ask).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(request_id).toMatch(/^req_fake\d{24}$/);
    expect(response.headers.get('request-id')).toBe(request_id);
    expect(data.usage.output_tokens).toBe(40);
  });

  it('count_tokens answers the whole prompt size', async () => {
    const n = await anthropic.messages.countTokens({ model: MODEL, messages: ask.messages });
    expect(n).toEqual({ input_tokens: 1525 });
    fake.setNext({
      usage: { inputTokens: 7, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 },
    });
    expect(
      (await anthropic.messages.countTokens({ model: MODEL, messages: ask.messages })).input_tokens,
    ).toBe(7);
    expect(fake.count('/v1/messages/count_tokens')).toBe(2);
  });

  it('an error status surfaces as the SDK error class with the provider error body', async () => {
    fake.setNext({ status: 429, error: { message: 'slow down' } }, '/v1/messages');
    const err = await anthropic.messages.create(ask).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const apiErr = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(apiErr.status).toBe(429);
    expect(apiErr.error).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
    });
    expect(apiErr.requestID).toMatch(/^req_fake/);

    fake.setNext({ status: 529 });
    const overloaded = await anthropic.messages.create(ask).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.InternalServerError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
  });

  it('a stream cut mid-way raises in the client after the events before the cut', async () => {
    fake.setNext({ text: 'a b c d e', cutAfterEvents: 4 });
    const stream = await anthropic.messages.create({ ...ask, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of stream) seen.push(ev.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // message_start, content_block_start, ping (hidden by the SDK), one delta
    expect(seen).toEqual(['message_start', 'content_block_start', 'content_block_delta']);

    fake.setNext({ cutAfterEvents: 2 });
    await expect(anthropic.messages.stream(ask).finalMessage()).rejects.toThrow();
  });

  it('an in-stream error event surfaces as an APIError', async () => {
    fake.setNext({ errorAfterEvents: 3, error: { message: 'Overloaded' } });
    const stream = await anthropic.messages.create({ ...ask, stream: true });
    const err = await (async () => {
      for await (const _ of stream) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
  });
});

describe('fake OpenAI /v1/chat/completions', () => {
  const chat = { model: 'gpt-4.1-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('non-streaming: prompt_tokens include cached, reasoning is part of completion', async () => {
    fake.setNext({
      text: 'chat answer',
      usage: { inputTokens: 50, cacheReadTokens: 1024, outputTokens: 300, reasoningTokens: 256 },
    });
    const res = await openai.chat.completions.create(chat);
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('gpt-4.1-mini');
    expect(res.choices[0]?.message.content).toBe('chat answer');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({
      prompt_tokens: 1074,
      completion_tokens: 300,
      total_tokens: 1374,
      prompt_tokens_details: { cached_tokens: 1024 },
      completion_tokens_details: { reasoning_tokens: 256 },
    });
  });

  it('streaming without include_usage sends no usage; with it, a final chunk with empty choices', async () => {
    const plain = await openai.chat.completions.create({ ...chat, stream: true });
    let text = '';
    let chunks = 0;
    let usageSeen = false;
    for await (const c of plain) {
      chunks++;
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usageSeen = true;
    }
    expect(text).toBe('Hello from the fake provider.');
    expect(chunks).toBe(7); // role chunk, 5 words, finish chunk
    expect(usageSeen).toBe(false);

    fake.setNext({ usage: { inputTokens: 10, cacheReadTokens: 90, outputTokens: 15, reasoningTokens: 5 } });
    const withUsage = await openai.chat.completions.create({
      ...chat,
      stream: true,
      stream_options: { include_usage: true },
    });
    const all: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of withUsage) all.push(c);
    const last = all.at(-1)!;
    expect(all).toHaveLength(8);
    expect(last.choices).toEqual([]);
    expect(last.model).toBe('gpt-4.1-mini');
    expect(last.usage).toMatchObject({
      prompt_tokens: 100,
      completion_tokens: 15,
      total_tokens: 115,
      prompt_tokens_details: { cached_tokens: 90 },
      completion_tokens_details: { reasoning_tokens: 5 },
    });
    expect(all.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(all.at(-2)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('the raw wire format ends with data: [DONE]', async () => {
    const res = await fetch(`${fake.openaiBaseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...chat, stream: true, stream_options: { include_usage: true } }),
    });
    const raw = await res.text();
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(
      raw
        .split('\n\n')
        .filter(Boolean)
        .every((b) => b.startsWith('data: ')),
    ).toBe(true);
    expect(raw).not.toContain('event:');
  });

  it('.withResponse() gives the raw Response and x-request-id', async () => {
    const { data, response, request_id } = await openai.chat.completions.create(chat).withResponse();
    expect(response.status).toBe(200);
    expect(request_id).toBe(response.headers.get('x-request-id'));
    expect(request_id).toMatch(/^req_fake/);
    expect(data.usage?.prompt_tokens).toBe(1000);
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(900);
  });

  it('error statuses surface as the SDK error classes with the OpenAI error shape', async () => {
    fake.setNext({ status: 429 }, '/v1/chat/completions');
    const err = await openai.chat.completions.create(chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.type).toBe('requests');

    fake.setNext({ status: 400, error: { message: 'bad param', code: 'invalid_value' } });
    const bad = await openai.chat.completions.create(chat).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.APIError>).message).toContain('bad param');
  });

  it('a cut stream raises in the client', async () => {
    fake.setNext({ cutAfterEvents: 3 });
    const stream = await openai.chat.completions.create({ ...chat, stream: true });
    let n = 0;
    const err = await (async () => {
      for await (const _ of stream) n++;
    })().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(Error);
    expect(n).toBe(3);
  });
});

describe('fake OpenAI /v1/responses', () => {
  const req = { model: 'gpt-5-mini', input: 'hi' };

  it('non-streaming: usage with cached and reasoning details', async () => {
    fake.setNext({
      text: 'response text',
      usage: { inputTokens: 200, cacheReadTokens: 4800, outputTokens: 900, reasoningTokens: 640 },
    });
    const res = await openai.responses.create(req);
    expect(res.object).toBe('response');
    expect(res.model).toBe('gpt-5-mini');
    expect(res.status).toBe('completed');
    expect(res.output_text).toBe('response text');
    expect(res.usage).toEqual({
      input_tokens: 5000,
      input_tokens_details: { cached_tokens: 4800, cache_write_tokens: 0 },
      output_tokens: 900,
      output_tokens_details: { reasoning_tokens: 640 },
      total_tokens: 5900,
    });
  });

  it('streaming: deltas then response.completed carrying the usage', async () => {
    fake.setNext({
      text: 'x y',
      usage: { inputTokens: 1, cacheReadTokens: 2, outputTokens: 3, reasoningTokens: 1 },
    });
    const stream = await openai.responses.create({ ...req, stream: true });
    const types: string[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(2);
    expect(types.at(-1)).toBe('response.completed');
    expect(text).toBe('x y');
    expect(completed?.model).toBe('gpt-5-mini');
    expect(completed?.usage).toMatchObject({
      input_tokens: 3,
      input_tokens_details: { cached_tokens: 2 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 6,
    });
  });

  it('responses.stream() finalResponse() has the usage', async () => {
    fake.setNext({ usage: { outputTokens: 11, reasoningTokens: 0 } });
    const final = await openai.responses.stream(req).finalResponse();
    expect(final.output_text).toBe('Hello from the fake provider.');
    expect(final.usage?.output_tokens).toBe(11);
    expect(final.usage?.input_tokens).toBe(1000);
  });

  it('a 500 surfaces as InternalServerError', async () => {
    fake.setNext({ status: 500 }, '/v1/responses');
    const err = await openai.responses.create(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
  });
});

describe('recording, scripting and timing', () => {
  it('counts requests per path and records parsed bodies', async () => {
    await anthropic.messages.create(ask);
    await anthropic.messages.countTokens({ model: MODEL, messages: ask.messages });
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] });
    await openai.responses.create({ model: 'gpt-5', input: 'r' });
    expect(fake.count()).toBe(4);
    expect(fake.count('/v1/messages')).toBe(2); // prefix: includes count_tokens
    expect(fake.count('/v1/messages/count_tokens')).toBe(1);
    expect(fake.count('/v1/chat/completions')).toBe(1);
    expect(fake.count('/v1/responses')).toBe(1);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/messages',
      'POST /v1/messages/count_tokens',
      'POST /v1/chat/completions',
      'POST /v1/responses',
    ]);
    expect(fake.requests[0]?.body).toEqual(ask);
    expect(fake.requests[2]?.body).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'q' }] });
    expect(fake.requests[3]?.body).toEqual({ model: 'gpt-5', input: 'r' });
    expect(fake.requests[0]?.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json');
  });

  it('never records an authorization value', async () => {
    await anthropic.messages.create(ask);
    await openai.responses.create({ model: 'gpt-5', input: 'r' });
    // This Anthropic SDK sends the key as `Authorization: Bearer`, older ones as `x-api-key`: both are redacted.
    const anthropicAuth = fake.requests[0]?.headers.authorization ?? fake.requests[0]?.headers['x-api-key'];
    expect(anthropicAuth).toBe('[redacted]');
    expect(fake.requests[1]?.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(fake.requests)).not.toContain(SECRET);
  });

  it('per-path scripts are used in order before the global queue and the defaults', async () => {
    fake.script('/v1/chat/completions', [{ usage: { outputTokens: 1 } }, { usage: { outputTokens: 2 } }]);
    fake.setNext({ usage: { outputTokens: 99 } });
    const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'q' }] };
    const outs: number[] = [];
    for (let i = 0; i < 4; i++)
      outs.push((await openai.chat.completions.create(chat)).usage!.completion_tokens);
    expect(outs).toEqual([1, 2, 99, 60]);
  });

  it('a delay postpones the answer; a client timeout aborts it', async () => {
    fake.setNext({ delayMs: 150 });
    const t0 = performance.now();
    await anthropic.messages.create(ask);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);

    fake.setNext({ delayMs: 2000 });
    const err = await anthropic.messages.create(ask, { timeout: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(fake.count('/v1/messages')).toBe(2);
  });

  it('a slow stream spaces its events out', async () => {
    fake.setNext({ text: 'a b', eventDelayMs: 30 });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'q' }],
      stream: true,
    });
    const t0 = performance.now();
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBe(4);
    // 5 events incl. [DONE], each 30 ms apart (headers are flushed first, so all 5 delays follow)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(120);
  });

  it('close() ends a stream in progress and frees the port', async () => {
    const other = await startFakeProviders({ defaultResponse: { eventDelayMs: 1000 } });
    const client = new Anthropic({ apiKey: 'test', baseURL: other.anthropicBaseURL, maxRetries: 0 });
    const pending = client.messages.create({ ...ask, stream: true }).then(async (s) => {
      for await (const _ of s) {
        // drain
      }
    });
    while (other.count() === 0) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await other.close();
    expect(performance.now() - t0).toBeLessThan(900);
    await expect(pending).rejects.toThrow();
    await expect(fetch(`${other.url}/v1/messages`, { method: 'POST' })).rejects.toThrow();
  });

  it('unknown routes answer 404', async () => {
    const res = await fetch(`${fake.url}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(fake.count('/v1/embeddings')).toBe(1);
  });
});
