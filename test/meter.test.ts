import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceededError } from '../src/core/budget.js';
import type { UsageEvent } from '../src/core/event.js';
import { createMeter, type Meter, type MeterOptions } from '../src/meter/meter.js';
import type { LedgerStore } from '../src/store/ledger.js';
import { openSqliteLedger } from '../src/store/sqlite.js';
import { runCli } from './helpers/cli.js';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

const SECRET = 'sk-ant-test-secret-never-stored';
const PROMPT = 'Summarise the quarterly numbers for the board, secret-prompt-marker-7731';

let fake: FakeProviders;
const meters: Meter[] = [];

beforeAll(async () => {
  fake = await startFakeProviders();
});
afterEach(async () => {
  fake.reset();
  for (const m of meters.splice(0)) await m.close();
  removeTempDirs();
});
afterAll(() => fake.close());

function meterFor(opts: MeterOptions = {}): { meter: Meter; file: string; home: string } {
  const home = tempDir();
  const file = join(home, 'ledger.db');
  const errors: unknown[] = [];
  const meter = createMeter({ ledger: file, onError: (e) => errors.push(e), ...opts });
  meters.push(meter);
  return { meter, file, home };
}

const anthropicClient = () =>
  new Anthropic({ apiKey: SECRET, baseURL: fake.anthropicBaseURL, maxRetries: 0 });
const openaiClient = () => new OpenAI({ apiKey: SECRET, baseURL: fake.openaiBaseURL, maxRetries: 0 });

const ask = (model = 'claude-sonnet-4-5', max_tokens = 256) => ({
  model,
  max_tokens,
  messages: [{ role: 'user' as const, content: PROMPT }],
});

function events(meter: Meter): UsageEvent[] {
  meter.flush();
  return meter.ledger.events();
}

describe('meter.wrap(Anthropic)', () => {
  it('records a call with its buckets, exact cost and the scope attribution', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    fake.setNext(
      {
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
    const msg = await meter.run({ run: 'nightly-42', agent: 'planner', user: 'u1', feature: 'digest' }, () =>
      anthropic.messages.create(ask()),
    );
    expect(msg.usage.output_tokens).toBe(77); // the caller's result is the SDK's, unchanged
    const [e, ...rest] = events(meter);
    expect(rest).toEqual([]);
    expect(e!.id).toMatch(new RegExp(`^m:[0-9a-z]{10}:anthropic:${msg.id}$`));
    expect(e!.source).toBe('meter');
    expect(e!.provider).toBe('anthropic');
    expect(e!.model).toBe('claude-sonnet-4-5');
    expect(e!.usage).toMatchObject({
      inputTokens: 12,
      cacheReadTokens: 3400,
      cacheWrite5mTokens: 500,
      cacheWrite1hTokens: 1500,
      outputTokens: 77,
    });
    // $/MTok 3 in, 0.30 read, 3.75 5m, 6 1h, 15 out:
    // 12×3 + 3400×0.3 + 500×3.75 + 1500×6 + 77×15 = 36 + 1020 + 1875 + 9000 + 1155 = 13,086 µ$
    expect(e!.cost).toMatchObject({ nanoUsd: 13_086_000, estimated: false });
    expect(e!.attribution).toEqual({
      run: 'nightly-42',
      agentName: 'planner',
      agentId: 'planner#1',
      agentPath: 'main/planner#1',
      user: 'u1',
      feature: 'digest',
    });
  });

  it('keeps .withResponse(), messages.stream() and raw streams working, and meters each', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const { data, response } = await anthropic.messages.create(ask()).withResponse();
    expect(response.status).toBe(200);
    expect(data.usage.input_tokens).toBe(25);

    fake.setNext({ text: 'one two three', usage: { outputTokens: 9 } }, '/v1/messages');
    const final = await anthropic.messages.stream(ask()).finalMessage();
    expect(final.usage.output_tokens).toBe(9);

    fake.setNext({ usage: { outputTokens: 11 } }, '/v1/messages');
    const stream = await anthropic.messages.create({ ...ask(), stream: true });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');

    const evs = events(meter);
    expect(evs.map((e) => e.usage.outputTokens).sort((a, b) => a - b)).toEqual([9, 11, 40]);
    // Default usage for each: 25 + 1000 read + 200 5m + 300 1h input buckets.
    for (const e of evs) expect(e.usage.cacheWrite1hTokens).toBe(300);
    expect(fake.count('/v1/messages')).toBe(3);
  });

  it('a stream cut mid-way is charged its input and the output received, marked estimated', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    // message_start, content_block_start, ping, then deltas: cut after 20 events in all.
    fake.setNext({ text: words, usage: { outputTokens: 500 }, cutAfterEvents: 20 }, '/v1/messages');
    const stream = await anthropic.messages.create({ ...ask(), stream: true });
    let received = '';
    await expect(
      (async () => {
        for await (const ev of stream)
          if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') received += ev.delta.text;
      })(),
    ).rejects.toThrow();
    expect(received.length).toBeGreaterThan(0);
    const [e] = events(meter);
    expect(e!.attribution.status).toBe('error');
    expect(e!.usage.inputTokens).toBe(25);
    expect(e!.usage.cacheReadTokens).toBe(1000);
    // message_start said 1 output token; the text received is more than that, fewer than 500.
    expect(e!.usage.outputTokens).toBeGreaterThan(1);
    expect(e!.usage.outputTokens).toBeLessThan(500);
    expect(e!.cost.estimated).toBe(true);
    expect(e!.cost.note).toContain('stream ended early');
  });

  it('a provider error records nothing and passes the SDK error through', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    fake.setNext({ status: 529, error: { message: 'Overloaded' } }, '/v1/messages');
    await expect(anthropic.messages.create(ask())).rejects.toBeInstanceOf(Anthropic.APIError);
    expect(events(meter)).toEqual([]);
  });

  it('wrapping twice meters once', async () => {
    const { meter } = meterFor();
    const client = anthropicClient();
    meter.wrap(meter.wrap(client));
    await client.messages.create(ask());
    expect(events(meter)).toHaveLength(1);
  });

  it('rejects an object that is not an SDK client', () => {
    const { meter } = meterFor();
    expect(() => meter.wrap({})).toThrow(TypeError);
  });
});

describe('meter.wrap(OpenAI)', () => {
  it('Chat Completions: cached input split out, reasoning kept as a subset', async () => {
    const { meter } = meterFor();
    const openai = meter.wrap(openaiClient());
    const r = await openai.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.usage?.prompt_tokens).toBe(1000);
    const [e] = events(meter);
    expect(e!.id).toMatch(new RegExp(`^m:[0-9a-z]{10}:openai:${r.id}$`));
    expect(e!.usage).toMatchObject({
      inputTokens: 100,
      cacheReadTokens: 900,
      outputTokens: 60,
      reasoningTokens: 20,
    });
    // gpt-4.1-mini $/MTok 0.40 in, 0.10 cached, 1.60 out: 100×0.4 + 900×0.1 + 60×1.6 = 40 + 90 + 96 = 226 µ$
    expect(e!.cost.nanoUsd).toBe(226_000);
  });

  it('a stream without include_usage is metered from an injected usage chunk the caller never sees', async () => {
    const { meter } = meterFor();
    const openai = meter.wrap(openaiClient());
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true); // no usage-only chunk leaked
    expect(chunks.every((c) => !c.usage)).toBe(true);
    expect(fake.requests[0]!.body).toMatchObject({ stream_options: { include_usage: true } });
    const [e] = events(meter);
    expect(e!.usage).toMatchObject({ inputTokens: 100, cacheReadTokens: 900, outputTokens: 60 });
    expect(e!.cost.estimated).toBe(false);
  });

  it('a stream that asked for usage still gets its usage chunk', async () => {
    const { meter } = meterFor();
    const openai = meter.wrap(openaiClient());
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(60);
    expect(events(meter)).toHaveLength(1);
  });

  it('chat.completions.stream() helper goes through the wrapper', async () => {
    const { meter } = meterFor();
    const openai = meter.wrap(openaiClient());
    const runner = openai.chat.completions.stream({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const done = await runner.finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe('Hello from the fake provider.');
    expect(events(meter).map((e) => e.usage.outputTokens)).toEqual([60]);
  });

  it('Responses, plain and streamed', async () => {
    const { meter } = meterFor();
    const openai = meter.wrap(openaiClient());
    fake.script('/v1/responses', [
      { usage: { inputTokens: 300, cacheReadTokens: 0, outputTokens: 50, reasoningTokens: 0 } },
      { usage: { inputTokens: 10, cacheReadTokens: 90, outputTokens: 7, reasoningTokens: 0 } },
    ]);
    const r = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'hi' });
    const s = await openai.responses.create({ model: 'gpt-4.1-mini', input: 'hi', stream: true });
    for await (const _ of s) {
      // consume
    }
    const evs = events(meter).sort((a, b) => b.usage.inputTokens - a.usage.inputTokens);
    expect(evs[0]!.id.endsWith(`:openai:${r.id}`)).toBe(true);
    expect(evs.map((e) => [e.usage.inputTokens, e.usage.cacheReadTokens, e.usage.outputTokens])).toEqual([
      [300, 0, 50],
      [10, 90, 7],
    ]);
  });
});

describe('attribution context', () => {
  it('nested scopes build the delegation tree and parallel branches keep their own agent', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const openai = meter.wrap(openaiClient());
    await meter.run({ run: 'fan-out', agent: 'planner' }, async () => {
      await anthropic.messages.create(ask());
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          meter.run({ agent: i % 2 ? 'critic' : 'researcher', task: `t${i}` }, async () => {
            fake.setNext({ delayMs: (i * 7) % 30 }, '/v1/responses');
            await openai.responses.create({ model: 'gpt-4.1-mini', input: `q${i}` });
          }),
        ),
      );
    });
    const evs = events(meter);
    expect(evs).toHaveLength(13);
    const planner = evs.filter((e) => e.attribution.agentName === 'planner');
    expect(planner.map((e) => e.attribution.agentPath)).toEqual(['main/planner#1']);
    for (const e of evs.filter((x) => x.attribution.agentName !== 'planner')) {
      const i = Number(e.attribution.task!.slice(1));
      expect(e.attribution.agentName).toBe(i % 2 ? 'critic' : 'researcher');
      expect(e.attribution.agentPath).toMatch(/^main\/planner#1\/(critic|researcher)#\d+$/);
      expect(e.attribution.run).toBe('fan-out');
    }
    expect(new Set(evs.map((e) => e.attribution.agentPath)).size).toBe(13);
  });

  it('`tokenledger report --by agent` shows both agents of the issue example', async () => {
    const { meter, file, home } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const openai = meter.wrap(openaiClient());
    await meter.run({ run: 'nightly-42', agent: 'planner', user: 'u1', feature: 'digest' }, async () => {
      await anthropic.messages.create(ask());
      await meter.run({ agent: 'summarizer' }, () =>
        openai.responses.create({ model: 'gpt-4.1-mini', input: 'x' }),
      );
    });
    await meter.close();
    const r = await runCli(['report', '--by', 'agent', '--ledger', file, '--json'], { home });
    const report = JSON.parse(r.stdout);
    const keys = report.groups.map((g: { key: string }) => g.key).sort();
    expect(keys).toEqual(['planner', 'summarizer']);
    // 3,525 µ$ (sonnet defaults: 25×3 + 1000×0.3 + 200×3.75 + 300×6 + 40×15) + 226 µ$ (gpt-4.1-mini defaults)
    expect(report.totals.costUsd).toBeCloseTo(0.003751, 9);
  });
});

describe('budgets', () => {
  it('refuses before the request reaches the server, with the figures, also through .withResponse()', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    meter.budget({ scope: { run: '*' }, limitUsd: 0.01, window: 'run' });
    // Worst case: 4,096 output tokens × $15/MTok = $0.06144 alone, over the $0.01 limit.
    const err = await meter
      .run({ run: 'r1' }, () => anthropic.messages.create(ask('claude-sonnet-4-5', 4096)))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceededError);
    const b = err as BudgetExceededError;
    expect(b.scope).toEqual({ run: 'r1' });
    expect(b.limitUsd).toBe(0.01);
    expect(b.spentUsd).toBe(0);
    expect(b.estimateUsd).toBeGreaterThan(0.06144);
    await expect(
      meter.run({ run: 'r1' }, () =>
        anthropic.messages.create(ask('claude-sonnet-4-5', 4096)).withResponse(),
      ),
    ).rejects.toBeInstanceOf(BudgetExceededError);
    expect(fake.count()).toBe(0);
    // Outside the budget's scope (no run value… every meter.run has one, so call outside any run): allowed.
    await anthropic.messages.create(ask('claude-sonnet-4-5', 4096));
    expect(fake.count()).toBe(1);
  });

  it('settles to the actual cost, so the budget frees what the estimate over-reserved', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const budget = meter.budget({ scope: { user: 'u1' }, limitUsd: 1, window: '1d' });
    await meter.run({ user: 'u1' }, () => anthropic.messages.create(ask('claude-sonnet-4-5', 4096)));
    const s = meter.run({ user: 'u1' }, () => budget.status());
    expect(s).toEqual({ limitUsd: 1, spentUsd: 0.003525, reservedUsd: 0 });
  });

  it('100 concurrent calls against $1 overspend by at most one call', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const budget = meter.budget({ scope: { feature: 'digest' }, limitUsd: 1, window: 'run' });
    // Each call: haiku ($1 in, $5 out /MTok), max_tokens 4000 → worst case > $0.02; it really
    // uses 3,990 output + 25 input tokens = 3990×5 + 25×1 = 19,975 µ$ (no cache in this script).
    const usage = {
      inputTokens: 25,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 3990,
    };
    for (let i = 0; i < 100; i++) fake.setNext({ usage, delayMs: 20 }, '/v1/messages');
    const results = await meter.run({ feature: 'digest' }, () =>
      Promise.allSettled(
        Array.from({ length: 100 }, () => anthropic.messages.create(ask('claude-haiku-4-5', 4000))),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter(
      (r) => r.status === 'rejected' && r.reason instanceof BudgetExceededError,
    ).length;
    expect(ok + refused).toBe(100);
    expect(fake.count('/v1/messages')).toBe(ok);
    const spent = meter.run({ feature: 'digest' }, () => budget.status())!.spentUsd;
    expect(spent).toBeCloseTo(ok * 0.019975, 9);
    expect(spent).toBeLessThanOrEqual(1 + 0.019975);
    // Reservations are worst cases (> $0.02 each), so fewer than 50 fit while all are in flight.
    expect(ok).toBeGreaterThan(30);
    expect(ok).toBeLessThan(50);
  });

  it('an unknown model reserves a conservative amount, never $0', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    meter.budget({ scope: {}, limitUsd: 0.001, window: 'run' });
    await expect(anthropic.messages.create(ask('claude-mystery-9', 100))).rejects.toBeInstanceOf(
      BudgetExceededError,
    );
    expect(fake.count()).toBe(0);
  });

  it('alert-mode budgets count but never refuse', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    const b = meter.budget({ scope: {}, limitUsd: 0.000001, window: '1h', mode: 'alert' });
    await anthropic.messages.create(ask());
    expect(b.status()!.spentUsd).toBe(0.003525);
  });
});

describe('fail-open metering', () => {
  it('a ledger that cannot write does not break the call; the error goes to onError', async () => {
    const errors: unknown[] = [];
    const home = tempDir();
    const base = createMeter({ ledger: join(home, 'a.db') });
    meters.push(base);
    const broken: LedgerStore = {
      ...base.ledger,
      location: join(home, 'broken.db'),
      commit: () => {
        throw new Error('disk full');
      },
    };
    const meter = createMeter({ ledger: broken, flushEvery: 1, onError: (e) => errors.push(e) });
    meters.push(meter);
    const anthropic = meter.wrap(anthropicClient());
    const msg = await anthropic.messages.create(ask());
    expect(msg.usage.output_tokens).toBe(40);
    expect(errors.map(String)).toContain('Error: disk full');
  });

  it('a price book that throws does not break the call', async () => {
    const errors: unknown[] = [];
    const { meter } = meterFor({
      priceBook: {
        version: 'broken',
        quote: () => {
          throw new Error('price data unreadable');
        },
      },
      onError: (e) => errors.push(e),
    });
    const anthropic = meter.wrap(anthropicClient());
    const budget = meter.budget({ scope: {}, limitUsd: 100, window: 'run' });
    const msg = await anthropic.messages.create(ask());
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect(errors.map(String)).toContain('Error: price data unreadable');
    // The call could not be priced, so the budget keeps its worst case (reserved at the
    // conservative card: the broken book is treated as not knowing the model), nothing stays reserved.
    const s = budget.status()!;
    expect(s.reservedUsd).toBe(0);
    expect(s.spentUsd).toBeGreaterThan(256 * 75e-6); // at least the 256 output tokens at $75/MTok
  });

  it('stores neither the prompt, the completion nor the API key', async () => {
    const { meter, file } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    fake.setNext({ text: 'completion-marker-5521 text' }, '/v1/messages');
    await meter.run({ run: 'p' }, () => anthropic.messages.create(ask()));
    await meter.close();
    for (const f of [file, `${file}-wal`]) {
      let bytes = '';
      try {
        bytes = readFileSync(f).toString('latin1');
      } catch {
        continue;
      }
      expect(bytes).not.toContain('secret-prompt-marker-7731');
      expect(bytes).not.toContain('completion-marker-5521');
      expect(bytes).not.toContain(SECRET);
    }
  });
});

describe('record and track', () => {
  it('record() prices and attributes usage the meter did not see', () => {
    const { meter } = meterFor();
    const e = meter.run({ run: 'r', agent: 'batch' }, () =>
      meter.record({ model: 'gpt-4.1-mini', usage: { inputTokens: 1000, outputTokens: 500 }, id: 'batch-1' }),
    );
    // 1000×0.4 + 500×1.6 = 400 + 800 = 1,200 µ$
    expect(e!.cost.nanoUsd).toBe(1_200_000);
    expect(e!.provider).toBe('openai');
    meter.record({ model: 'gpt-4.1-mini', usage: { inputTokens: 1000, outputTokens: 500 }, id: 'batch-1' });
    expect(events(meter)).toHaveLength(1); // same id: stored once
  });

  it('record() of an unknown model is unpriced, not $0', () => {
    const { meter } = meterFor();
    const e = meter.record({ model: 'house-llm-7b', usage: { inputTokens: 10, outputTokens: 10 } });
    expect(e!.cost.nanoUsd).toBeNull();
  });

  it('track() records a result’s own usage, but not when metered calls inside already did', async () => {
    const { meter } = meterFor();
    const anthropic = meter.wrap(anthropicClient());
    await meter.run({ run: 't' }, async () => {
      // An AI SDK generateText-shaped result: flat v6 usage, response.modelId.
      await meter.track('retriever', async () => ({
        text: 'x',
        usage: { inputTokens: 2000, outputTokens: 100, inputTokenDetails: { cacheReadTokens: 1500 } },
        response: { modelId: 'gpt-4.1-mini' },
      }));
      await meter.track('writer', () => anthropic.messages.create(ask()));
    });
    const evs = events(meter);
    const retriever = evs.find((e) => e.attribution.agentName === 'retriever')!;
    expect(retriever.usage).toMatchObject({ inputTokens: 500, cacheReadTokens: 1500, outputTokens: 100 });
    expect(retriever.attribution.agentPath).toBe('main/retriever#1');
    // writer's result is an Anthropic Message, already metered by the wrapper: one event, not two.
    expect(evs.filter((e) => e.attribution.agentName === 'writer')).toHaveLength(1);
    expect(evs).toHaveLength(2);
  });
});

describe('identical-call cache (opt-in)', () => {
  it('serves a repeat from the cache without reaching the server, and records the dollars saved', async () => {
    const { meter } = meterFor({ cache: { ttlMs: 60_000 } });
    const anthropic = meter.wrap(anthropicClient());
    const first = await meter.run({ user: 'u1' }, () => anthropic.messages.create(ask()));
    const again = await meter.run({ user: 'u1' }, () => anthropic.messages.create(ask()).withResponse());
    expect(fake.count('/v1/messages')).toBe(1);
    expect(again.data).toEqual(JSON.parse(JSON.stringify(first)));
    expect(again.response.headers.get('x-tokenledger-cache')).toBe('hit');
    // Another user is another cache partition: a miss.
    await meter.run({ user: 'u2' }, () => anthropic.messages.create(ask()));
    expect(fake.count('/v1/messages')).toBe(2);
    // Streaming calls are never served from the cache.
    const s = await meter.run({ user: 'u1' }, () => anthropic.messages.create({ ...ask(), stream: true }));
    for await (const _ of s) {
      // consume
    }
    expect(fake.count('/v1/messages')).toBe(3);
    const hits = events(meter).filter((e) => e.attribution.tags?.cache === 'hit');
    expect(hits).toHaveLength(1);
    expect(hits[0]!.cost.nanoUsd).toBe(0);
    expect(hits[0]!.usage.outputTokens).toBe(0);
    expect(hits[0]!.attribution.tags?.cacheSavedNanoUsd).toBe('3525000'); // the first call's cost
  });

  it('a cache hit needs no budget room', async () => {
    const { meter } = meterFor({ cache: { ttlMs: 60_000 } });
    const anthropic = meter.wrap(anthropicClient());
    await anthropic.messages.create(ask());
    meter.budget({ scope: {}, limitUsd: 0.000001, window: 'run' });
    await expect(anthropic.messages.create(ask())).resolves.toMatchObject({ type: 'message' });
    expect(fake.count()).toBe(1);
  });
});

describe('alerts through the meter', () => {
  it('posts each threshold once per window, and a restarted meter does not resend', async () => {
    const received: { text?: string }[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hooks/budget`;
    try {
      const home = tempDir();
      const file = join(home, 'ledger.db');
      const start = async () => {
        const meter = createMeter({ ledger: file, alerts: { webhooks: [url] }, onError: () => {} });
        meter.budget({ id: 'team', scope: {}, limitUsd: 0.005, window: 'run', mode: 'alert' });
        return { meter, anthropic: meter.wrap(anthropicClient()) };
      };
      // $0.003525 per call against $0.005: 70.5% → the 50% alert.
      let m = await start();
      await m.anthropic.messages.create(ask());
      await m.meter.flushAlerts();
      await m.meter.close();
      expect(received.map((r) => r.text)).toEqual([expect.stringContaining('reached 50%')]);
      // Restart: same spend seen again → nothing; a second call makes 141% → one message for 100%.
      m = await start();
      await m.anthropic.messages.create(ask());
      await m.meter.flushAlerts();
      await m.meter.close();
      expect(received).toHaveLength(2);
      expect(received[1]!.text).toContain('reached 100%');
      // A third process: every threshold of this window already sent.
      m = await start();
      await m.anthropic.messages.create(ask());
      await m.meter.flushAlerts();
      await m.meter.close();
      expect(received).toHaveLength(2);
    } finally {
      hook.close();
    }
  });
});

describe('clients that are not Stainless SDKs', () => {
  it('a create() returning a plain promise is metered too', async () => {
    const { meter } = meterFor();
    const client = {
      messages: {
        create: async (p: { model: string }) => ({
          id: 'msg_plain',
          type: 'message',
          model: p.model,
          usage: { input_tokens: 1000, output_tokens: 100 },
        }),
      },
    };
    meter.wrap(client);
    const r = await client.messages.create({ model: 'claude-haiku-4-5' });
    expect(r.id).toBe('msg_plain');
    const [e] = events(meter);
    // 1000×$1 + 100×$5 per MTok = 1,500 µ$
    expect(e!.cost.nanoUsd).toBe(1_500_000);
  });
});

describe('process exit', () => {
  it('events still buffered when a process exits without close() are written', async () => {
    const home = tempDir();
    const file = join(home, 'exit.db');
    const script = join(home, 'exit.mjs');
    const dist = new URL('../dist/meter/meter.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { createMeter } from '${dist}';
       const meters = Array.from({ length: 12 }, () => createMeter({ ledger: ${JSON.stringify(file)}, flushIntervalMs: 60000 }));
       meters.forEach((m, i) => m.record({ id: 'exit-' + i, model: 'gpt-4.1-mini', usage: { inputTokens: 1000 } }));
       process.exit(0);`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('MaxListenersExceededWarning');
    const ledger = openSqliteLedger(file);
    try {
      // 12 meters, 12 events, none closed: the one exit listener flushed them all.
      expect(
        ledger
          .events()
          .map((e) => e.id)
          .sort(),
      ).toEqual(Array.from({ length: 12 }, (_, i) => `exit-${i}`).sort());
    } finally {
      ledger.close();
    }
  });
});
