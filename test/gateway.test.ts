import { request } from 'node:http';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { budgetKeys } from '../src/core/budget.js';
import type { UsageEvent } from '../src/core/event.js';
import { priceEvent } from '../src/core/pricing.js';
import { parseBudgetAmount, parseBudgetFlag, windowOf } from '../src/gateway/budget-spec.js';
import { hashKey, KEY_PREFIX, newGatewayKey } from '../src/gateway/keys.js';
import { openSqliteSharedThreaded } from '../src/gateway/sqlite-thread.js';
import { parseSseBlock, SseFramer } from '../src/gateway/sse.js';
import { AlertDispatcher } from '../src/meter/alerts.js';
import { createPriceBook } from '../src/prices/price-book.js';
import {
  DEFAULT_ANTHROPIC_USAGE,
  DEFAULT_OPENAI_USAGE,
  DEFAULT_TEXT,
  startFakeProviders,
} from './helpers/fake-providers.js';
import {
  dirBytes,
  type GatewayFixture,
  HELD_ANTHROPIC_KEY,
  HELD_OPENAI_KEY,
  rawRequest,
  startGatewayFixture,
  startScriptedUpstream,
  until,
} from './helpers/gateway.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

const PROMPT = 'Draft the board memo about project nightjar, prompt-marker-51c2e9';
const HAIKU = 'claude-haiku-4-5';
const MINI = 'gpt-4.1-mini';
const book = createPriceBook();

const fixtures: GatewayFixture[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
  for (const c of closers.splice(0)) await c();
  removeTempDirs();
});

async function gateway(opts: Parameters<typeof startGatewayFixture>[0] = {}): Promise<GatewayFixture> {
  const f = await startGatewayFixture(opts);
  fixtures.push(f);
  return f;
}

const anthropic = (f: GatewayFixture, apiKey: string, headers: Record<string, string> = {}) =>
  new Anthropic({ apiKey, baseURL: f.url, maxRetries: 0, defaultHeaders: headers });
const openai = (f: GatewayFixture, apiKey: string, headers: Record<string, string> = {}) =>
  new OpenAI({ apiKey, baseURL: `${f.url}/v1`, maxRetries: 0, defaultHeaders: headers });

const ask = (max_tokens = 200) => ({
  model: HAIKU,
  max_tokens,
  messages: [{ role: 'user' as const, content: PROMPT }],
});
const chat = (extra: Record<string, unknown> = {}) => ({
  model: MINI,
  max_completion_tokens: 200,
  messages: [{ role: 'user' as const, content: PROMPT }],
  ...extra,
});

async function events(f: GatewayFixture): Promise<UsageEvent[]> {
  await f.gw.flush();
  return f.store.events();
}

/** The SSE events of a body, as `[event name, parsed data]`. */
function sseItems(body: Buffer): unknown[] {
  const out: unknown[] = [];
  new SseFramer().push(body, (b) => {
    const ev = parseSseBlock(b);
    if (ev && ev.data !== '[DONE]') out.push(JSON.parse(ev.data));
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

describe('gateway: proxying with the real SDKs', () => {
  it('meters an Anthropic message: buckets, exact cost, attribution from headers and the key', async () => {
    const f = await gateway();
    const { key, id } = await f.key('acme');
    const client = anthropic(f, key, {
      'x-tokenledger-run': 'nightly-42',
      'x-tokenledger-agent': 'summarizer',
      'x-tokenledger-parent': 'planner',
      'x-tokenledger-task': 'eu',
      'x-tokenledger-user': 'u1',
      'x-tokenledger-session': 's-9',
      'x-tokenledger-feature': 'digest',
      'x-tokenledger-tags': 'team=growth,tenant=evil,gatewayKey=forged',
    });
    const msg = await client.messages.create(ask());
    expect(msg.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const [e, ...rest] = await events(f);
    expect(rest).toEqual([]);
    expect(e!.id).toMatch(new RegExp(`^m:[0-9a-z]{10}:anthropic:${msg.id}$`));
    expect(e!.source).toBe('gateway');
    expect(e!.provider).toBe('anthropic');
    expect(e!.model).toBe(HAIKU);
    expect(e!.usage).toMatchObject({
      inputTokens: 25,
      cacheReadTokens: 1000,
      cacheWrite5mTokens: 200,
      cacheWrite1hTokens: 300,
      outputTokens: 40,
    });
    expect(e!.cost.nanoUsd).toBe(priceEvent(book, HAIKU, 'anthropic', e!.ts, e!.usage).nanoUsd);
    expect(e!.cost.nanoUsd).toBeGreaterThan(0);
    expect(e!.attribution).toEqual({
      run: 'nightly-42',
      agentName: 'summarizer',
      agentId: 'summarizer',
      agentPath: 'main/planner/summarizer',
      task: 'eu',
      user: 'u1',
      session: 's-9',
      feature: 'digest',
      // A header can neither set nor override the tenant or the key: they come from the key alone.
      tags: { team: 'growth', tenant: 'acme', gatewayKey: id },
    });
    // The provider got the request as sent, without the gateway's headers.
    const sent = f.fake.requests[0]!;
    expect(sent.body).toEqual(ask());
    expect(Object.keys(sent.headers).filter((h) => h.startsWith('x-tokenledger'))).toEqual([]);
    expect(f.logs).toHaveLength(1);
    expect(f.logs[0]).toMatchObject({
      method: 'POST',
      path: '/v1/messages',
      status: 200,
      model: HAIKU,
      tenant: 'acme',
      key: id,
      inputTokens: 25,
      outputTokens: 40,
      stream: false,
    });
  });

  it('streams an Anthropic message to the SDK and reads its cumulative usage', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    const client = anthropic(f, key);
    f.fake.setNext({ usage: { outputTokens: 321, reasoningTokens: 20 } }, '/v1/messages');
    const stream = client.messages.stream(ask(1000));
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: DEFAULT_TEXT }]);
    const [e] = await events(f);
    expect(e!.usage.outputTokens).toBe(321);
    expect(e!.usage.inputTokens).toBe(DEFAULT_ANTHROPIC_USAGE.inputTokens);
    expect(e!.cost.estimated).toBe(false);
    expect(e!.attribution.status).toBeUndefined();
    expect(f.logs[0]).toMatchObject({ stream: true, status: 200, outputTokens: 321 });
  });

  it('asks an OpenAI chat stream for its usage and hides the extra chunk from the client', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    const client = openai(f, key);
    const stream = await client.chat.completions.create({ ...chat(), stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(DEFAULT_TEXT);
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
    expect((f.fake.requests[0]!.body as Record<string, unknown>).stream_options).toEqual({
      include_usage: true,
    });
    const [e] = await events(f);
    expect(e!.usage).toMatchObject({
      inputTokens: DEFAULT_OPENAI_USAGE.inputTokens,
      cacheReadTokens: DEFAULT_OPENAI_USAGE.cacheReadTokens,
      outputTokens: DEFAULT_OPENAI_USAGE.outputTokens,
      reasoningTokens: DEFAULT_OPENAI_USAGE.reasoningTokens,
    });
    expect(e!.cost.nanoUsd).toBe(priceEvent(book, MINI, 'openai', e!.ts, e!.usage).nanoUsd);
  });

  it('leaves a chat stream that asked for usage itself untouched, body and chunks', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    const body = JSON.stringify(chat({ stream: true, stream_options: { include_usage: true } }));
    const direct = await rawRequest(f.url, '/v1/chat/completions', {
      body,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(direct.status).toBe(200);
    const items = sseItems(direct.body) as { usage?: unknown; choices: unknown[] }[];
    expect(items.at(-1)!.choices).toEqual([]);
    expect(items.at(-1)!.usage).toMatchObject({ completion_tokens: DEFAULT_OPENAI_USAGE.outputTokens });
    expect(direct.body.toString().endsWith('data: [DONE]\n\n')).toBe(true);
    expect(f.fake.requests[0]!.body).toEqual(JSON.parse(body));
    expect((await events(f))[0]!.usage.outputTokens).toBe(DEFAULT_OPENAI_USAGE.outputTokens);
  });

  it('meters OpenAI chat completions and responses, streamed or not', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    const client = openai(f, key, { 'x-tokenledger-agent': 'writer' });
    const completion = await client.chat.completions.create(chat());
    expect(completion.choices[0]!.message.content).toBe(DEFAULT_TEXT);
    const response = await client.responses.create({ model: MINI, input: PROMPT, max_output_tokens: 300 });
    expect(response.output_text).toBe(DEFAULT_TEXT);
    const streamed = await client.responses.create({ model: MINI, input: PROMPT, stream: true });
    let text = '';
    for await (const ev of streamed) if (ev.type === 'response.output_text.delta') text += ev.delta;
    expect(text).toBe(DEFAULT_TEXT);
    const all = await events(f);
    expect(all.map((e) => e.id.split(':').slice(2).join(':'))).toEqual([
      `openai:${completion.id}`,
      `openai:${response.id}`,
      expect.stringMatching(/^openai:resp_fake/),
    ]);
    for (const e of all) {
      expect(e.usage.outputTokens).toBe(DEFAULT_OPENAI_USAGE.outputTokens);
      expect(e.attribution.agentPath).toBe('main/writer');
    }
  });

  it('forwards count_tokens (free: not metered)', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    const n = await anthropic(f, key).messages.countTokens({
      model: HAIKU,
      messages: [{ role: 'user', content: PROMPT }],
    });
    expect(n.input_tokens).toBeGreaterThan(0);
    expect(await events(f)).toEqual([]);
    expect(f.logs[0]).toMatchObject({
      path: '/v1/messages/count_tokens',
      status: 200,
      outcome: 'not_metered',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: streams pass through byte for byte, as they arrive', () => {
  /** An upstream that writes `pieces` one by one, each only after the client has received the previous ones. */
  async function lockstepUpstream(pieces: Buffer[], received: () => number) {
    const timeline: string[] = [];
    const up = await startScriptedUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_bytes' });
      res.flushHeaders();
      let sent = 0;
      for (const p of pieces) {
        res.write(p);
        sent += p.length;
        // Without forwarding as it arrives, the client never gets these bytes and this times out.
        await until(() => received() >= sent, 3000, `the client to receive ${sent} bytes`).catch(() =>
          timeline.push(`stalled at ${sent}`),
        );
      }
      res.end();
    });
    closers.push(up.close);
    return { up, timeline };
  }

  /** Cuts a buffer at the given offsets. */
  const cut = (buf: Buffer, at: number[]) =>
    [0, ...at, buf.length].slice(1).map((end, i) => buf.subarray([0, ...at][i]!, end));

  it('an Anthropic stream: CRLF and LF events, a comment, a split multi-byte character', async () => {
    const wire = Buffer.from(
      'event: message_start\r\ndata: {"type":"message_start","message":{"id":"msg_bytes","type":"message",' +
        '"role":"assistant","model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}\r\n\r\n' +
        ': keep-alive\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo wörld 🎉"}}\n\n' +
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    const emoji = wire.indexOf(Buffer.from('🎉'));
    const pieces = cut(wire, [5, 40, wire.indexOf('\r\n\r\n') + 1, emoji + 2, emoji + 3, wire.length - 10]);
    let received = 0;
    const { up, timeline } = await lockstepUpstream(pieces, () => received);
    const f = await gateway({ upstream: up.url });
    const { key } = await f.key('acme');
    const res = await rawRequest(f.url, '/v1/messages', {
      body: JSON.stringify({ ...ask(), stream: true }),
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
      onChunk: (c) => {
        received += c.length;
      },
    });
    expect(timeline).toEqual([]);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['request-id']).toBe('req_bytes');
    expect(res.body.equals(wire)).toBe(true);
    expect(res.chunks.length).toBeGreaterThanOrEqual(pieces.length);
    const [e] = await events(f);
    expect(e!.usage).toMatchObject({ inputTokens: 12, outputTokens: 7 });
    expect(e!.id).toMatch(/:anthropic:msg_bytes$/);
  });

  it('an injected OpenAI usage chunk is the only thing withheld; [DONE] is kept', async () => {
    const chunk = (rest: string) =>
      `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4.1-mini",${rest}}\n\n`;
    const visible = [
      chunk(
        '"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi ✓"},"finish_reason":null}],"usage":null',
      ),
      chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null'),
    ];
    const usage = chunk('"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}');
    const wire = Buffer.from(`${visible.join('') + usage}data: [DONE]\n\n`);
    const u = wire.indexOf(Buffer.from(usage));
    const pieces = cut(wire, [7, visible[0]!.length - 1, u + 20, u + usage.length + 3]);
    const expected = Buffer.from(`${visible.join('')}data: [DONE]\n\n`);
    let received = 0;
    const up = await startScriptedUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const p of pieces) {
        res.write(p);
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end();
    });
    closers.push(up.close);
    const f = await gateway({ upstream: up.url });
    const { key } = await f.key('acme');
    const res = await rawRequest(f.url, '/v1/chat/completions', {
      body: JSON.stringify(chat({ stream: true })),
      headers: { authorization: `Bearer ${key}` },
      onChunk: (c) => {
        received += c.length;
      },
    });
    expect(JSON.parse(up.requests[0]!.body).stream_options).toEqual({ include_usage: true });
    expect(res.body.toString()).toBe(expected.toString());
    expect(received).toBe(expected.length);
    expect(res.headers['content-length']).toBeUndefined();
    const [e] = await events(f);
    expect(e!.usage).toMatchObject({ inputTokens: 11, outputTokens: 3 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: disconnects, upstream errors and timeouts', () => {
  /** An Anthropic stream that sends a delta every 20 ms for ~4 s and records whether it was cut. */
  async function slowAnthropic() {
    const state = { closedEarly: false, finished: false };
    const up = await startScriptedUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.on('close', () => {
        if (!state.finished) state.closedEarly = true;
      });
      res.write(
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_slow","model":"claude-haiku-4-5",' +
          '"usage":{"input_tokens":900,"cache_read_input_tokens":100,"output_tokens":1}}}\n\n',
      );
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        res.write(
          `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"word${i} and more words "}}\n\n`,
        );
        await new Promise((r) => setTimeout(r, 20));
      }
      state.finished = true;
      res.end();
    });
    closers.push(up.close);
    return { up, state };
  }

  it('a client that leaves mid-stream stops the upstream and is charged what it used (estimated)', async () => {
    const { up, state } = await slowAnthropic();
    const f = await gateway({ upstream: up.url });
    const { key, id } = await f.key('acme', '5/1d');
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const req = request(`${f.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
      });
      req.on('response', (res) => {
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if ((text.match(/content_block_delta/g) ?? []).length >= 10) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', () => {});
      req.end(JSON.stringify({ ...ask(4000), stream: true }));
      setTimeout(() => reject(new Error('no deltas')), 5000);
    });
    await until(() => state.closedEarly, 3000, 'the upstream stream to be cut');
    expect(state.finished).toBe(false);
    await until(() => f.logs.length === 1, 3000, 'the log line');
    expect(f.logs[0]).toMatchObject({ outcome: 'client_aborted', estimated: true, inputTokens: 900 });
    const [e] = await events(f);
    expect(e!.attribution.status).toBe('aborted');
    expect(e!.cost.estimated).toBe(true);
    expect(e!.usage.inputTokens).toBe(900);
    expect(e!.usage.cacheReadTokens).toBe(100);
    expect(e!.usage.outputTokens).toBeGreaterThanOrEqual(10);
    // The reservation was settled to what was used, not held and not dropped.
    const [bk] = budgetKeys({ scope: { key: id }, limitUsd: 5, window: '1d' }, e!.attribution, e!.ts);
    expect(await f.store.budgetUsage(bk!.key)).toEqual({ spentNano: e!.cost.nanoUsd, reservedNano: 0 });
  });

  it('a client that leaves a non-streamed call is charged its exact usage (the answer is read to its end)', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    f.fake.setNext({ delayMs: 300, usage: { outputTokens: 77 } }, '/v1/messages');
    const controller = new AbortController();
    const call = anthropic(f, key).messages.create(ask(), { signal: controller.signal });
    await until(() => f.fake.count() === 1, 3000, 'the upstream call');
    controller.abort();
    await expect(call).rejects.toThrow();
    await until(() => f.logs.length === 1, 3000, 'the log line');
    const [e] = await events(f);
    expect(e!.usage.outputTokens).toBe(77);
    expect(e!.cost.estimated).toBe(false);
    expect(e!.attribution.status).toBeUndefined();
  });

  it('an OpenAI chat stream left before its usage is charged with tokenizer estimates', async () => {
    const up = await startScriptedUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 200 && !res.destroyed; i++) {
        res.write(
          `data: {"id":"chatcmpl-cut","object":"chat.completion.chunk","model":"gpt-4.1-mini","choices":[{"index":0,"delta":{"content":"token${i} "},"finish_reason":null}],"usage":null}\n\n`,
        );
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    });
    closers.push(up.close);
    const f = await gateway({ upstream: up.url });
    const { key } = await f.key('acme');
    const client = openai(f, key);
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { ...chat(), stream: true },
      {
        signal: controller.signal,
      },
    );
    let n = 0;
    // The SDK ends the loop (or throws, depending on its version) when its request is aborted.
    await (async () => {
      for await (const _c of stream) if (++n === 5) controller.abort();
    })().catch(() => undefined);
    expect(n).toBe(5);
    await until(() => f.logs.length === 1, 3000, 'the log line');
    const [e] = await events(f);
    expect(e!.id).toMatch(/:openai:chatcmpl-cut$/);
    expect(e!.attribution.status).toBe('aborted');
    expect(e!.cost.estimated).toBe(true);
    expect(e!.cost.note).toMatch(/estimated with a tokenizer/);
    expect(e!.usage.inputTokens).toBeGreaterThan(5);
    expect(e!.usage.outputTokens).toBeGreaterThanOrEqual(5);
  });

  it('an upstream that cuts the stream: the client sees the cut, the input is charged', async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    f.fake.setNext({ cutAfterEvents: 4 }, '/v1/messages');
    const stream = await anthropic(f, key).messages.create({ ...ask(), stream: true });
    await expect(
      (async () => {
        for await (const _ev of stream) {
        }
      })(),
    ).rejects.toThrow();
    await until(() => f.logs.length === 1, 3000, 'the log line');
    expect(f.logs[0]).toMatchObject({ outcome: 'upstream_cut' });
    const [e] = await events(f);
    expect(e!.attribution.status).toBe('error');
    expect(e!.usage.inputTokens).toBe(DEFAULT_ANTHROPIC_USAGE.inputTokens);
  });

  it("an Anthropic stream ending in the provider's error event is charged its input, status error", async () => {
    const f = await gateway();
    const { key } = await f.key('acme');
    f.fake.setNext({ errorAfterEvents: 4 }, '/v1/messages');
    const stream = await anthropic(f, key).messages.create({ ...ask(), stream: true });
    await expect(
      (async () => {
        for await (const _ev of stream) {
        }
      })(),
    ).rejects.toThrow(/overloaded/);
    const [e] = await events(f);
    expect(e!.attribution.status).toBe('error');
    expect(e!.usage.inputTokens).toBe(DEFAULT_ANTHROPIC_USAGE.inputTokens);
    expect(f.logs[0]).toMatchObject({ status: 200, outcome: 'error' });
  });

  it('passes an upstream 500 through unchanged and releases the reservation', async () => {
    const f = await gateway();
    const { key, id } = await f.key('acme', '5/1d');
    f.fake.setNext({ status: 500, error: { message: 'upstream exploded' } }, '/v1/messages');
    const res = await rawRequest(f.url, '/v1/messages', {
      body: JSON.stringify(ask()),
      headers: { 'x-api-key': key },
    });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: 'upstream exploded' },
    });
    expect(res.headers['request-id']).toMatch(/^req_fake/);
    f.fake.setNext({ status: 500 }, '/v1/messages');
    await expect(anthropic(f, key).messages.create(ask())).rejects.toBeInstanceOf(
      Anthropic.InternalServerError,
    );
    expect(await events(f)).toEqual([]);
    const [bk] = budgetKeys(
      { scope: { key: id }, limitUsd: 5, window: '1d' },
      { tags: { gatewayKey: id } },
      Date.now(),
    );
    expect(await f.store.budgetUsage(bk!.key)).toEqual({ spentNano: 0, reservedNano: 0 });
    expect(f.logs.map((l) => [l.status, l.outcome])).toEqual([
      [500, 'upstream_error'],
      [500, 'upstream_error'],
    ]);
  });

  it('answers 504 when the upstream does not answer in time, 502 when it cannot be reached', async () => {
    const f = await gateway({ upstreamTimeoutMs: 150 });
    const { key } = await f.key('acme');
    f.fake.setNext({ delayMs: 2000 }, '/v1/messages');
    const t0 = Date.now();
    const err = await anthropic(f, key)
      .messages.create(ask())
      .catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(504);
    expect((err as { error: unknown }).error).toMatchObject({ error: { type: 'upstream_timeout' } });

    const dead = await startScriptedUpstream(() => {});
    await dead.close();
    const g = await gateway({ upstream: dead.url });
    const k2 = await g.key('acme');
    const res = await rawRequest(g.url, '/v1/chat/completions', {
      body: JSON.stringify(chat()),
      headers: { authorization: `Bearer ${k2.key}` },
    });
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      error: { type: 'upstream_unreachable', code: 'upstream_unreachable', message: /ECONNREFUSED/ },
    });
  });

  it('times out a stream that stalls mid-way and charges what arrived', async () => {
    const f = await gateway({ upstreamTimeoutMs: 200 });
    const { key } = await f.key('acme');
    f.fake.setNext({ eventDelayMs: 600 }, '/v1/messages');
    const stream = await anthropic(f, key).messages.create({ ...ask(), stream: true });
    await expect(
      (async () => {
        for await (const _ev of stream) {
        }
      })(),
    ).rejects.toThrow();
    await until(() => f.logs.length === 1, 3000, 'the log line');
    expect(f.logs[0]).toMatchObject({ outcome: 'upstream_cut' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: requests it refuses itself', () => {
  it('413 for a body over the limit (declared or chunked), 400 for malformed JSON, 404/405', async () => {
    const f = await gateway({ maxBodyBytes: 4096 });
    const { key } = await f.key('acme');
    const big = JSON.stringify({ ...ask(), messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    const declared = await rawRequest(f.url, '/v1/messages', { body: big, headers: { 'x-api-key': key } });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body.toString())).toMatchObject({
      type: 'error',
      error: {
        type: 'request_too_large',
        limit_bytes: 4096,
        message: /larger than the gateway's limit of 4096 bytes/,
      },
    });
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${f.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toMatchObject({
      error: { type: 'request_too_large', code: 'request_too_large' },
    });

    const malformed = await rawRequest(f.url, '/v1/messages', {
      body: `{"model":"${HAIKU}","messages":[{"role":"user","content":"${PROMPT}"`,
      headers: { 'x-api-key': key },
    });
    expect(malformed.status).toBe(400);
    const m = JSON.parse(malformed.body.toString());
    expect(m).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'request body is not valid JSON' },
    });
    const array = await rawRequest(f.url, '/v1/responses', {
      body: '[1,2]',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(array.status).toBe(400);
    expect(JSON.parse(array.body.toString()).error.message).toBe('request body must be a JSON object');

    const unknown = await rawRequest(f.url, '/v1/embeddings', { body: '{}' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString()).error.message).toMatch(/no route POST \/v1\/embeddings/);
    const get = await rawRequest(f.url, '/v1/messages', { method: 'GET' });
    expect(get.status).toBe(405);
    const health = await rawRequest(f.url, '/healthz', { method: 'GET' });
    expect([health.status, JSON.parse(health.body.toString())]).toEqual([200, { status: 'ok' }]);
    expect(f.fake.count()).toBe(0);
  });

  it('authenticates gateway keys: unknown, revoked and missing keys get 401, never the upstream', async () => {
    const f = await gateway();
    const { key, id } = await f.key('acme');
    await expect(anthropic(f, `${KEY_PREFIX}not-a-real-key`).messages.create(ask())).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
    await expect(anthropic(f, 'sk-ant-someone-elses-key').messages.create(ask())).rejects.toThrow(
      /does not forward anthropic keys/,
    );
    const none = await rawRequest(f.url, '/v1/chat/completions', { body: JSON.stringify(chat()) });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body.toString()).error.message).toBe('a gateway key (tlk_…) is required');
    await anthropic(f, key).messages.create(ask());
    expect(await f.store.revokeKey(id, Date.now())).toBe(true);
    await expect(anthropic(f, key).messages.create(ask())).rejects.toThrow(/invalid or revoked gateway key/);
    expect(f.fake.count()).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: provider keys', () => {
  /** An upstream echoing minimal Anthropic and OpenAI answers, recording the raw headers. */
  async function echoUpstream() {
    const up = await startScriptedUpstream((req, res) => {
      const anthropicPath = req.url?.startsWith('/v1/messages');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          anthropicPath
            ? {
                id: 'msg_echo',
                type: 'message',
                role: 'assistant',
                model: HAIKU,
                content: [],
                usage: { input_tokens: 3, output_tokens: 2 },
              }
            : {
                id: 'chatcmpl-echo',
                object: 'chat.completion',
                model: MINI,
                choices: [],
                usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
              },
        ),
      );
    });
    closers.push(up.close);
    return up;
  }

  it('replaces a gateway key with the held provider key (x-api-key or Bearer, both SDKs)', async () => {
    const up = await echoUpstream();
    const f = await gateway({ upstream: up.url });
    const { key } = await f.key('acme');
    await anthropic(f, key).messages.create(ask());
    await new Anthropic({ authToken: key, apiKey: null, baseURL: f.url, maxRetries: 0 }).messages.create(
      ask(),
    );
    await openai(f, key).chat.completions.create(chat());
    await rawRequest(f.url, '/v1/messages', {
      body: JSON.stringify(ask()),
      headers: { 'x-tokenledger-key': key, 'x-api-key': 'sk-ant-client-key-ignored' },
    });
    await rawRequest(f.url, '/v1/messages', { body: JSON.stringify(ask()), headers: { 'x-api-key': key } });
    const auth = up.requests.map((r) => [r.headers['x-api-key'], r.headers.authorization]);
    expect(auth).toEqual([
      [HELD_ANTHROPIC_KEY, undefined],
      [HELD_ANTHROPIC_KEY, undefined],
      [undefined, `Bearer ${HELD_OPENAI_KEY}`],
      [HELD_ANTHROPIC_KEY, undefined],
      [HELD_ANTHROPIC_KEY, undefined],
    ]);
    for (const r of up.requests) {
      expect(JSON.stringify(r.headers)).not.toContain(key);
      expect(r.headers['accept-encoding']).toBe('identity');
    }
  });

  it('forwards a client key when the gateway holds none, attributed to a tenant only with a gateway key', async () => {
    const up = await echoUpstream();
    const f = await gateway({ upstream: up.url, providerKeys: {} });
    const { key } = await f.key('acme');
    await anthropic(f, 'sk-ant-client-own-key').messages.create(ask());
    await rawRequest(f.url, '/v1/chat/completions', {
      body: JSON.stringify(chat()),
      headers: { authorization: 'Bearer sk-client-openai', 'x-tokenledger-key': key },
    });
    await expect(anthropic(f, key).messages.create(ask())).rejects.toThrow(/holds no anthropic key/);
    // Forwarded as the client sent it (this Anthropic SDK sends its key as a Bearer token).
    expect(up.requests.map((r) => [r.headers['x-api-key'], r.headers.authorization])).toEqual([
      [undefined, 'Bearer sk-ant-client-own-key'],
      [undefined, 'Bearer sk-client-openai'],
    ]);
    const [a, b] = await events(f);
    expect(a!.attribution.tags).toBeUndefined();
    expect(b!.attribution.tags).toMatchObject({ tenant: 'acme' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: budgets', () => {
  const small = {
    usage: {
      inputTokens: 20,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 50,
    },
  };

  it("refuses with 429 once a key's windowed budget cannot cover the worst case, before the upstream", async () => {
    const fake = await startFakeProviders({ defaultResponse: small });
    closers.push(() => fake.close());
    const f = await gateway({ fake });
    const { key, id } = await f.key('acme', '0.002/1d');
    const client = anthropic(f, key);
    let ok = 0;
    let refused: InstanceType<typeof Anthropic.RateLimitError> | undefined;
    for (let i = 0; i < 20 && !refused; i++) {
      try {
        await client.messages.create(ask(200));
        ok++;
      } catch (e) {
        refused = e as InstanceType<typeof Anthropic.RateLimitError>;
      }
    }
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect(ok).toBeGreaterThan(0);
    expect(f.fake.count('/v1/messages')).toBe(ok);
    const body = (refused as unknown as { error: { error: Record<string, unknown> } }).error.error;
    expect(body).toMatchObject({
      type: 'budget_exceeded',
      budget: `key=${id}&window=1d`,
      scope: { key: id },
      window: '1d',
      limit_usd: 0.002,
    });
    expect(
      (body.spent_usd as number) + (body.reserved_usd as number) + (body.estimate_usd as number),
    ).toBeGreaterThan(0.002);
    expect(body.message).toMatch(/budget "key=key_[0-9a-f]{12}&window=1d" exceeded/);
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(86_400);
    expect(refused!.headers.get('x-should-retry')).toBe('false');
    expect(body.retry_after_seconds).toBe(retryAfter);
    const all = await events(f);
    const spent = all.reduce((s, e) => s + e.cost.nanoUsd!, 0);
    const [bk] = budgetKeys(
      { scope: { key: id }, limitUsd: 0.002, window: '1d' },
      all[0]!.attribution,
      Date.now(),
    );
    expect(await f.store.budgetUsage(bk!.key)).toEqual({ spentNano: spent, reservedNano: 0 });
    expect(f.logs.at(-1)).toMatchObject({ status: 429, outcome: 'budget_exceeded', tenant: 'acme' });
  });

  it('keeps 40 concurrent calls of one tenant within its budget; a run budget has no Retry-After', async () => {
    const fake = await startFakeProviders({ defaultResponse: { ...small, delayMs: 30 } });
    closers.push(() => fake.close());
    const f = await gateway({
      fake,
      budgets: [parseBudgetFlag('tenant=*:0.01/30d'), parseBudgetFlag('run=*:0.004/run')],
    });
    const { key } = await f.key('acme');
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () =>
        rawRequest(f.url, '/v1/chat/completions', {
          body: JSON.stringify(chat({ max_completion_tokens: 1500 })),
          headers: { authorization: `Bearer ${key}` },
        }).then((r) => r.status),
      ),
    );
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 429).length).toBe(40);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(40);
    expect(fake.count()).toBe(ok);
    const all = await events(f);
    expect(all).toHaveLength(ok);
    expect(all.reduce((s, e) => s + e.cost.nanoUsd!, 0)).toBeLessThanOrEqual(10_000_000);

    const run = await rawRequest(f.url, '/v1/chat/completions', {
      body: JSON.stringify(chat({ max_completion_tokens: 5000 })),
      headers: { authorization: `Bearer ${key}`, 'x-tokenledger-run': 'r-big' },
    });
    expect(run.status).toBe(429);
    expect(run.headers['retry-after']).toBeUndefined();
    expect(JSON.parse(run.body.toString()).error).toMatchObject({
      type: 'budget_exceeded',
      window: 'run',
      scope: { run: 'r-big' },
    });
  });

  it('posts budget alerts to a webhook, claimed once in the store', async () => {
    const fake = await startFakeProviders({ defaultResponse: small });
    closers.push(() => fake.close());
    const hook = await startScriptedUpstream((_req, res) => {
      res.writeHead(200);
      res.end('ok');
    });
    closers.push(hook.close);
    const f = await gateway({
      fake,
      alerts: { webhooks: [`${hook.url}/hooks/budget`], thresholds: [50, 100] },
    });
    const { key, id } = await f.key('acme', '0.0005/1d');
    await anthropic(f, key).messages.create(ask(50)); // $0.00027 of $0.0005: past 50%
    await until(() => hook.requests.length === 1, 3000, 'the webhook post');
    const budgetId = `key=${id}&window=1d`;
    expect(JSON.parse(hook.requests[0]!.body).alert).toMatchObject({
      kind: 'threshold',
      budgetId,
      thresholdPct: 50,
    });
    // The next call's worst case no longer fits: refused, and one 'refused' alert for the window.
    for (let i = 0; i < 3; i++)
      await expect(anthropic(f, key).messages.create(ask(50))).rejects.toBeInstanceOf(
        Anthropic.RateLimitError,
      );
    await until(() => hook.requests.length === 2, 3000, 'the refusal alert');
    expect(JSON.parse(hook.requests[1]!.body).alert).toMatchObject({ kind: 'refused', budgetId });
    await f.gw.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.requests).toHaveLength(2);
    expect(hook.requests[0]!.path).toBe('/hooks/budget');
  });

  it('an alert dispatcher over an asynchronous store sends each alert once', async () => {
    const claimed = new Set<string>();
    const posts: string[] = [];
    const d = new AlertDispatcher({
      webhooks: ['http://hooks.example/x'],
      thresholds: [50],
      store: {
        claim: async (k) => {
          await new Promise((r) => setTimeout(r, 5));
          if (claimed.has(k)) return false;
          claimed.add(k);
          return true;
        },
        unclaim: async (k) => {
          claimed.delete(k);
        },
        close: () => {},
      },
      fetch: async (_url, init) => {
        posts.push(String(init?.body));
        return new Response('ok');
      },
    });
    const key = budgetKeys({ scope: {}, limitUsd: 1, window: 'run' }, {}, 0)[0]!;
    const obs = {
      key,
      spec: { scope: {}, limitUsd: 1, window: 'run' as const },
      limitNano: 1e9,
      spentNano: 6e8,
    };
    d.observe(obs);
    d.observe(obs);
    await d.close();
    expect(posts).toHaveLength(1);
    expect(claimed.size).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: the spend API', () => {
  it("a tenant's key reads only its tenant; the admin token reads all", async () => {
    const f = await gateway({ adminToken: 'admin-token-3e1f' });
    const a = await f.key('acme');
    const b = await f.key('globex');
    await anthropic(f, a.key, { 'x-tokenledger-agent': 'planner' }).messages.create(ask());
    await anthropic(f, a.key, { 'x-tokenledger-agent': 'writer' }).messages.create(ask());
    await openai(f, b.key, { 'x-tokenledger-agent': 'planner' }).chat.completions.create(chat());
    const today = new Date().toISOString().slice(0, 10);
    const get = (query: string, headers: Record<string, string>) =>
      rawRequest(f.url, `/v1/spend?${query}`, { method: 'GET', headers }).then((r) => ({
        status: r.status,
        json: JSON.parse(r.body.toString()),
      }));

    const mine = await get(`by=agent&since=${today}`, { authorization: `Bearer ${a.key}` });
    expect(mine.status).toBe(200);
    expect(mine.json.tenant).toBe('acme');
    expect(mine.json.totals.events).toBe(2);
    expect(mine.json.groups.map((g: { key: string }) => g.key).sort()).toEqual(['planner', 'writer']);
    const theirs = await get('by=agent&tenant=globex', { 'x-tokenledger-key': a.key });
    expect(theirs.status).toBe(403);
    const other = await get('by=model', { 'x-api-key': b.key });
    expect([other.json.tenant, other.json.totals.events, other.json.groups[0].key]).toEqual([
      'globex',
      1,
      MINI,
    ]);

    const admin = await get('by=tenant', { authorization: 'Bearer admin-token-3e1f' });
    expect(admin.json.tenant).toBeNull();
    expect(admin.json.totals.events).toBe(3);
    expect(
      Object.fromEntries(admin.json.groups.map((g: { key: string; events: number }) => [g.key, g.events])),
    ).toEqual({
      acme: 2,
      globex: 1,
    });
    const adminOne = await get('by=day&tenant=globex', { authorization: 'Bearer admin-token-3e1f' });
    expect([adminOne.json.totals.events, adminOne.json.groups[0].key]).toEqual([1, today]);
    expect(adminOne.json.totals.costNanoUsd).toBe(
      (await events(f)).find((e) => e.provider === 'openai')!.cost.nanoUsd,
    );

    expect((await get('by=agent', {})).status).toBe(401);
    expect((await get('by=agent', { authorization: 'Bearer wrong-admin-token' })).status).toBe(401);
    expect((await get('by=colour', { authorization: `Bearer ${a.key}` })).status).toBe(400);
    expect((await get('since=yesterday', { authorization: `Bearer ${a.key}` })).status).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: what is never written', () => {
  it('no provider key, gateway key or prompt text in the ledger or the logs', async () => {
    const f = await gateway({ maxBodyBytes: 100_000 });
    const { key } = await f.key('acme', '0.2/1d');
    const a = anthropic(f, key);
    const o = openai(f, key);
    await a.messages.create(ask());
    const s = await a.messages.create({ ...ask(), stream: true });
    for await (const _ev of s) {
    }
    const cs = await o.chat.completions.create({ ...chat(), stream: true });
    for await (const _c of cs) {
    }
    await o.responses.create({ model: MINI, input: PROMPT });
    f.fake.setNext({ status: 500 }, '/v1/messages');
    await a.messages.create(ask()).catch(() => undefined);
    f.fake.setNext({ cutAfterEvents: 3 }, '/v1/messages');
    const cut = await a.messages.create({ ...ask(), stream: true });
    await (async () => {
      for await (const _ev of cut) {
      }
    })().catch(() => undefined);
    await rawRequest(f.url, '/v1/messages', {
      body: `{"messages":"${PROMPT}`,
      headers: { 'x-api-key': key },
    });
    const refused = await rawRequest(f.url, '/v1/messages', {
      body: JSON.stringify(ask(60_000)),
      headers: { 'x-api-key': key },
    });
    expect(refused.status).toBe(429);
    await rawRequest(f.url, '/v1/messages', {
      body: JSON.stringify(ask()),
      headers: { 'x-api-key': `${key}x` },
    });
    expect((await events(f)).length).toBeGreaterThanOrEqual(5);
    expect(f.fake.requests.some((r) => JSON.stringify(r.body).includes(PROMPT))).toBe(true);
    const statuses = f.logs.map((l) => l.status);
    expect(statuses).toEqual(expect.arrayContaining([200, 500, 400, 429, 401]));
    await f.close();
    fixtures.splice(fixtures.indexOf(f), 1);
    const ledger = dirBytes(f.dir);
    expect(ledger.length).toBeGreaterThan(10_000);
    const logs = f.rawLogs.join('\n');
    for (const secret of [
      HELD_ANTHROPIC_KEY,
      HELD_OPENAI_KEY,
      key,
      key.slice(4, 24),
      PROMPT,
      'nightjar',
      DEFAULT_TEXT,
    ]) {
      expect(ledger.includes(secret), `ledger holds ${secret}`).toBe(false);
      expect(logs.includes(secret), `logs hold ${secret}`).toBe(false);
    }
    // The key's hash is what identifies it in the store.
    expect(ledger.includes(hashKey(key))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway: the SQLite store on its own thread (as `tokenledger gateway` runs it)', () => {
  it('meters, reserves and answers queries through the thread; errors come back as rejections', async () => {
    const store = await openSqliteSharedThreaded(join(tempDir(), 'ledger.db'));
    const f = await gateway({ store, budgets: [parseBudgetFlag('tenant=*:1/1d')], adminToken: 'adm' });
    const { key } = await f.key('acme', '2/1d');
    const s = await anthropic(f, key).messages.create({ ...ask(), stream: true });
    for await (const _ev of s) {
    }
    await openai(f, key).chat.completions.create(chat());
    const all = await events(f);
    expect(all.map((e) => e.provider)).toEqual(['anthropic', 'openai']);
    const [bk] = budgetKeys(parseBudgetFlag('tenant=*:1/1d'), all[0]!.attribution, Date.now());
    expect(await store.budgetUsage(bk!.key)).toEqual({
      spentNano: all[0]!.cost.nanoUsd! + all[1]!.cost.nanoUsd!,
      reservedNano: 0,
    });
    expect((await store.listKeys('acme')).map((k) => k.tenant)).toEqual(['acme']);
    const spend = await rawRequest(f.url, '/v1/spend?by=model', {
      method: 'GET',
      headers: { authorization: 'Bearer adm' },
    });
    expect(JSON.parse(spend.body.toString()).totals.events).toBe(2);
    expect(await store.settle('no-such-reservation', 1)).toBe(false);
    await expect(store.aggregate('colour' as never)).rejects.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------

describe('gateway building blocks', () => {
  it('frames SSE blocks across chunk boundaries and parses their fields', () => {
    const wire = Buffer.from('event: a\r\ndata: 1\r\n\r\n: c\n\ndata: x\ndata: y\n\nevent: tail\ndata: cut');
    const blocks: string[] = [];
    const framer = new SseFramer();
    for (let i = 0; i < wire.length; i += 3)
      framer.push(wire.subarray(i, i + 3), (b) => blocks.push(b.toString()));
    expect(blocks).toEqual(['event: a\r\ndata: 1\r\n\r\n', ': c\n\n', 'data: x\ndata: y\n\n']);
    expect(framer.rest()?.toString()).toBe('event: tail\ndata: cut');
    expect(blocks.map((b) => parseSseBlock(Buffer.from(b)))).toEqual([
      { event: 'a', data: '1' },
      undefined,
      { data: 'x\ny' },
    ]);
  });

  it('parses budgets and windows; makes keys of 32 random bytes stored by hash', () => {
    expect(parseBudgetAmount('$100/30d')).toEqual({ limitUsd: 100, window: '30d' });
    expect(windowOf('12h')).toEqual({ ms: 43_200_000 });
    expect(() => parseBudgetAmount('100')).toThrow(/100\/30d/);
    expect(() => windowOf('1y')).toThrow(/window/);
    expect(parseBudgetFlag('tenant=*,feature=chat:5/1d:alert')).toEqual({
      scope: { tenant: '*', feature: 'chat' },
      limitUsd: 5,
      window: '1d',
      mode: 'alert',
    });
    expect(parseBudgetFlag('2.5/run')).toEqual({ scope: {}, limitUsd: 2.5, window: 'run' });
    expect(() => parseBudgetFlag('colour=red:1/1d')).toThrow(/not one of/);
    const { key, record } = newGatewayKey({ tenant: 'acme', budget: '100/30d', label: 'ci', nowMs: 5 });
    expect(key).toMatch(/^tlk_[A-Za-z0-9_-]{43}$/);
    expect(record).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{12}$/),
      tenant: 'acme',
      hash: hashKey(key),
      createdMs: 5,
      label: 'ci',
      budget: { limitUsd: 100, window: '30d' },
    });
    expect(() => newGatewayKey({ tenant: 'a b' })).toThrow(/tenant/);
  });
});
