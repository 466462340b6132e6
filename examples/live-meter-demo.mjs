// The live meter end to end, with no network and no API key: the real Anthropic and OpenAI SDK
// clients talk to an in-process stand-in for the providers (their `fetch` option), everything else
// is what your code would do.
//
//   npm run build && node examples/live-meter-demo.mjs /tmp/demo-ledger.db
//   node dist/cli/main.js report --by agent --ledger /tmp/demo-ledger.db
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { BudgetExceededError, createMeter } from '../dist/index.js';

const ledger = process.argv[2] ?? '/tmp/demo-ledger.db';

// What the providers would answer (usage as they report it).
let n = 0;
const answer = (body) => async () =>
  new Response(JSON.stringify({ ...body, id: `${body.id}${++n}` }), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
const claude = answer({
  id: 'msg_demo',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [{ type: 'text', text: 'Plan: 1. gather 2. summarise' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: {
    input_tokens: 1200,
    cache_read_input_tokens: 18000,
    cache_creation_input_tokens: 2000,
    cache_creation: { ephemeral_5m_input_tokens: 2000, ephemeral_1h_input_tokens: 0 },
    output_tokens: 850,
  },
});
const gpt = answer({
  id: 'resp_demo',
  object: 'response',
  model: 'gpt-4.1-mini-2025-04-14',
  status: 'completed',
  output: [],
  usage: {
    input_tokens: 6000,
    input_tokens_details: { cached_tokens: 4000 },
    output_tokens: 400,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 6400,
  },
});

const meter = createMeter({ ledger });
const anthropic = meter.wrap(new Anthropic({ apiKey: 'demo', fetch: claude }));
const openai = meter.wrap(new OpenAI({ apiKey: 'demo', fetch: gpt }));
meter.budget({ scope: { run: '*' }, limitUsd: 0.1, window: 'run' });

await meter.run({ run: 'nightly-42', agent: 'planner', user: 'u1', feature: 'digest' }, async () => {
  await anthropic.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Plan the nightly digest.' }],
  });
  await Promise.all(
    ['eu', 'us'].map((region) =>
      meter.run({ agent: 'summarizer', task: region }, () =>
        openai.responses.create({ model: 'gpt-4.1-mini', input: `Summarise ${region}.`, max_output_tokens: 800 }),
      ),
    ),
  );
  try {
    // Worst case 64,000 output tokens × $15/MTok = $0.96: over the run's $0.10, refused before sending.
    await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 64_000,
      messages: [{ role: 'user', content: 'Write everything.' }],
    });
  } catch (err) {
    if (!(err instanceof BudgetExceededError)) throw err;
    console.log(`refused: ${err.message}`);
  }
});
await meter.close();
console.log(`ledger: ${ledger}`);
