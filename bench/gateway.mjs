#!/usr/bin/env node
// The gateway's benchmark (issue 6): latency the gateway adds over calling the same mock upstream
// directly, at a paced rate (default 1,000 requests/s) on loopback, for JSON and SSE answers.
//
//   npm run build && node bench/gateway.mjs
//   GW_BENCH_ROUNDS=5 GW_BENCH_SECONDS=10 node bench/gateway.mjs
//   node bench/gateway.mjs --mock-upstream 9999   (only the mock provider, to try the gateway by hand)
//
// Threads, each with its own event loop: the mock upstream (answers at once: an Anthropic message
// as JSON, or as an SSE stream of 10 events), a bare proxy, the gateways (as `tokenledger gateway`
// runs: SQLite store on its own thread — GW_BENCH_STORE=inline keeps it on the gateway's thread —,
// a gateway key, a held provider key, request logs written to /dev/null), and the load generator
// (this thread: open loop, requests sent on schedule whether or not earlier ones finished, over
// keep-alive connections; latency = request sent → last byte received).
//
// Targets, measured in GW_BENCH_ROUNDS rounds (default 3) of GW_BENCH_SECONDS (5) each after a
// GW_BENCH_WARMUP (1 s) warm-up, every target once per round in turn:
//   direct            client → upstream
//   bare proxy        client → node:http pipe proxy → upstream (the floor of any Node proxy)
//   gateway           client → gateway → upstream (metered, written to the ledger)
//   gateway+budget    the same with a budget on the key (a reservation before each call)
// GW_BENCH_ONLY='gateway,bare proxy' and GW_BENCH_MODES=SSE pick some; GW_BENCH_RATE (1000).
// GW_BENCH_BASE=DIR adds `gateway (base)`: the gateway from another build's `dist` (with its
// package's node_modules reachable from it), to compare two builds within one run.
// Prints medians over the rounds of p50/p99 (and the p99 range), mean, max, throughput, the
// gateway's event-loop utilisation, and the latency added (target − direct of the same round) at
// p50 and p99 against the target (p99 added ≤ 1 ms).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.GW_BENCH_ROUNDS ?? 3);
const RATE = Number(process.env.GW_BENCH_RATE ?? 1000);
const WARMUP_S = Number(process.env.GW_BENCH_WARMUP ?? 1);
const ONLY = process.env.GW_BENCH_ONLY?.split(',');
const MODES = process.env.GW_BENCH_MODES?.split(',');

const MODEL = 'claude-haiku-4-5';
const PROMPT = 'Summarise the attached quarterly figures in three bullet points for the board.';
const usage = {
  input_tokens: 25,
  cache_creation_input_tokens: 500,
  cache_read_input_tokens: 1000,
  cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 300 },
  output_tokens: 40,
};

// -------------------------------------------------------------------------------------------------
// Mock upstream (worker)

function upstreamMain(port = 0, onListening = (url) => parentPort.postMessage({ url })) {
  let seq = 0;
  // OpenAI chat (for demos: `--mock-upstream`): a completion, or a stream with its usage chunk when asked.
  const chat = (body, stream) => {
    const id = `chatcmpl-bench${++seq}`;
    const model = /"model"\s*:\s*"([^"]+)"/.exec(body)?.[1] ?? 'gpt-4.1-mini';
    const u = {
      prompt_tokens: 1000,
      completion_tokens: 60,
      total_tokens: 1060,
      prompt_tokens_details: { cached_tokens: 900 },
    };
    if (!stream)
      return JSON.stringify({
        id,
        object: 'chat.completion',
        created: 1,
        model,
        choices: [
          { index: 0, message: { role: 'assistant', content: 'Revenue up 12%.' }, finish_reason: 'stop' },
        ],
        usage: u,
      });
    const withUsage = /"include_usage"\s*:\s*true/.test(body);
    const chunk = (choices, extra = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model, choices, ...(withUsage ? { usage: null } : {}), ...extra })}\n\n`;
    return (
      chunk([{ index: 0, delta: { role: 'assistant', content: 'Revenue up 12%.' }, finish_reason: null }]) +
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) +
      (withUsage ? chunk([], { usage: u }) : '') +
      'data: [DONE]\n\n'
    );
  };
  const json = () =>
    JSON.stringify({
      id: `msg_bench${++seq}`,
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [{ type: 'text', text: 'Revenue up 12%; costs flat; margin 31%.' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage,
    });
  const sse = () => {
    const id = `msg_bench${++seq}`;
    const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    const words = ['Revenue ', 'up ', '12%; ', 'costs ', 'flat; ', 'margin 31%.'];
    return (
      ev('message_start', {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: MODEL,
          content: [],
          usage: { ...usage, output_tokens: 1 },
        },
      }) +
      ev('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }) +
      words
        .map((text) =>
          ev('content_block_delta', {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text },
          }),
        )
        .join('') +
      ev('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 40 },
      }) +
      ev('message_stop', { type: 'message_stop' })
    );
  };
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const stream = /"stream"\s*:\s*true/.test(raw);
      if (req.url?.startsWith('/v1/chat/completions')) {
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
        res.end(chat(raw, stream));
      } else if (stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': `req_${seq}` });
        res.end(sse());
      } else {
        const body = json();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
    });
  });
  server.listen(port, '127.0.0.1', () => onListening(`http://127.0.0.1:${server.address().port}`));
}

// -------------------------------------------------------------------------------------------------
// Bare proxy (worker): node:http in, http.request out, bytes piped, nothing read. The floor any
// Node proxy pays on this machine; the gateway's own cost is what it adds above this.

function bareMain({ upstream }) {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const out = http.request(
      { hostname: up.hostname, port: up.port, path: req.url, method: req.method, headers, agent },
      (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(out);
  });
  let elu = performance.eventLoopUtilization();
  parentPort.on('message', (m) => {
    if (m === 'mark') elu = performance.eventLoopUtilization();
    else if (m === 'elu') parentPort.postMessage({ elu: performance.eventLoopUtilization(elu).utilization });
    else if (m === 'close') server.close(() => parentPort.postMessage({ closed: true, events: -1 }));
  });
  server.listen(0, '127.0.0.1', () =>
    parentPort.postMessage({ url: `http://127.0.0.1:${server.address().port}`, key: 'sk-ant-direct' }),
  );
}

// -------------------------------------------------------------------------------------------------
// Gateway (worker)

async function gatewayMain({ upstream, budget, dist: distDir }) {
  const dist = distDir ? new URL(`file://${path.resolve(distDir)}/`) : new URL('../dist/', import.meta.url);
  const { createGateway } = await import(new URL('gateway/server.js', dist));
  const { newGatewayKey } = await import(new URL('gateway/keys.js', dist));
  const { openSqliteShared } = await import(new URL('store/shared.js', dist));
  const { openSqliteSharedThreaded } = await import(new URL('gateway/sqlite-thread.js', dist));
  const { lineWriter } = await import(new URL('gateway/server.js', dist));
  const { createPriceBook } = await import(new URL('prices/price-book.js', dist));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokenledger-gw-bench-'));
  const store =
    process.env.GW_BENCH_STORE === 'inline'
      ? openSqliteShared(path.join(dir, 'ledger.db'))
      : await openSqliteSharedThreaded(path.join(dir, 'ledger.db'));
  const { key, record } = newGatewayKey({ tenant: 'bench', ...(budget ? { budget: '1000000/30d' } : {}) });
  await store.putKey(record);
  // As `tokenledger gateway` runs: the store on its own thread, logs batched per loop turn (to /dev/null here).
  const log = lineWriter(fs.createWriteStream('/dev/null'));
  const gw = createGateway({
    store,
    priceBook: createPriceBook(),
    upstreams: { anthropic: upstream },
    providerKeys: { anthropic: 'sk-ant-bench-held-key' },
    logger: log,
  });
  const url = await gw.listen(0, '127.0.0.1');
  let elu = performance.eventLoopUtilization();
  parentPort.on('message', async (m) => {
    if (m === 'mark') elu = performance.eventLoopUtilization();
    else if (m === 'elu') parentPort.postMessage({ elu: performance.eventLoopUtilization(elu).utilization });
    else if (m === 'close') {
      await gw.close();
      const events = (await store.aggregate('model')).totals.events;
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
      parentPort.postMessage({ closed: true, events });
    }
  });
  parentPort.postMessage({ url, key });
}

// -------------------------------------------------------------------------------------------------
// Load generator (main thread)

function startWorker(data) {
  const w = new Worker(new URL(import.meta.url), { workerData: data });
  const first = new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return { w, first };
}

const ask = (w, msg) =>
  new Promise((resolve) => {
    w.once('message', resolve);
    w.postMessage(msg);
  });

function oneRequest(agent, url, body, headers) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ ms: performance.now() - t0, ok: res.statusCode === 200 }));
      res.on('error', () => resolve({ ms: performance.now() - t0, ok: false }));
    });
    req.on('error', () => resolve({ ms: performance.now() - t0, ok: false }));
    req.end(body);
  });
}

/** Sends `rate` requests per second for `seconds`, on schedule (open loop); returns latencies. */
async function paced(target, seconds, rate) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const body = JSON.stringify({
    model: MODEL,
    max_tokens: 256,
    ...(target.stream ? { stream: true } : {}),
    messages: [{ role: 'user', content: PROMPT }],
  });
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'anthropic-version': '2023-06-01',
    'x-api-key': target.key ?? 'sk-ant-direct',
    'x-tokenledger-run': 'bench',
    'x-tokenledger-agent': 'loadgen',
  };
  const url = `${target.url}/v1/messages`;
  const total = Math.round(seconds * rate);
  const results = [];
  const pending = [];
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        sent++;
        pending.push(oneRequest(agent, url, body, headers).then((r) => results.push(r)));
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  const wallS = (performance.now() - start) / 1000;
  agent.destroy();
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return {
    n: ms.length,
    errors: results.filter((r) => !r.ok).length,
    p50: q(0.5),
    p99: q(0.99),
    mean: ms.reduce((s, x) => s + x, 0) / ms.length,
    max: ms[ms.length - 1],
    rps: ms.length / wallS,
  };
}

async function main() {
  if (!fs.existsSync(new URL('../dist/gateway/server.js', import.meta.url))) {
    console.error('bench/gateway.mjs: run `npm run build` first');
    process.exit(1);
  }
  console.log(
    `tokenledger gateway benchmark · ${RATE} req/s for ${SECONDS} s per run (after ${WARMUP_S} s warm-up) · ` +
      `${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''} · Node ${process.version}`,
  );
  const up = startWorker({ role: 'upstream' });
  const { url: upstream } = await up.first;
  const gws = {};
  for (const [name, data] of [
    ['bare proxy', { role: 'bare', upstream }],
    ['gateway', { role: 'gateway', upstream, budget: false }],
    ['gateway+budget', { role: 'gateway', upstream, budget: true }],
    ...(process.env.GW_BENCH_BASE
      ? [['gateway (base)', { role: 'gateway', upstream, budget: false, dist: process.env.GW_BENCH_BASE }]]
      : []),
  ]) {
    if (ONLY && !ONLY.includes(name)) continue;
    const g = startWorker(data);
    gws[name] = { ...(await g.first), w: g.w };
  }
  // Rounds: every target once per round, in turn, so a noisy moment of the machine hits them all;
  // each figure below is the median over the rounds (p99 also as its min–max range).
  const runs = [];
  for (const stream of [false, true]) {
    const mode = stream ? 'SSE' : 'JSON';
    if (MODES && !MODES.includes(mode)) continue;
    const targets = [
      { name: 'direct', url: upstream },
      ...Object.entries(gws).map(([name, g]) => ({ name, url: g.url, key: g.key, w: g.w })),
    ];
    for (let round = 0; round < ROUNDS; round++)
      for (const t of targets) {
        await paced({ ...t, stream }, WARMUP_S, RATE);
        if (t.w) t.w.postMessage('mark');
        const r = await paced({ ...t, stream }, SECONDS, RATE);
        const elu = t.w ? (await ask(t.w, 'elu')).elu : undefined;
        runs.push({ mode, name: t.name, ...r, elu });
      }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const rows = [];
  for (const mode of MODES ?? ['JSON', 'SSE'])
    for (const name of ['direct', ...Object.keys(gws)]) {
      const rs = runs.filter((r) => r.mode === mode && r.name === name);
      const pick = (k) => median(rs.map((r) => r[k]));
      rows.push({
        mode,
        name,
        n: rs.reduce((s, r) => s + r.n, 0),
        errors: rs.reduce((s, r) => s + r.errors, 0),
        rps: pick('rps'),
        p50: pick('p50'),
        p99: pick('p99'),
        p99min: Math.min(...rs.map((r) => r.p99)),
        p99max: Math.max(...rs.map((r) => r.p99)),
        mean: pick('mean'),
        max: Math.max(...rs.map((r) => r.max)),
        elu: name === 'direct' ? undefined : pick('elu'),
        // Added latency per round (each round's direct run is its baseline), then the median.
        added: rs.map((r, i) => {
          const d = runs.filter((x) => x.mode === mode && x.name === 'direct')[i];
          return { p50: r.p50 - d.p50, p99: r.p99 - d.p99 };
        }),
      });
    }
  const f = (x) => x.toFixed(3);
  console.log('');
  console.log(
    `answer  target          requests  errors  req/s   p50 ms  p99 ms (${ROUNDS} rounds: min–max)  mean ms  max ms  gateway loop busy`,
  );
  for (const r of rows)
    console.log(
      `${r.mode.padEnd(6)}  ${r.name.padEnd(14)}  ${String(r.n).padStart(8)}  ${String(r.errors).padStart(6)}  ${r.rps.toFixed(0).padStart(5)}  ` +
        `${f(r.p50).padStart(6)}  ${f(r.p99).padStart(6)} (${f(r.p99min)}–${f(r.p99max)})`.padEnd(43) +
        `${f(r.mean).padStart(7)}  ${f(r.max).padStart(6)}  ${r.elu === undefined ? '' : `${(r.elu * 100).toFixed(1)}%`}`,
    );
  console.log('');
  let allMet = true;
  for (const mode of MODES ?? ['JSON', 'SSE']) {
    for (const name of Object.keys(gws)) {
      const g = rows.find((r) => r.mode === mode && r.name === name);
      const p50 = median(g.added.map((a) => a.p50));
      const p99 = median(g.added.map((a) => a.p99));
      const met = p99 <= 1 && g.errors === 0;
      if (name === 'gateway') allMet &&= met;
      console.log(
        `${mode.padEnd(4)} ${name.padEnd(14)} added p50 ${f(p50)} ms, p99 ${f(p99)} ms ` +
          `(rounds: ${g.added.map((a) => f(a.p99)).join(', ')}), throughput ${g.rps.toFixed(0)} req/s — ` +
          `p99 added ≤ 1 ms: ${met ? 'MET' : 'NOT MET'}`,
      );
    }
  }
  for (const g of Object.values(gws)) {
    const closed = await ask(g.w, 'close');
    if (closed.events === 0) console.log('warning: a gateway recorded no events');
    await g.w.terminate();
  }
  await up.w.terminate();
  console.log(`\ntarget (gateway, no budget, JSON and SSE): ${allMet ? 'met' : 'not met'}`);
}

const mock = process.argv.indexOf('--mock-upstream');
if (isMainThread && mock >= 0)
  // A stand-in provider for trying the gateway without an API key (Anthropic messages, OpenAI chat).
  upstreamMain(Number(process.argv[mock + 1] ?? 0), (url) => console.log(`mock upstream on ${url}`));
else if (isMainThread) await main();
else if (workerData.role === 'upstream') upstreamMain();
else if (workerData.role === 'bare') bareMain(workerData);
else await gatewayMain(workerData);
