#!/usr/bin/env node
// Deterministic synthetic Claude Code log tree for tokenledger's benchmark and cross-checks.
//
//   node bench/gen-corpus.mjs OUT_DIR TARGET_MB [SEED]
//
// Shape (as ~/.claude): projects/<project>/<session>.jsonl, with sub-agent transcripts in
// projects/<project>/<session>/subagents/agent-<id>.jsonl (and sometimes agent-<id>.meta.json).
// It carries the traps real trees carry, so a reader that gets them wrong disagrees with the totals:
//   - one line per content block, earlier lines holding growing streamed `output_tokens` snapshots;
//   - each sub-agent call echoed in the parent as a `progress` line (same message.id + requestId);
//   - resumed sessions whose new file starts by repeating earlier calls (some only partially);
//   - `cache_creation` 5m/1h splits on a fraction of calls;
//   - a `Task` tool_use per sub-agent, answered by a `user` tool_result with `toolUseResult.agentId`;
//   - text with quotes, backslashes, JSON-looking fragments, tabs, newlines and non-ASCII.
// At the end it prints the exact expected totals as one JSON line: every unique call
// (message.id + requestId) counted once, with its final (largest) usage.
import fs from 'node:fs';
import path from 'node:path';

const MODELS = [
  'claude-sonnet-4-20250514',
  'claude-opus-4-1-20250805',
  'claude-haiku-4-5-20251001',
  'claude-sonnet-4-5-20250929',
];
const TOOLS = ['Read', 'Edit', 'Bash', 'Grep'];
const AGENT_TYPES = ['general-purpose', 'Explore', 'Plan', 'code-reviewer'];
// Words chosen to stress a scanner: quotes, escapes, JSON-like text, multi-byte UTF-8, control chars.
const WORDS = [
  ...'the of and to in is that for it as with was on be by this are from or have an they which at'.split(' '),
  ...'but not function const return usage message get going image quickly jazz zebra'.split(' '),
  '"quoted"',
  'path\\to\\file',
  '{"usage": 1}',
  '"output_tokens": 99',
  'naïve',
  'résumé',
  '日本語',
  'emoji 🚀',
  'tab\there',
  'line\nbreak',
  '<tag>',
  '&',
  'ok',
];
const VERSION = '2.1.30';
const START_MS = Date.UTC(2026, 0, 1);

// --- deterministic randomness -------------------------------------------------------------------

/** A small LCG: fast, seedable and identical on every platform (Math.random is none of these). */
function createRng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (items) => items[int(0, items.length - 1)];
  const hex = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[int(0, 15)];
    return s;
  };
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const chance = (p) => next() < p;
  return { next, int, pick, hex, uuid, chance };
}

function words(rng, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(rng.pick(WORDS));
  return out.join(' ');
}

// --- the generator state: a clock, the output budget and the ledger of unique calls -------------

function createContext(outDir, targetBytes, seed) {
  return {
    outDir,
    targetBytes,
    rng: createRng(seed),
    clockMs: START_MS,
    calls: new Map(), // `${message.id}|${requestId}` -> { model, usage } (final usage)
    // files/bytes/lines count the .jsonl transcripts (what a scanner reads); meta.json apart.
    stats: { files: 0, bytes: 0, lines: 0, metaFiles: 0, metaBytes: 0 },
  };
}

/** Advances the shared clock so timestamps increase through the whole tree. */
function tick(ctx, lo, hi) {
  ctx.clockMs += ctx.rng.int(lo, hi);
  return new Date(ctx.clockMs).toISOString();
}

function budgetLeft(ctx) {
  return ctx.stats.bytes + ctx.stats.metaBytes < ctx.targetBytes;
}

function writeJsonl(ctx, file, records) {
  const body = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
  writeFile(file, body);
  ctx.stats.files++;
  ctx.stats.bytes += Buffer.byteLength(body);
  ctx.stats.lines += records.length;
}

function writeMeta(ctx, file, meta) {
  const body = `${JSON.stringify(meta)}\n`;
  writeFile(file, body);
  ctx.stats.metaFiles++;
  ctx.stats.metaBytes += Buffer.byteLength(body);
}

function writeFile(file, body) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body);
}

// --- records -------------------------------------------------------------------------------------

/** Final usage of one call. A fraction carry the 5m/1h cache-write split, which always adds up. */
function finalUsage(rng) {
  const usage = {
    input_tokens: rng.int(1, 4000),
    cache_creation_input_tokens: rng.int(0, 20000),
    cache_read_input_tokens: rng.int(0, 150000),
    output_tokens: rng.int(1, 3000),
    service_tier: 'standard',
  };
  if (rng.chance(0.35)) {
    const oneHour = rng.chance(0.5) ? rng.int(0, usage.cache_creation_input_tokens) : 0;
    usage.cache_creation = {
      ephemeral_5m_input_tokens: usage.cache_creation_input_tokens - oneHour,
      ephemeral_1h_input_tokens: oneHour,
    };
  }
  return usage;
}

function toolUseBlock(rng, cwd) {
  return {
    type: 'tool_use',
    id: `toolu_${rng.hex(24)}`,
    name: rng.pick(TOOLS),
    input: { file_path: `${cwd}/src/${rng.hex(6)}.ts` },
  };
}

function taskBlock(task) {
  return {
    type: 'tool_use',
    id: task.toolUseId,
    name: 'Task',
    input: { subagent_type: task.agentType, description: task.description, prompt: task.prompt },
  };
}

/**
 * One API call written as one assistant line per content block. Every line but the last carries a
 * partial (smaller) output_tokens, as Claude Code writes streamed snapshots; the last block is the
 * tool_use (a Task when `task` is given) and carries the final usage.
 */
function assistantCall(ctx, head, model, task) {
  const { rng } = ctx;
  const messageId = `msg_01${rng.hex(22)}`;
  const requestId = `req_011${rng.hex(21)}`;
  const usage = finalUsage(rng);
  const blocks = rng.int(1, 3);
  const lines = [];
  let toolUse;
  for (let b = 0; b < blocks; b++) {
    const last = b === blocks - 1;
    if (last) toolUse = task ? taskBlock(task) : toolUseBlock(rng, head.cwd);
    const content = last ? [toolUse] : [{ type: 'text', text: words(rng, rng.int(5, 200)) }];
    const partialOutput = Math.max(1, Math.floor((usage.output_tokens * (b + 1)) / (blocks + 1)));
    lines.push({
      ...head,
      message: {
        id: messageId,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: last ? 'tool_use' : null,
        stop_sequence: null,
        usage: last ? usage : { ...usage, output_tokens: partialOutput },
      },
      requestId,
      type: 'assistant',
      uuid: rng.uuid(),
      timestamp: tick(ctx, 10, 500),
    });
  }
  ctx.calls.set(`${messageId}|${requestId}`, { model, usage });
  return { lines, toolUse };
}

/** The user turn answering the previous tool_use; for a Task it also names the sub-agent. */
function userRecord(ctx, head, answered) {
  const { rng } = ctx;
  const content = answered
    ? [{ type: 'tool_result', tool_use_id: answered.id, content: words(rng, rng.int(20, 1500)) }]
    : [{ type: 'text', text: words(rng, rng.int(5, 60)) }];
  const record = {
    ...head,
    type: 'user',
    message: { role: 'user', content },
    uuid: rng.uuid(),
    timestamp: tick(ctx, 1000, 90000),
  };
  if (answered?.agent) {
    record.toolUseResult = {
      status: 'completed',
      agentId: answered.agent.agentId,
      prompt: answered.agent.prompt,
      totalDurationMs: rng.int(2000, 600000),
      totalToolUseCount: answered.agent.calls,
    };
  }
  return record;
}

/** How newer Claude Code echoes a sub-agent's assistant line inside the parent transcript. */
function progressRecord(ctx, head, agent, line) {
  return {
    ...head,
    type: 'progress',
    data: {
      type: 'agent_progress',
      agentId: agent.agentId,
      message: {
        type: 'assistant',
        timestamp: line.timestamp,
        message: line.message,
        requestId: line.requestId,
        uuid: ctx.rng.uuid(),
      },
    },
    parentToolUseID: agent.toolUseId,
    uuid: ctx.rng.uuid(),
    timestamp: line.timestamp,
  };
}

function recordHead(sessionId, cwd, agentId) {
  const head = {
    parentUuid: null,
    isSidechain: Boolean(agentId),
    userType: 'external',
    cwd,
    sessionId,
    version: VERSION,
    gitBranch: 'main',
  };
  if (agentId) head.agentId = agentId;
  return head;
}

// --- transcripts ---------------------------------------------------------------------------------

/** A plain chain of turns: user tool_result, then one assistant call. */
function chain(ctx, head, model, turns) {
  const lines = [];
  const assistantLines = [];
  let pending = null;
  for (let t = 0; t < turns; t++) {
    lines.push(userRecord(ctx, head, pending));
    const call = assistantCall(ctx, head, model, null);
    lines.push(...call.lines);
    assistantLines.push(...call.lines);
    pending = call.toolUse;
  }
  return { lines, assistantLines };
}

function newTask(ctx, sessionId) {
  const { rng } = ctx;
  return {
    sessionId,
    agentId: rng.hex(8),
    toolUseId: `toolu_${rng.hex(24)}`,
    agentType: rng.pick(AGENT_TYPES),
    description: `Investigate ${words(rng, 3)}`,
    prompt: words(rng, rng.int(10, 80)),
    calls: 0,
  };
}

/** The sub-agent's own file (and sometimes its meta.json); returns its assistant lines. */
function writeSubagent(ctx, projectDir, cwd, task) {
  const { rng } = ctx;
  const head = recordHead(task.sessionId, cwd, task.agentId);
  const sub = chain(ctx, head, rng.pick(MODELS), rng.int(3, 20));
  const dir = path.join(projectDir, task.sessionId, 'subagents');
  writeJsonl(ctx, path.join(dir, `agent-${task.agentId}.jsonl`), sub.lines);
  if (rng.chance(0.6)) {
    const meta = { agentType: task.agentType, description: task.description, toolUseId: task.toolUseId };
    writeMeta(ctx, path.join(dir, `agent-${task.agentId}.meta.json`), meta);
  }
  task.calls = new Set(sub.assistantLines.map((l) => l.message.id)).size;
  return sub.assistantLines;
}

/**
 * A main session. Some turns delegate: the call ends in a Task tool_use, the sub-agent runs (its
 * calls echoed here as progress lines), and the next user turn carries the Task's tool_result.
 */
function writeSession(ctx, projectDir, cwd) {
  const { rng } = ctx;
  const sessionId = rng.uuid();
  const head = recordHead(sessionId, cwd, null);
  const model = rng.pick(MODELS);
  const turns = rng.int(5, 60);
  const taskTurns = pickTaskTurns(rng, turns);
  const lines = [];
  const assistantLines = [];
  let pending = null;
  for (let t = 0; t < turns; t++) {
    lines.push(userRecord(ctx, head, pending));
    const task = taskTurns.has(t) ? newTask(ctx, sessionId) : null;
    const call = assistantCall(ctx, head, model, task);
    lines.push(...call.lines);
    assistantLines.push(...call.lines);
    pending = call.toolUse;
    if (task) {
      const subLines = writeSubagent(ctx, projectDir, cwd, task);
      for (const line of subLines) lines.push(progressRecord(ctx, head, task, line));
      pending = { ...call.toolUse, agent: task };
    }
  }
  writeJsonl(ctx, path.join(projectDir, `${sessionId}.jsonl`), lines);
  if (rng.chance(0.1)) writeResumedSession(ctx, projectDir, cwd, assistantLines);
}

/** 40% of sessions delegate to 1-4 sub-agents, at distinct turns. */
function pickTaskTurns(rng, turns) {
  const taskTurns = new Set();
  if (!rng.chance(0.4)) return taskTurns;
  const wanted = Math.min(turns, rng.int(1, 4));
  while (taskTurns.size < wanted) taskTurns.add(rng.int(0, turns - 1));
  return taskTurns;
}

/**
 * A resumed session's file starts by repeating the first few assistant lines of the original
 * (which may cut a call after a partial snapshot), then continues with new calls.
 */
function writeResumedSession(ctx, projectDir, cwd, originalAssistantLines) {
  const { rng } = ctx;
  const sessionId = rng.uuid();
  const repeated = originalAssistantLines.slice(0, rng.int(1, 6)).map((l) => ({ ...l, sessionId }));
  const more = chain(ctx, recordHead(sessionId, cwd, null), rng.pick(MODELS), rng.int(2, 10));
  writeJsonl(ctx, path.join(projectDir, `${sessionId}.jsonl`), [...repeated, ...more.lines]);
}

function writeProject(ctx, index) {
  const cwd = `/home/dev/work/project-${index}`;
  const projectDir = path.join(ctx.outDir, 'projects', cwd.replace(/[/.]/g, '-'));
  const sessions = ctx.rng.int(3, 30);
  for (let i = 0; i < sessions && budgetLeft(ctx); i++) writeSession(ctx, projectDir, cwd);
}

// --- expected totals -----------------------------------------------------------------------------

function emptyBucket() {
  return { messages: 0, input: 0, output: 0, cacheCreate: 0, cacheCreate1h: 0, cacheRead: 0 };
}

function addUsage(bucket, usage) {
  bucket.messages++;
  bucket.input += usage.input_tokens;
  bucket.output += usage.output_tokens;
  bucket.cacheCreate += usage.cache_creation_input_tokens;
  bucket.cacheCreate1h += usage.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  bucket.cacheRead += usage.cache_read_input_tokens;
}

function expectedTotals(ctx) {
  const all = emptyBucket();
  const byModel = {};
  for (const { model, usage } of ctx.calls.values()) {
    addUsage(all, usage);
    byModel[model] ??= emptyBucket();
    addUsage(byModel[model], usage);
  }
  const { messages, ...tokens } = all;
  return {
    ...ctx.stats,
    assistantMessages: messages,
    ...tokens,
    total: all.input + all.output + all.cacheCreate + all.cacheRead,
    byModel,
  };
}

// --- main ----------------------------------------------------------------------------------------

function main(argv) {
  const [outDir, mbArg, seedArg] = argv;
  const targetMb = Number(mbArg);
  if (!outDir || !(targetMb > 0)) {
    console.error('usage: gen-corpus.mjs OUT_DIR TARGET_MB [SEED]');
    process.exit(2);
  }
  const ctx = createContext(outDir, targetMb * 1024 * 1024, Number(seedArg ?? 11));
  for (let project = 0; budgetLeft(ctx); project++) writeProject(ctx, project);
  console.log(JSON.stringify(expectedTotals(ctx)));
}

main(process.argv.slice(2));
