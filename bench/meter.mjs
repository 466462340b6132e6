#!/usr/bin/env node
// The live meter's benchmark (issue 4):
//  1. overhead a wrapped SDK call adds over the bare client, both on the same in-process fake
//     transport (a `fetch` that answers at once, no network), p50/p99/mean per call;
//  2. ledger write throughput, batched, against a named baseline: plain better-sqlite3 INSERTs of
//     the same rows in the same batches (no upsert, no dedup) — the floor the ledger builds on.
//
//   npm run bench:meter      (builds first)
//   METER_CALLS=2000 METER_ROUNDS=10 METER_EVENTS=200000 node bench/meter.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { createMeter, meterEventId } from '../dist/meter/meter.js';
import { openSqliteLedger } from '../dist/store/sqlite.js';

const CALLS = Number(process.env.METER_CALLS ?? 2000);
const ROUNDS = Number(process.env.METER_ROUNDS ?? 10);
const EVENTS = Number(process.env.METER_EVENTS ?? 200_000);
const BATCH = 1000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenledger-bench-'));

const anthropicBody = JSON.stringify({
  id: 'msg_bench',
  type: 'message',
  role: 'assistant',
  model: 'claude-opus-4-1',
  content: [{ type: 'text', text: 'Hello from the in-process transport.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: {
    input_tokens: 25,
    cache_creation_input_tokens: 500,
    cache_read_input_tokens: 1000,
    cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 300 },
    output_tokens: 40,
  },
});
const openaiBody = JSON.stringify({
  id: 'chatcmpl_bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4.1-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.' }, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 1000,
    completion_tokens: 60,
    total_tokens: 1060,
    prompt_tokens_details: { cached_tokens: 900 },
  },
});

let seq = 0;
const fakeFetch = (body) => async () =>
  new Response(body.replace('_bench', `_bench${++seq}`), {
    status: 200,
    headers: { 'content-type': 'application/json', 'request-id': 'req_bench' },
  });

const anthropicReq = {
  model: 'claude-opus-4-1',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Summarise the attached quarterly figures in three bullet points.' }],
};
const openaiReq = {
  model: 'gpt-4.1-mini',
  max_completion_tokens: 1024,
  messages: [{ role: 'user', content: 'Summarise the attached quarterly figures in three bullet points.' }],
};

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timeCalls(call, n, out) {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await call();
    out.push(Number(process.hrtime.bigint() - t) / 1000);
  }
}

async function overhead(name, makeClient, call) {
  const bare = makeClient();
  const meterPlain = createMeter({
    ledger: path.join(dir, `${name}-plain.db`),
    onError: (e) => console.error(e),
  });
  const wrapped = meterPlain.wrap(makeClient());
  const meterBudget = createMeter({
    ledger: path.join(dir, `${name}-budget.db`),
    onError: (e) => console.error(e),
  });
  meterBudget.budget({ scope: { run: '*' }, limitUsd: 1e6, window: 'run' });
  const budgeted = meterBudget.wrap(makeClient());
  const arms = {
    bare: { fn: () => call(bare), t: [] },
    wrapped: { fn: () => meterPlain.run({ run: 'bench', agent: 'a' }, () => call(wrapped)), t: [] },
    'wrapped+budget': {
      fn: () => meterBudget.run({ run: 'bench', agent: 'a' }, () => call(budgeted)),
      t: [],
    },
  };
  for (const a of Object.values(arms)) await timeCalls(a.fn, Math.min(CALLS, 1000), []); // warm-up
  // Interleaved rounds: the machine's drift hits every arm alike.
  for (let r = 0; r < ROUNDS; r++) for (const a of Object.values(arms)) await timeCalls(a.fn, CALLS, a.t);
  const stats = {};
  for (const [k, a] of Object.entries(arms)) {
    const s = a.t.slice().sort((x, y) => x - y);
    stats[k] = {
      p50: quantile(s, 0.5),
      p99: quantile(s, 0.99),
      mean: s.reduce((x, y) => x + y, 0) / s.length,
    };
  }
  meterPlain.flush();
  const recorded = meterPlain.ledger.events().length;
  await meterPlain.close();
  await meterBudget.close();
  console.log(`\n${name}: ${ROUNDS} interleaved rounds × ${CALLS} sequential calls per arm (µs per call)`);
  console.log('  arm              p50      p99     mean   added p50 vs bare');
  for (const [k, s] of Object.entries(stats)) {
    const added = k === 'bare' ? '' : `${(s.p50 - stats.bare.p50).toFixed(1).padStart(8)}`;
    console.log(
      `  ${k.padEnd(15)}${s.p50.toFixed(1).padStart(6)}${s.p99.toFixed(1).padStart(9)}${s.mean.toFixed(1).padStart(9)}${added}`,
    );
  }
  console.log(
    `  events in the ledger: ${recorded} (expected ${(ROUNDS * CALLS + Math.min(CALLS, 1000)).toLocaleString()}, ids are the response ids)`,
  );
  return {
    added: stats.wrapped.p50 - stats.bare.p50,
    addedBudget: stats['wrapped+budget'].p50 - stats.bare.p50,
  };
}

function sampleEvents(n, runOf) {
  const out = [];
  const t0 = Date.UTC(2026, 10, 1);
  for (let i = 0; i < n; i++) {
    out.push({
      event: {
        // Ids as the meter makes them: time first, then a provider response id (random).
        id: meterEventId(t0 + i * 1000, `anthropic:msg_${Math.random().toString(36).slice(2, 14)}`),
        ts: t0 + i * 1000,
        source: 'meter',
        provider: 'anthropic',
        model: i % 3 ? 'claude-sonnet-4-5' : 'claude-haiku-4-5',
        usage: {
          inputTokens: 25 + (i % 100),
          cacheReadTokens: 1000,
          cacheWrite5mTokens: 200,
          cacheWrite1hTokens: 300,
          outputTokens: 40 + (i % 50),
          reasoningTokens: 0,
          unsplitTokens: 0,
          webSearchRequests: 0,
        },
        cost: { nanoUsd: 3_525_000 + i, priceSource: 'genai-prices@0.1.8', estimated: false },
        attribution: {
          run: runOf(i),
          agentName: ['planner', 'researcher', 'critic'][i % 3],
          agentPath: `main/planner#1/researcher#${i % 7}`,
          user: `u${i % 20}`,
          feature: 'digest',
        },
      },
      origin: { rank: 0, firstTs: null, file: '', line: 0 },
    });
  }
  return out;
}

function writeRate(events, name) {
  const ledger = openSqliteLedger(path.join(dir, `${name}.db`));
  let t = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += BATCH)
    ledger.commit({
      events: events.slice(i, i + BATCH),
      files: [],
      resetProblemsFor: [],
      problems: [],
      links: [],
    });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  // Idempotence under load: the same events again add nothing.
  t = process.hrtime.bigint();
  let inserted = 0;
  for (let i = 0; i < events.length; i += BATCH)
    inserted += ledger.commit({
      events: events.slice(i, i + BATCH),
      files: [],
      resetProblemsFor: [],
      problems: [],
      links: [],
    }).inserted;
  const again = Number(process.hrtime.bigint() - t) / 1e9;
  const stored = ledger.aggregate('agent').totals.events;
  ledger.close();
  return { s, again, inserted, stored };
}

function throughput() {
  // Realistic: a run is a burst of 50 consecutive calls. Adversarial: 500 runs interleaved call by
  // call, so every batch touches 500 places of the run index.
  const events = sampleEvents(EVENTS, (i) => `run-${Math.floor(i / 50)}`);
  const interleaved = sampleEvents(EVENTS, (i) => `run-${i % 500}`);
  // Baseline: the same rows, plain INSERTs, same batch size, same pragmas (WAL, synchronous NORMAL).
  const rawDb = new Database(path.join(dir, 'raw.db'));
  rawDb.pragma('journal_mode = WAL');
  rawDb.pragma('synchronous = NORMAL');
  rawDb.exec(
    'CREATE TABLE ev (id TEXT PRIMARY KEY, ts INTEGER, provider TEXT, model TEXT, input INTEGER, cache_read INTEGER, w5 INTEGER, w1 INTEGER, output INTEGER, cost INTEGER, run TEXT, agent TEXT, path TEXT, user TEXT, feature TEXT)',
  );
  const ins = rawDb.prepare('INSERT INTO ev VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)');
  const rawBatch = rawDb.transaction((batch) => {
    for (const { event: e } of batch) {
      const u = e.usage;
      const a = e.attribution;
      ins.run(
        e.id,
        e.ts,
        e.provider,
        e.model,
        u.inputTokens,
        u.cacheReadTokens,
        u.cacheWrite5mTokens,
        u.cacheWrite1hTokens,
        u.outputTokens,
        e.cost.nanoUsd,
        a.run,
        a.agentName,
        a.agentPath,
        a.user,
        a.feature,
      );
    }
  });
  const t = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += BATCH) rawBatch(events.slice(i, i + BATCH));
  const rawS = Number(process.hrtime.bigint() - t) / 1e9;
  rawDb.close();

  const real = writeRate(events, 'ledger');
  const adv = writeRate(interleaved, 'ledger-interleaved');

  // End to end through meter.record(): attribution, pricing, buffering, batched flushes.
  const meter = createMeter({ ledger: path.join(dir, 'record.db'), onError: (e) => console.error(e) });
  const n = Math.min(EVENTS, 100_000);
  const t2 = process.hrtime.bigint();
  meter.run({ run: 'bench', agent: 'writer' }, () => {
    for (let i = 0; i < n; i++)
      meter.record({
        model: 'claude-opus-4-1',
        provider: 'anthropic',
        usage: { inputTokens: 100 + (i % 10), outputTokens: 40 },
      });
  });
  meter.flush();
  const recordS = Number(process.hrtime.bigint() - t2) / 1e9;
  meter.close();

  const rate = (k, s) => `${Math.round(k / s).toLocaleString('en-US')} events/s`.padStart(16);
  console.log(`\nledger writes: ${EVENTS.toLocaleString('en-US')} events in batches of ${BATCH}`);
  console.log(
    `  baseline: plain better-sqlite3 INSERT (15 columns, primary key)  ${rawS.toFixed(2)} s ${rate(EVENTS, rawS)}`,
  );
  console.log(
    `  ledger.commit, runs of 50 calls                               ${real.s.toFixed(2)} s ${rate(EVENTS, real.s)}   ${(real.s / rawS).toFixed(2)}× the baseline's time`,
  );
  console.log(
    `  ledger.commit, 500 runs interleaved (adversarial)             ${adv.s.toFixed(2)} s ${rate(EVENTS, adv.s)}   ${(adv.s / rawS).toFixed(2)}×`,
  );
  console.log(
    `  same events again (all duplicates)                            ${real.again.toFixed(2)} s ${rate(EVENTS, real.again)}   inserted ${real.inserted}, stored ${real.stored.toLocaleString('en-US')}`,
  );
  console.log(
    `  meter.record() end to end (${n.toLocaleString('en-US')} calls)                     ${recordS.toFixed(2)} s ${rate(n, recordS)}`,
  );
  return { ledgerRate: EVENTS / real.s, advRate: EVENTS / adv.s, recordRate: n / recordS };
}

console.log(
  `tokenledger live-meter benchmark — node ${process.version}, ${os.cpus().length} cpus, ${os.cpus()[0]?.model ?? ''}`,
);
const a = await overhead(
  'Anthropic messages.create',
  () => new Anthropic({ apiKey: 'bench', maxRetries: 0, fetch: fakeFetch(anthropicBody) }),
  (c) => c.messages.create(anthropicReq),
);
const o = await overhead(
  'OpenAI chat.completions.create',
  () => new OpenAI({ apiKey: 'bench', maxRetries: 0, fetch: fakeFetch(openaiBody) }),
  (c) => c.chat.completions.create(openaiReq),
);
const w = throughput();
console.log('\ntargets');
const mark = (ok) => (ok ? 'met' : 'NOT met');
console.log(
  `  wrapped call adds ≤ 20 µs p50: Anthropic ${a.added.toFixed(1)} µs, OpenAI ${o.added.toFixed(1)} µs — ${mark(a.added <= 20 && o.added <= 20)}`,
);
console.log(
  `    (with a budget, reserve + settle in SQLite: Anthropic ${a.addedBudget.toFixed(1)} µs, OpenAI ${o.addedBudget.toFixed(1)} µs)`,
);
console.log(
  `  ledger writes ≥ 100k events/s batched: ${Math.round(w.ledgerRate).toLocaleString('en-US')} (interleaved runs: ${Math.round(w.advRate).toLocaleString('en-US')}) — ${mark(w.ledgerRate >= 100_000)}`,
);
fs.rmSync(dir, { recursive: true, force: true });
