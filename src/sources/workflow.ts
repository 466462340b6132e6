import { readFileSync } from 'node:fs';
import type { Problem } from '../core/event.js';
import { isObj, str } from '../core/json.js';
import type { RunAgent, RunSummary } from '../core/run.js';

/**
 * Claude Code multi-agent workflow telemetry (`wf_*.json`): one JSON document per run with a
 * `workflowProgress` list of phases and agents. Each agent has ONE token count (no input/output
 * split), so its cost can only be estimated.
 */
export interface WorkflowParse {
  run: RunSummary | null;
  problems: Problem[];
}

const int = (x: unknown): number | undefined =>
  typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : undefined;

/** Sets optional fields only when the telemetry has them (no `key: undefined` left behind). */
function setter<T extends object>(target: T) {
  return <K extends keyof T>(key: K, value: T[K] | undefined): void => {
    if (value !== undefined) target[key] = value;
  };
}

/** Stage name for agents that name none. */
export const NO_STAGE = '(no stage)';

function timeOf(x: unknown): number | undefined {
  if (typeof x === 'number' && Number.isFinite(x)) return x > 1e12 ? x : x * 1000;
  if (typeof x === 'string') {
    const t = Date.parse(x);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** Parses a workflow document already read as JSON. */
export function workflowRunFromJson(doc: unknown, file: string, fallbackTs: number): WorkflowParse {
  const problems: Problem[] = [];
  const bad = (reason: string): WorkflowParse => ({ run: null, problems: [{ file, line: 0, reason }] });
  if (!isObj(doc)) return bad('not workflow telemetry: the document is not a JSON object');
  const progress = doc.workflowProgress;
  if (!Array.isArray(progress)) return bad('not workflow telemetry: no workflowProgress list');

  const phases: string[] = [];
  const agents: RunAgent[] = [];
  progress.forEach((item, index) => {
    if (!isObj(item)) {
      problems.push({ file, line: 0, reason: `workflowProgress[${index}] is not an object; skipped` });
      return;
    }
    if (item.type === 'workflow_phase') {
      const title = str(item.phaseTitle) ?? str(item.title);
      if (title && !phases.includes(title)) phases.push(title);
      return;
    }
    if (item.type !== 'workflow_agent') return;
    const logged = int(item.tokens);
    if (logged === undefined) {
      problems.push({
        file,
        line: 0,
        reason: `workflowProgress[${index}]: tokens ${JSON.stringify(item.tokens) ?? 'missing'} is not a token count; counted as 0`,
      });
    }
    const stage = str(item.phaseTitle) ?? NO_STAGE;
    if (!phases.includes(stage)) phases.push(stage);
    const agent: RunAgent = { index, stage, tokens: logged ?? 0 };
    if (logged === undefined) agent.invalidTokens = true;
    const set = setter(agent);
    set('agentId', str(item.agentId));
    set('label', str(item.label));
    set('agentType', str(item.agentType));
    set('model', str(item.model));
    set('state', str(item.state));
    set('toolCalls', int(item.toolCalls));
    set('durationMs', int(item.durationMs));
    set('attempt', int(item.attempt));
    set('startedAt', timeOf(item.startedAt));
    agents.push(agent);
  });

  const run: RunSummary = {
    id: str(doc.runId) ?? file,
    source: 'workflow',
    file,
    ts: timeOf(doc.startedAt) ?? agents.find((a) => a.startedAt !== undefined)?.startedAt ?? fallbackTs,
    phases,
    agents,
  };
  const set = setter(run);
  set('workflow', str(doc.workflowName));
  set('status', str(doc.status));
  set('taskId', str(doc.taskId));
  set('durationMs', int(doc.durationMs));
  set('agentCount', int(doc.agentCount));
  set('totalToolCalls', int(doc.totalToolCalls));
  if (doc.totalTokens !== undefined) {
    const total = int(doc.totalTokens);
    if (total === undefined)
      problems.push({
        file,
        line: 0,
        reason: `totalTokens ${JSON.stringify(doc.totalTokens)} is not a token count`,
      });
    else run.reportedTotalTokens = total;
  }
  return { run, problems };
}

/**
 * Reads one workflow telemetry file. A corrupt (or truncated) file or a JSON file that is not
 * workflow telemetry is a problem `{file, line: 0, reason}`, never an exception.
 */
export function parseWorkflowFile(file: string, mtimeMs = Date.now()): WorkflowParse {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { run: null, problems: [{ file, line: 0, reason: `cannot read: ${(err as Error).message}` }] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return {
      run: null,
      problems: [
        { file, line: 0, reason: `not valid JSON (corrupt or truncated): ${(err as Error).message}` },
      ],
    };
  }
  return workflowRunFromJson(doc, file, mtimeMs);
}
