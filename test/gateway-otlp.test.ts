import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { totalTokens } from '../src/core/usage.js';
import { createPriceBook } from '../src/prices/price-book.js';
import { parseOtlpFile } from '../src/sources/otlp.js';
import { type GatewayFixture, startGatewayFixture, startScriptedUpstream, until } from './helpers/gateway.js';
import { removeTempDirs } from './helpers/tmp.js';

const fixtures: GatewayFixture[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.close();
  for (const c of closers.splice(0)) await c();
  removeTempDirs();
});

type KV = { key: string; value: Record<string, unknown> };
const attrs = (list: KV[]) =>
  Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]])) as Record<string, unknown>;

/** A local OTLP/HTTP receiver (JSON): records what is posted to /v1/traces and /v1/metrics. */
async function receiver(status = 200) {
  const up = await startScriptedUpstream((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{}');
  });
  closers.push(up.close);
  return up;
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('gateway: OTLP export', () => {
  it('exports each call as a GenAI span and token metrics that read back to the same tokens', async () => {
    const otlp = await receiver();
    const f = await startGatewayFixture({ otlpEndpoint: otlp.url, otlp: { flushIntervalMs: 20 } });
    fixtures.push(f);
    const { key } = await f.key('acme');
    await new Anthropic({
      apiKey: key,
      baseURL: f.url,
      maxRetries: 0,
      defaultHeaders: {
        traceparent: TRACEPARENT,
        'x-tokenledger-agent': 'planner',
        'x-tokenledger-session': 's1',
      },
    }).messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await new OpenAI({ apiKey: key, baseURL: `${f.url}/v1`, maxRetries: 0 }).chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    await f.gw.flush();
    await until(() => otlp.requests.length >= 2, 3000, 'the OTLP posts');
    const traces = otlp.requests.filter((r) => r.path === '/v1/traces').map((r) => JSON.parse(r.body));
    const metrics = otlp.requests.filter((r) => r.path === '/v1/metrics').map((r) => JSON.parse(r.body));
    expect(otlp.requests.every((r) => r.headers['content-type'] === 'application/json')).toBe(true);
    const rs = traces.flatMap((t) => t.resourceSpans);
    expect(attrs(rs[0].resource.attributes)['service.name']).toBe('tokenledger-gateway');
    const spans = rs.flatMap((r: { scopeSpans: { spans: unknown[] }[] }) =>
      r.scopeSpans.flatMap((s) => s.spans),
    ) as {
      traceId: string;
      parentSpanId?: string;
      spanId: string;
      name: string;
      kind: number;
      startTimeUnixNano: string;
      endTimeUnixNano: string;
      attributes: KV[];
    }[];
    expect(spans).toHaveLength(2);
    const [a, o] = spans;
    expect(a!.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(a!.parentSpanId).toBe('00f067aa0ba902b7');
    expect(a!.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(a!.name).toBe('chat claude-haiku-4-5');
    expect(a!.kind).toBe(3);
    expect(BigInt(a!.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(a!.startTimeUnixNano));
    expect(attrs(a!.attributes)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.system': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.response.model': 'claude-haiku-4-5',
      'gen_ai.response.id': expect.stringMatching(/^msg_fake/),
      'gen_ai.usage.input_tokens': '1525',
      'gen_ai.usage.output_tokens': '40',
      'gen_ai.usage.cache_read.input_tokens': '1000',
      'gen_ai.usage.cache_creation.input_tokens': '500',
      'tokenledger.usage.cache_creation_1h.input_tokens': '300',
      'gen_ai.agent.name': 'planner',
      'gen_ai.conversation.id': 's1',
      'tokenledger.tenant': 'acme',
      'http.response.status_code': '200',
    });
    expect(o!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(o!.parentSpanId).toBeUndefined();
    expect(attrs(o!.attributes)).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': '1000',
      'gen_ai.usage.output_tokens': '60',
      'gen_ai.usage.reasoning.output_tokens': '20',
    });

    const ms = metrics.flatMap((m) =>
      m.resourceMetrics.flatMap((r: { scopeMetrics: { metrics: unknown[] }[] }) =>
        r.scopeMetrics.flatMap((s) => s.metrics),
      ),
    ) as { name: string; histogram?: { dataPoints: { attributes: KV[]; sum: number; count: string }[] } }[];
    const usage = ms
      .filter((m) => m.name === 'gen_ai.client.token.usage')
      .flatMap((m) => m.histogram!.dataPoints);
    const sumOf = (type: string) =>
      usage.filter((p) => attrs(p.attributes)['gen_ai.token.type'] === type).reduce((s, p) => s + p.sum, 0);
    expect([sumOf('input'), sumOf('output')]).toEqual([1525 + 1000, 40 + 60]);
    expect(ms.map((m) => m.name)).toEqual(
      expect.arrayContaining(['gen_ai.client.operation.duration', 'tokenledger.cost']),
    );

    // tokenledger's own OTLP reader gets the same tokens back from the exported spans.
    const file = join(f.dir, 'exported.json');
    writeFileSync(file, traces.map((t) => JSON.stringify(t)).join('\n'));
    const back = parseOtlpFile(file, createPriceBook());
    expect(back.problems).toEqual([]);
    const ledger = await f.store.events();
    const sum = (es: { usage: Parameters<typeof totalTokens>[0] }[]) =>
      es.reduce((s, e) => s + totalTokens(e.usage), 0);
    expect(back.events).toHaveLength(2);
    expect(sum(back.events)).toBe(sum(ledger));
    expect(back.events.map((e) => e.model).sort()).toEqual(['claude-haiku-4-5', 'gpt-4.1-mini']);
  });

  it('a failing collector is logged and never fails a call', async () => {
    const otlp = await receiver(503);
    const f = await startGatewayFixture({ otlpEndpoint: otlp.url, otlp: { flushIntervalMs: 10 } });
    fixtures.push(f);
    const { key } = await f.key('acme');
    const msg = await new Anthropic({ apiKey: key, baseURL: f.url, maxRetries: 0 }).messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.id).toMatch(/^msg_fake/);
    await f.gw.flush();
    const errors = f.logs.filter((l) => l.level === 'error');
    expect(errors.map((e) => e.where)).toEqual(['otlp', 'otlp']);
    expect(String(errors[0]!.error)).toMatch(/HTTP 503/);
  });
});
