import type { Attribution, EventOrigin, UsageEvent } from '../core/event.js';
import { type PriceBook, priceEvent } from '../core/pricing.js';
import type { UsageBuckets } from '../core/usage.js';
import {
  attributionRank,
  type ClaudeCallCopy,
  type ClaudeFileScan,
  type ClaudeSpawn,
  largerUsage,
} from './claude-code.js';
import type { ClaudeAgentMeta } from './claude-discover.js';

interface MergedCall {
  usage: UsageBuckets;
  usageCopy: ClaudeCallCopy;
  attr: ClaudeCallCopy;
  attrRank: number;
  attrFirstTs: number;
}

type AgentFields = Pick<Attribution, 'agentName' | 'agentType' | 'agentDescription' | 'agentPath'>;

/** The resolved identity of a sub-agent. */
export interface ClaudeAgent {
  agentId: string;
  agentType?: string;
  description?: string;
  spawnerAgentId?: string;
}

/**
 * Counts each API call once across every file that holds a copy of it, keeping the largest streamed
 * snapshot's usage and the best-placed copy's attribution, and resolves sub-agents to their type
 * through `meta.json` files and `Task`/`Agent` spawn links. Deterministic whatever order the files
 * arrive in (files are scanned in parallel).
 */
export class ClaudeMerge {
  private readonly calls = new Map<string, MergedCall>();
  private readonly spawns = new Map<string, ClaudeSpawn>();
  private readonly agentByToolUse = new Map<string, string>();
  private readonly toolUseByAgent = new Map<string, string>();
  private readonly metas = new Map<string, ClaudeAgentMeta>();
  private readonly projects = new Map<string, string | undefined>();
  /** Resolved agents; emptied whenever a link arrives (it may change an agent's type or path). */
  private readonly agentCache = new Map<string, AgentFields>();
  synthetic = 0;

  get size(): number {
    return this.calls.size;
  }

  /** The call keys merged so far (`message.id|requestId`). */
  keys(): IterableIterator<string> {
    return this.calls.keys();
  }

  has(key: string): boolean {
    return this.calls.has(key);
  }

  addScan(scan: ClaudeFileScan, project: string | undefined): void {
    this.projects.set(scan.file, project);
    this.synthetic += scan.synthetic;
    for (const s of scan.spawns) this.addSpawn(s);
    for (const r of scan.results) this.addResult(r.toolUseId, r.agentId);
    for (const c of scan.calls) this.addCopy(c, scan.firstTs);
  }

  addSpawn(s: ClaudeSpawn): void {
    this.agentCache.clear();
    if (!this.spawns.has(s.toolUseId)) this.spawns.set(s.toolUseId, s);
  }

  addResult(toolUseId: string, agentId: string): void {
    this.agentCache.clear();
    this.agentByToolUse.set(toolUseId, agentId);
    this.toolUseByAgent.set(agentId, toolUseId);
  }

  addMeta(m: ClaudeAgentMeta): void {
    this.agentCache.clear();
    this.metas.set(m.agentId, m);
    if (m.toolUseId) this.addResult(m.toolUseId, m.agentId);
  }

  addCopy(c: ClaudeCallCopy, fileFirstTs: number): void {
    const rank = attributionRank(c);
    const m = this.calls.get(c.key);
    if (!m) {
      this.calls.set(c.key, {
        usage: c.usage,
        usageCopy: c,
        attr: c,
        attrRank: rank,
        attrFirstTs: fileFirstTs,
      });
      return;
    }
    if (largerUsage(c.usage, m.usage)) {
      m.usage = c.usage;
      m.usageCopy = c;
    }
    if (betterAttribution(rank, fileFirstTs, c, m)) {
      m.attr = c;
      m.attrRank = rank;
      m.attrFirstTs = fileFirstTs;
    }
  }

  /** The sub-agent behind an id, as far as the logs tell. */
  agent(agentId: string): ClaudeAgent {
    const meta = this.metas.get(agentId);
    const toolUse = meta?.toolUseId ?? this.toolUseByAgent.get(agentId);
    const spawn = toolUse ? this.spawns.get(toolUse) : undefined;
    const a: ClaudeAgent = { agentId };
    const type = meta?.agentType ?? spawn?.agentType;
    if (type) a.agentType = type;
    const description = meta?.description ?? spawn?.description;
    if (description) a.description = description;
    if (spawn?.spawnerAgentId && spawn.spawnerAgentId !== agentId) a.spawnerAgentId = spawn.spawnerAgentId;
    return a;
  }

  /** Forgets the calls (kept: links and projects), after a batch was written to the ledger. */
  clearCalls(): void {
    this.calls.clear();
  }

  /** Agent fields for every event of a sub-agent, once its spawn link is known. */
  agentAttribution(agentId: string): AgentFields {
    let a = this.agentCache.get(agentId);
    if (!a) {
      const agent = this.agent(agentId);
      a = { agentName: agent.agentType ?? 'subagent', agentPath: this.agentPath(agentId) };
      if (agent.agentType) a.agentType = agent.agentType;
      if (agent.description) a.agentDescription = agent.description;
      this.agentCache.set(agentId, a);
    }
    return { ...a };
  }

  private agentPath(agentId: string): string {
    const chain = [agentId];
    let cur = this.agent(agentId).spawnerAgentId;
    while (cur && !chain.includes(cur) && chain.length < 16) {
      chain.unshift(cur);
      cur = this.agent(cur).spawnerAgentId;
    }
    return `main/${chain.join('/')}`;
  }

  attribution(c: ClaudeCallCopy): Attribution {
    const a: Attribution = {};
    const project = this.projects.get(c.file);
    if (project) a.project = project;
    if (c.session) a.session = c.session;
    if (!c.sidechain) {
      a.agentPath = 'main';
      a.agentName = 'main';
      return a;
    }
    const agentId = c.agentId ?? (c.parentToolUseId ? this.agentByToolUse.get(c.parentToolUseId) : undefined);
    if (!agentId) {
      // A progress echo with no link to its sub-agent: still a sub-agent, type from the spawn if known.
      const spawn = c.parentToolUseId ? this.spawns.get(c.parentToolUseId) : undefined;
      a.agentName = spawn?.agentType ?? 'subagent';
      if (spawn?.agentType) a.agentType = spawn.agentType;
      a.agentPath = 'main/?';
      return a;
    }
    a.agentId = agentId;
    return Object.assign(a, this.agentAttribution(agentId));
  }

  /** The merged calls as priced events. */
  events(book: PriceBook): UsageEvent[] {
    const out = new Array<UsageEvent>(this.calls.size);
    let i = 0;
    this.forEachEvent(book, (e) => {
      out[i++] = e;
    });
    return out;
  }

  /** Each merged call as a priced event, made when it is handed over (nothing holds them all). */
  forEachEvent(book: PriceBook, fn: (e: UsageEvent) => void): void {
    for (const [key, m] of this.calls) fn(this.toEvent(key, m, book));
  }

  /** The merged calls with where their attribution came from, for the ledger's upserts. */
  *storedEvents(book: PriceBook): Generator<{ event: UsageEvent; origin: EventOrigin }> {
    for (const [key, m] of this.calls) {
      const firstTs = Number.isFinite(m.attrFirstTs) ? m.attrFirstTs : null;
      yield {
        event: this.toEvent(key, m, book),
        origin: { rank: m.attrRank, firstTs, file: m.attr.file, line: m.attr.line },
      };
    }
  }

  private toEvent(key: string, m: MergedCall, book: PriceBook): UsageEvent {
    const c = m.usageCopy;
    const e: UsageEvent = {
      id: `cc:${key}`,
      ts: m.attr.ts,
      source: 'claude-code',
      provider: 'anthropic',
      model: c.model,
      usage: m.usage,
      cost: priceEvent(book, c.model, 'anthropic', m.attr.ts, m.usage, c.speed),
      attribution: this.attribution(m.attr),
    };
    if (c.speed) e.speed = c.speed;
    return e;
  }
}

function betterAttribution(rank: number, firstTs: number, c: ClaudeCallCopy, m: MergedCall): boolean {
  if (rank !== m.attrRank) return rank < m.attrRank;
  // Same kind of copy (e.g. a resumed session repeating a call): the session that started first owns it.
  if (firstTs !== m.attrFirstTs) return firstTs < m.attrFirstTs;
  if (c.file !== m.attr.file) return c.file < m.attr.file;
  return c.line < m.attr.line;
}
