import { join } from 'node:path';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BudgetExceededError } from '../src/core/budget.js';
import { createMeter, type Meter } from '../src/meter/meter.js';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

let fake: FakeProviders;
let meter: Meter;

beforeAll(async () => {
  fake = await startFakeProviders();
});
afterEach(async () => {
  fake.reset();
  await meter?.close();
  removeTempDirs();
});
afterAll(() => fake.close());

function setup() {
  meter = createMeter({ ledger: join(tempDir(), 'ledger.db'), onError: () => {} });
  const anthropic = createAnthropic({ apiKey: 'test-key', baseURL: `${fake.url}/v1` });
  const openai = createOpenAI({ apiKey: 'test-key', baseURL: fake.openaiBaseURL });
  const middleware = meter.aiSdkMiddleware();
  return {
    claude: wrapLanguageModel({ model: anthropic('claude-sonnet-4-5'), middleware }),
    gpt: wrapLanguageModel({ model: openai.chat('gpt-4.1-mini'), middleware }),
    gptResponses: wrapLanguageModel({ model: openai.responses('gpt-4.1-mini'), middleware }),
  };
}

const events = () => {
  meter.flush();
  return meter.ledger.events();
};

describe('AI SDK middleware (ai@6 wrapLanguageModel) against the real providers', () => {
  it('generateText with Anthropic: buckets incl. cache reads and writes, attributed to the scope', async () => {
    const { claude } = setup();
    const r = await meter.run({ run: 'ai', agent: 'writer' }, () =>
      generateText({ model: claude, prompt: 'hello', maxRetries: 0 }),
    );
    expect(r.text).toBe('Hello from the fake provider.');
    const [e, ...rest] = events();
    expect(rest).toEqual([]);
    expect(e!.provider).toBe('anthropic');
    expect(e!.model).toBe('claude-sonnet-4-5');
    // AI SDK v6 has no cache-write TTL: the 200 5m + 300 1h writes arrive as 500 writes (5m bucket).
    expect(e!.usage).toMatchObject({
      inputTokens: 25,
      cacheReadTokens: 1000,
      cacheWrite5mTokens: 500,
      outputTokens: 40,
    });
    expect(e!.attribution).toMatchObject({ run: 'ai', agentName: 'writer', agentPath: 'main/writer#1' });
    // 25×3 + 1000×0.3 + 500×3.75 + 40×15 = 75 + 300 + 1875 + 600 = 2,850 µ$
    expect(e!.cost.nanoUsd).toBe(2_850_000);
  });

  it('generateText with OpenAI chat: cached input split out', async () => {
    const { gpt } = setup();
    await generateText({ model: gpt, prompt: 'hello', maxRetries: 0 });
    const [e] = events();
    expect(e!.provider).toBe('openai');
    expect(e!.usage).toMatchObject({
      inputTokens: 100,
      cacheReadTokens: 900,
      outputTokens: 60,
      reasoningTokens: 20,
    });
    expect(e!.cost.nanoUsd).toBe(226_000);
  });

  it('streamText: usage read from the finish part, text passed through unchanged', async () => {
    const { claude, gptResponses } = setup();
    fake.setNext({ text: 'streamed words here', usage: { outputTokens: 13 } }, '/v1/messages');
    const s = streamText({ model: claude, prompt: 'hello', maxRetries: 0 });
    expect(await s.text).toBe('streamed words here');
    const s2 = streamText({ model: gptResponses, prompt: 'hello', maxRetries: 0 });
    await s2.text;
    const evs = events().sort((a, b) => a.provider.localeCompare(b.provider));
    expect(evs.map((e) => [e.provider, e.usage.outputTokens])).toEqual([
      ['anthropic', 13],
      ['openai', 60],
    ]);
  });

  it('a budget refuses before the provider is called', async () => {
    const { claude } = setup();
    meter.budget({ scope: { agent: 'writer' }, limitUsd: 0.001, window: '1d' });
    await expect(
      meter.run({ agent: 'writer' }, () =>
        generateText({ model: claude, prompt: 'hello', maxOutputTokens: 1000, maxRetries: 0 }),
      ),
    ).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof BudgetExceededError || (e as { cause?: unknown }).cause instanceof BudgetExceededError,
    );
    expect(fake.count()).toBe(0);
  });
});
