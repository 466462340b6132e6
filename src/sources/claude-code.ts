import { sep } from 'node:path';
import type { Problem } from '../core/event.js';
import { isObj, type Rec, str } from '../core/json.js';
import { emptyUsage, totalInputTokens, type UsageBuckets } from '../core/usage.js';
import { scanJsonl } from './jsonl-reader.js';

/**
 * One copy of an API call as a Claude Code transcript wrote it. The same call appears on several
 * lines (one per content block, growing streamed snapshots), in `progress` lines of the parent, in
 * the sub-agent's own file and in resumed sessions; `mergeClaudeCopies` counts it once.
 */
export interface ClaudeCallCopy {
  /** `message.id|requestId`, or `message.id` when the record has no requestId. */
  key: string;
  model: string;
  ts: number;
  usage: UsageBuckets;
  speed?: string;
  session?: string;
  /** Sub-agent id known for this copy (file name, record, or progress data). */
  agentId?: string;
  /** The copy sits on a sidechain (a sub-agent's line), inline or in a sub-agent file. */
  sidechain: boolean;
  /** The copy is a sub-agent call echoed in the parent's `progress` line. */
  viaProgress: boolean;
  /** For progress copies: the Task/Agent tool_use that spawned the sub-agent. */
  parentToolUseId?: string;
  file: string;
  line: number;
}

/** A `Task`/`Agent` tool_use: the spawn of a sub-agent. */
export interface ClaudeSpawn {
  toolUseId: string;
  session?: string;
  agentType?: string;
  description?: string;
  /** Sub-agent id of the spawner, absent for the main thread. */
  spawnerAgentId?: string;
}

/** `tool_use_id → agentId`, from the `user` record holding a spawn's tool_result. */
export interface ClaudeSpawnResult {
  toolUseId: string;
  agentId: string;
}

export interface ClaudeFileScan {
  file: string;
  calls: ClaudeCallCopy[];
  spawns: ClaudeSpawn[];
  results: ClaudeSpawnResult[];
  problems: Problem[];
  /** Records skipped on purpose: `<synthetic>` messages (not API calls). */
  synthetic: number;
  endOffset: number;
  lines: number;
  bytesRead: number;
  /** Earliest timestamp seen in the file: an original session starts before its resumed copies. */
  firstTs: number;
  /** The file could not be read (its problem says why); nothing of it is in this scan. */
  unreadable?: boolean;
  /**
   * Where the next incremental read must start instead of `endOffset`: set when inline sidechain
   * calls are still waiting for the line that names their sub-agent, so they are read again then.
   */
  resumeFrom?: ClaudeScanFrom;
}

/** What the file's path says about it. */
export interface ClaudeFileInfo {
  file: string;
  project?: string;
  /** Session id from the path (`<session>.jsonl` or `<session>/subagents/agent-<id>.jsonl`). */
  session?: string;
  /** Set for `subagents/agent-<id>.jsonl`. */
  agentId?: string;
}

export interface ClaudeScanFrom {
  offset: number;
  lines: number;
}

// With its closing quote: inside a JSON string the quote would be escaped (`output_tokens\"`), so
// text that merely mentions the key is never decoded.
const USAGE = Buffer.from('output_tokens"');
// Main transcripts link spawns to sub-agents on user records (`toolUseResult.agentId`, or the record's
// own `agentId` in older inline-sidechain files).
const AGENT_ID = Buffer.from('agentId"');
// Patterns start after the opening quote: a rare first byte keeps Buffer.indexOf fast.
const CONTENT = Buffer.from('content":[');
const STOP_REASON = Buffer.from('stop_reason":');
const SUBAGENTS_DIR = `${sep}subagents${sep}`;
const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
// A content array holding a spawn keeps its content: the spawning tool_use is named "Task" or
// "Agent". One search finds each `"name"` key (inside a JSON string its quotes would be escaped),
// then the value after it is compared: half the bytes searched of looking for both names.
const NAME_KEY = Buffer.from('"name"');
const SPAWN_NAMES = [Buffer.from('"Task"'), Buffer.from('"Agent"')];
const SEMVER = /^\d+\.\d+\.\d+([-+].*)?$/;
const FAST = 'fast';

function count(x: unknown): number | null {
  if (x === undefined || x === null) return 0;
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : null;
}

/** Anthropic `usage` → disjoint buckets; `null` when a token count is not a non-negative integer. */
export function anthropicUsage(u: Rec): UsageBuckets | null {
  const input = count(u.input_tokens);
  const output = count(u.output_tokens);
  const read = count(u.cache_read_input_tokens);
  const split = u.cache_creation;
  // Some writers give only the 5m/1h split; the total is then their sum.
  const splitTotal = isObj(split)
    ? (count(split.ephemeral_5m_input_tokens) ?? 0) + (count(split.ephemeral_1h_input_tokens) ?? 0)
    : 0;
  const write =
    u.cache_creation_input_tokens === undefined ? splitTotal : count(u.cache_creation_input_tokens);
  if (input === null || output === null || read === null || write === null) return null;
  const usage = emptyUsage();
  usage.inputTokens = input;
  usage.outputTokens = output;
  usage.cacheReadTokens = read;
  usage.cacheWrite5mTokens = write;
  if (isObj(split)) {
    const h1 = count(split.ephemeral_1h_input_tokens) ?? 0;
    // The total is what was billed; the split only says which rate applies to which part.
    const oneHour = Math.min(h1, write);
    usage.cacheWrite1hTokens = oneHour;
    usage.cacheWrite5mTokens = write - oneHour;
  }
  const server = u.server_tool_use;
  if (isObj(server)) usage.webSearchRequests = count(server.web_search_requests) ?? 0;
  return usage;
}

/**
 * How trustworthy a copy's attribution is: the sub-agent's own file knows the agent best, an inline
 * sidechain line next, a main-thread line is its own, a parent's progress echo least.
 */
export function attributionRank(c: ClaudeCallCopy): number {
  if (c.viaProgress) return 3;
  if (c.sidechain) return c.agentId ? (c.file.includes(SUBAGENTS_DIR) ? 0 : 1) : 2;
  return 2;
}

/** True when `a` is a later/larger snapshot of the same call than `b`. */
export function largerUsage(a: UsageBuckets, b: UsageBuckets): boolean {
  if (a.outputTokens !== b.outputTokens) return a.outputTokens > b.outputTokens;
  const ta = totalInputTokens(a);
  const tb = totalInputTokens(b);
  if (ta !== tb) return ta > tb;
  // Equal totals, different split: a fixed order, so the result never depends on which file came first.
  if (a.cacheWrite1hTokens !== b.cacheWrite1hTokens) return a.cacheWrite1hTokens > b.cacheWrite1hTokens;
  if (a.cacheReadTokens !== b.cacheReadTokens) return a.cacheReadTokens > b.cacheReadTokens;
  if (a.cacheWrite5mTokens !== b.cacheWrite5mTokens) return a.cacheWrite5mTokens > b.cacheWrite5mTokens;
  return a.webSearchRequests > b.webSearchRequests;
}

function mayHoldSpawn(content: Buffer): boolean {
  for (let at = content.indexOf(NAME_KEY); at >= 0; at = content.indexOf(NAME_KEY, at + 1)) {
    let i = skipBlanks(content, at + NAME_KEY.length);
    if (content[i] !== COLON) continue;
    i = skipBlanks(content, i + 1);
    // Compared in place byte by byte: Buffer.compare is a native call, dear for a few bytes.
    for (const name of SPAWN_NAMES) if (startsWithAt(content, i, name)) return true;
  }
  return false;
}

// Where a cut line is put together: one decode of one flat string, not two and a concatenation
// that JSON.parse would have to flatten again.
let cutBuf = Buffer.allocUnsafe(16 * 1024);

/** `line[0, cutFrom)` + `]` + `line[stop, end)` as a string. */
function joinCut(line: Buffer, cutFrom: number, stop: number): string {
  const length = cutFrom + 1 + line.length - stop;
  if (length > cutBuf.length) cutBuf = Buffer.allocUnsafe(length * 2);
  line.copy(cutBuf, 0, 0, cutFrom);
  cutBuf[cutFrom] = 0x5d; // ]
  line.copy(cutBuf, cutFrom + 1, stop);
  return cutBuf.toString('utf8', 0, length);
}

function startsWithAt(buf: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > buf.length) return false;
  for (let k = 0; k < bytes.length; k++) if (buf[at + k] !== bytes[k]) return false;
  return true;
}

function skipBlanks(buf: Buffer, i: number): number {
  while (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d) i++;
  return i;
}

class FileParser {
  readonly out: ClaudeFileScan;
  /** Sidechain calls waiting for the agentId of a later line (older inline format). */
  private pendingSidechain: ClaudeCallCopy[] = [];
  private lastSidechainAgent: string | undefined;
  /** Called when a spawn is seen (the reader then also decodes lines that may link it). */
  onSpawn: (() => void) | undefined;

  constructor(
    private readonly info: ClaudeFileInfo,
    from: ClaudeScanFrom,
  ) {
    this.out = {
      file: info.file,
      calls: [],
      spawns: [],
      results: [],
      problems: [],
      synthetic: 0,
      endOffset: from.offset,
      lines: from.lines,
      bytesRead: 0,
      firstTs: Number.POSITIVE_INFINITY,
    };
  }

  problem(line: number, reason: string): void {
    this.out.problems.push({ file: this.info.file, line, reason });
  }

  // Where the line being parsed starts: two numbers, not an object per line (most lines need neither).
  private atOffset = 0;
  private atLines = 0;
  private pendingFrom: ClaudeScanFrom | undefined;

  /**
   * Decodes a candidate line. The message's `content` array (text, thinking, tool calls: most of an
   * assistant line's bytes) is cut out before parsing when it holds no spawn: usage is outside it.
   * Serialised JSON cannot hold an unescaped `,"stop_reason":` inside a string, so the cut ends at
   * the last one (found searching backwards, through the short tail only); if the cut text does not
   * parse, the whole line is parsed instead.
   */
  parseLine(buf: Buffer, start: number, end: number, line: number, fileOffset = 0): void {
    this.atOffset = fileOffset;
    this.atLines = line - 1;
    // Searches run on a view of this line only: a miss must not scan the rest of the buffer.
    const view = buf.subarray(start, end);
    const c = view.indexOf(CONTENT);
    if (c > 0 && view[c - 1] === QUOTE) {
      const cutFrom = c + CONTENT.length;
      // From the end: the short tail after the content is all that is searched.
      const s = view.lastIndexOf(STOP_REASON);
      const stop = s - 2; // at the `,` of `,"stop_reason":`
      if (
        s > cutFrom + 1 &&
        view[s - 1] === QUOTE &&
        view[stop] === COMMA &&
        !mayHoldSpawn(view.subarray(cutFrom, stop))
      ) {
        let rec: unknown;
        try {
          rec = JSON.parse(joinCut(view, cutFrom, stop));
        } catch {
          rec = undefined;
        }
        if (rec !== undefined) {
          this.record(rec, line);
          return;
        }
      }
    }
    let rec: unknown;
    try {
      rec = JSON.parse(buf.toString('utf8', start, end));
    } catch (err) {
      this.problem(line, `malformed JSON: ${(err as Error).message}`);
      return;
    }
    this.record(rec, line);
  }

  record(rec: unknown, line: number): void {
    if (!isObj(rec)) {
      this.problem(line, 'not a JSON object');
      return;
    }
    if (typeof rec.version === 'string' && !SEMVER.test(rec.version)) {
      this.problem(line, `invalid version "${rec.version.slice(0, 40)}" (not a Claude Code record)`);
      return;
    }
    // A sidechain record without a parent starts a new sub-agent chain (older inline layout): the
    // agentId seen on the previous chain is not this one's.
    if (rec.isSidechain === true && rec.parentUuid === null && !this.info.agentId)
      this.lastSidechainAgent = undefined;
    const type = rec.type;
    if (type === 'progress') {
      const data = rec.data;
      const inner = isObj(data) ? data.message : undefined;
      if (isObj(data) && isObj(inner) && isObj(inner.message) && isObj(inner.message.usage)) {
        this.call(inner, line, {
          viaProgress: true,
          session: str(rec.sessionId),
          agentId: str(data.agentId) ?? str(inner.agentId),
          parentToolUseId: str(rec.parentToolUseID) ?? str(data.parentToolUseID) ?? str(rec.toolUseID),
        });
      }
      return;
    }
    const message = rec.message;
    if ((type === 'assistant' || type === undefined) && isObj(message) && isObj(message.usage)) {
      this.call(rec, line, { viaProgress: false, session: str(rec.sessionId), agentId: str(rec.agentId) });
      if (Array.isArray(message.content)) this.spawns(message.content, rec);
      return;
    }
    if (type === 'user' && isObj(message) && Array.isArray(message.content))
      this.results(message.content, rec);
  }

  private call(
    rec: Rec,
    line: number,
    via: { viaProgress: boolean; session?: string; agentId?: string; parentToolUseId?: string },
  ): void {
    const msg = rec.message as Rec;
    const model = str(msg.model);
    if (model === '<synthetic>') {
      this.out.synthetic++;
      return;
    }
    const usage = anthropicUsage(msg.usage as Rec);
    if (!usage) {
      this.problem(line, 'usage has a token count that is not a non-negative integer');
      return;
    }
    const ts = typeof rec.timestamp === 'string' ? Date.parse(rec.timestamp) : Number.NaN;
    if (Number.isNaN(ts)) {
      this.problem(line, 'assistant record without a valid timestamp');
      return;
    }
    const msgId = str(msg.id);
    const reqId = str(rec.requestId);
    // Without message.id the call cannot be matched with its other copies; the line itself is the key.
    const key = msgId ? (reqId ? `${msgId}|${reqId}` : msgId) : `${this.info.file}#${line}`;
    const sidechain = rec.isSidechain === true || this.info.agentId !== undefined || via.viaProgress;
    const copy: ClaudeCallCopy = {
      key,
      model: model ?? 'unknown',
      ts,
      usage,
      sidechain,
      viaProgress: via.viaProgress,
      file: this.info.file,
      line,
    };
    const speed = (msg.usage as Rec).speed;
    if (speed === FAST) copy.speed = FAST;
    const session = via.session ?? this.info.session;
    if (session) copy.session = session;
    const agentId = this.info.agentId ?? via.agentId;
    if (agentId) copy.agentId = agentId;
    if (via.parentToolUseId) copy.parentToolUseId = via.parentToolUseId;
    if (ts < this.out.firstTs) this.out.firstTs = ts;
    this.out.calls.push(copy);
    if (copy.sidechain && !copy.viaProgress && !copy.agentId) {
      // Older inline sidechains put agentId on user lines only: borrow the nearest one.
      if (this.lastSidechainAgent) copy.agentId = this.lastSidechainAgent;
      else {
        this.pendingFrom ??= { offset: this.atOffset, lines: this.atLines };
        this.pendingSidechain.push(copy);
      }
    }
  }

  private spawns(content: unknown[], rec: Rec): void {
    for (const block of content) {
      if (!isObj(block) || block.type !== 'tool_use') continue;
      if (block.name !== 'Task' && block.name !== 'Agent') continue;
      const id = str(block.id);
      if (!id) continue;
      const input = isObj(block.input) ? block.input : {};
      const spawn: ClaudeSpawn = { toolUseId: id };
      const session = str(rec.sessionId) ?? this.info.session;
      if (session) spawn.session = session;
      const agentType = str(input.subagent_type);
      if (agentType) spawn.agentType = agentType;
      const description = str(input.description);
      if (description) spawn.description = description;
      const spawner = this.info.agentId ?? (rec.isSidechain === true ? str(rec.agentId) : undefined);
      if (spawner) spawn.spawnerAgentId = spawner;
      this.out.spawns.push(spawn);
      this.onSpawn?.();
    }
  }

  private results(content: unknown[], rec: Rec): void {
    const recAgent = str(rec.agentId);
    const tur = rec.toolUseResult;
    const spawned = isObj(tur) ? str(tur.agentId) : undefined;
    let agentId: string | undefined;
    if (rec.isSidechain === true || this.info.agentId) {
      // On a sub-agent's own lines the record's agentId is that sub-agent; only a tool result naming
      // another agent is a spawn link (a sub-agent that spawned one).
      if (recAgent && !this.info.agentId) this.noteSidechainAgent(recAgent);
      const self = this.info.agentId ?? recAgent;
      if (spawned && spawned !== self) agentId = spawned;
    } else {
      agentId = spawned ?? recAgent;
    }
    if (!agentId) return;
    for (const block of content) {
      if (isObj(block) && block.type === 'tool_result') {
        const id = str(block.tool_use_id);
        if (id) this.out.results.push({ toolUseId: id, agentId });
      }
    }
  }

  /** Where unresolved inline sidechain calls begin, if any are left at the end of the read. */
  unresolvedFrom(): ClaudeScanFrom | undefined {
    return this.pendingSidechain.length ? this.pendingFrom : undefined;
  }

  private noteSidechainAgent(agentId: string): void {
    this.lastSidechainAgent = agentId;
    for (const c of this.pendingSidechain) c.agentId = agentId;
    this.pendingSidechain = [];
    this.pendingFrom = undefined;
  }
}

/**
 * Reads one Claude Code transcript (from `from.offset` on, for incremental ingest) and returns every
 * call copy, spawn link and problem in it. Lines that cannot hold usage or a spawn link are never
 * decoded. An unterminated last line that parses is read (its writer just did not end it); one
 * that does not is left for the next read and is not a problem.
 */
export function parseClaudeTranscript(
  info: ClaudeFileInfo,
  from: ClaudeScanFrom = { offset: 0, lines: 0 },
): ClaudeFileScan {
  const p = new FileParser(info, from);
  // User lines are skipped until the file spawns a sub-agent: from then on the tool results that
  // carry spawn links (`toolUseResult.agentId`, or the record's own in older inline sidechains) are
  // read too — they always follow the Task/Agent tool_use that started the sub-agent.
  // An incremental read may start after the spawn: it reads them from its first line.
  const patterns = from.offset > 0 ? [USAGE, AGENT_ID] : [USAGE];
  p.onSpawn = () => {
    if (!patterns.includes(AGENT_ID)) patterns.push(AGENT_ID);
  };
  let res: ReturnType<typeof scanJsonl>;
  try {
    res = scanJsonl(info.file, {
      from: from.offset,
      linesBefore: from.lines,
      patterns,
      onCandidate: (buf, start, end, line, offset) => p.parseLine(buf, start, end, line, offset),
      onMalformed: (line, reason) => p.problem(line, reason),
      onTail: (text, line) => {
        let rec: unknown;
        try {
          rec = JSON.parse(text);
        } catch {
          return; // still being written
        }
        p.record(rec, line);
      },
    });
  } catch (err) {
    if (typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
    // Deleted since it was found (Claude Code prunes old transcripts), unreadable: a problem of this
    // file, not the end of the whole read. What was read of it is dropped: it is read again whole.
    const unread = new FileParser(info, from).out;
    unread.problems.push({ file: info.file, line: 0, reason: `cannot read: ${(err as Error).message}` });
    unread.unreadable = true;
    return unread;
  }
  p.out.calls = dedupWithinFile(p.out.calls);
  const resume = p.unresolvedFrom();
  if (resume) p.out.resumeFrom = resume;
  p.out.endOffset = res.endOffset;
  p.out.lines = res.lines;
  p.out.bytesRead = res.bytesRead;
  return p.out;
}

/**
 * Folds the copies of one call inside one file (content-block lines, streamed snapshots) into one
 * copy with the largest usage and the first line's place: the same result the cross-file merge
 * gives, with far fewer copies to hand from a worker to the main thread.
 */
function dedupWithinFile(calls: ClaudeCallCopy[]): ClaudeCallCopy[] {
  // One map per attribution rank (0–3): no key string built per copy.
  const byRank = [
    new Map<string, ClaudeCallCopy>(),
    new Map<string, ClaudeCallCopy>(),
    new Map<string, ClaudeCallCopy>(),
    new Map<string, ClaudeCallCopy>(),
  ];
  const out: ClaudeCallCopy[] = [];
  for (const c of calls) {
    const byKey = byRank[attributionRank(c)]!;
    const prev = byKey.get(c.key);
    if (!prev) {
      byKey.set(c.key, c);
      out.push(c);
    } else if (largerUsage(c.usage, prev.usage)) {
      // The winning snapshot brings what describes the call with it; the place stays the first line's.
      prev.usage = c.usage;
      prev.model = c.model;
      if (c.speed) prev.speed = c.speed;
      else delete prev.speed;
    }
  }
  return out;
}
