import type { SourceKind, UsageEvent } from './event.js';
import { DEFAULT_INPUT_SHARE, type PriceBook, priceEvent } from './pricing.js';
import { emptyUsage } from './usage.js';

/** One agent row of a run, as the telemetry logged it. */
export interface RunAgent {
  /** Position in the run's telemetry: part of the event id. */
  index: number;
  stage: string;
  /** The one token count the telemetry has (no input/output split). */
  tokens: number;
  /** The telemetry's count was not a number (reported as a problem; `tokens` is 0). */
  invalidTokens?: boolean;
  agentId?: string;
  label?: string;
  agentType?: string;
  model?: string;
  state?: string;
  toolCalls?: number;
  durationMs?: number;
  attempt?: number;
  startedAt?: number;
}

/** A multi-agent run (a workflow): what it reported about itself, and its agents. */
export interface RunSummary {
  id: string;
  source: SourceKind;
  file: string;
  /** Epoch ms: when the run started (or the file's time). */
  ts: number;
  workflow?: string;
  /** The status the run reported. Never trusted on its own. */
  status?: string;
  taskId?: string;
  durationMs?: number;
  /** The run's own total; the invariant holds when the agents add up to it. */
  reportedTotalTokens?: number;
  agentCount?: number;
  totalToolCalls?: number;
  /** Stage names in the order the run went through them. */
  phases: string[];
  agents: RunAgent[];
  project?: string;
  session?: string;
}

/** A label without its instance number: `verifier-3`, `verify:0`, `searcher #2` → the role. */
export function roleOf(label: string): string {
  return label.replace(/[\s:#_-]+\d+$/, '') || label;
}

/**
 * What an agent row is, for grouping spend by agent: its type, else its label's role (fan-out
 * instances `verifier-1` … `verifier-12` are one agent), else its id, else its position.
 */
export function agentNameOf(a: RunAgent): string {
  return a.agentType ?? (a.label ? roleOf(a.label) : undefined) ?? a.agentId ?? `agent #${a.index}`;
}

/**
 * The run's agents as usage events: the unsplit count in `unsplitTokens`, priced at an input-share
 * blend and therefore marked estimated. An agent without a model is unpriced, never $0.
 */
export function runEvents(run: RunSummary, book: PriceBook, inputShare = DEFAULT_INPUT_SHARE): UsageEvent[] {
  return run.agents.map((a) => {
    const usage = emptyUsage();
    usage.unsplitTokens = a.tokens;
    const model = a.model ?? 'unknown';
    const ts = a.startedAt ?? run.ts;
    const provider = model.startsWith('claude') ? 'anthropic' : '';
    const tags: Record<string, string> = {};
    if (a.toolCalls !== undefined) tags.toolCalls = String(a.toolCalls);
    if (a.attempt !== undefined) tags.attempt = String(a.attempt);
    if (a.durationMs !== undefined) tags.durationMs = String(a.durationMs);
    if (a.label !== undefined) tags.label = a.label;
    const e: UsageEvent = {
      id: `wf:${run.id}:${a.index}`,
      ts,
      source: run.source,
      provider: provider || 'unknown',
      model,
      usage,
      cost: priceEvent(book, model, provider, ts, usage, undefined, inputShare),
      attribution: {
        run: run.id,
        stage: a.stage,
        agentName: agentNameOf(a),
        agentPath: `main/${a.agentId ?? `#${a.index}`}`,
        ...(run.workflow ? { workflow: run.workflow } : {}),
        ...(run.project ? { project: run.project } : {}),
        ...(run.session ? { session: run.session } : {}),
        ...(a.agentId ? { agentId: a.agentId } : {}),
        ...(a.agentType ? { agentType: a.agentType } : {}),
        ...(a.state ? { status: a.state } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      },
    };
    if (!a.model) e.cost.note = 'unpriced: the telemetry names no model for this agent';
    return e;
  });
}
