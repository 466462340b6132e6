import type { RunAgent, RunSummary } from './run.js';

/** How bad a finding is. Any `high` finding makes the run degraded. */
export type Severity = 'high' | 'medium' | 'low';

export type FindingKind =
  | 'errors'
  | 'cheap'
  | 'below-history'
  | 'zero-tokens'
  | 'agent-count'
  | 'tool-calls'
  | 'retries';

/** One thing a health check found; `stage` is null for run-wide findings. */
export interface Finding {
  stage: string | null;
  kind: FindingKind;
  severity: Severity;
  detail: string;
}

export interface HealthOptions {
  /** The cheap-stage rule looks at stages with at least this many agents (seed: 5). */
  cheapMinAgents: number;
  /** …whose mean tokens per agent is below this share of the median of stage means (seed: 0.25). */
  cheapRatio: number;
  /** The history rule needs this many earlier healthy runs of the same workflow. */
  historyMinRuns: number;
  /** …and flags a stage below this share of its median in those runs. */
  historyRatio: number;
}

export const DEFAULT_HEALTH: HealthOptions = {
  cheapMinAgents: 5,
  cheapRatio: 0.25,
  historyMinRuns: 3,
  historyRatio: 0.25,
};

const ERROR_STATES = new Set([
  'error',
  'errored',
  'failed',
  'failure',
  'cancelled',
  'canceled',
  'timeout',
  'timed_out',
  'killed',
  'aborted',
  'crashed',
]);
const DONE_STATES = new Set(['done', 'completed', 'complete', 'success', 'succeeded', 'finished']);

export function isErrorState(state: string | undefined): boolean {
  return state !== undefined && ERROR_STATES.has(state.toLowerCase());
}
export function isDoneState(state: string | undefined): boolean {
  return state !== undefined && DONE_STATES.has(state.toLowerCase());
}

/** A stage's agents and tokens, in the order the run went through its stages. */
export interface StageRows {
  name: string;
  agents: RunAgent[];
  tokens: number;
}

export function stagesOf(run: RunSummary): StageRows[] {
  const byName = new Map<string, StageRows>();
  for (const name of run.phases) byName.set(name, { name, agents: [], tokens: 0 });
  for (const a of run.agents) {
    let s = byName.get(a.stage);
    if (!s) {
      s = { name: a.stage, agents: [], tokens: 0 };
      byName.set(a.stage, s);
    }
    s.agents.push(a);
    s.tokens += a.tokens;
  }
  return [...byName.values()];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** What the run said about itself versus what its telemetry shows. */
export type StatusAgreement =
  | 'agrees'
  | 'says-completed-is-degraded'
  | 'says-failed-looks-healthy'
  | 'no-status';

export interface RunHealth {
  /** At least one agent, and the agents' tokens add up to the run's reported total. */
  invariantOk: boolean;
  /** Why the invariant fails, when it does. */
  invariantDetail?: string;
  agentTokens: number;
  /** The run total: reported when present, else the agents' sum. */
  totalTokens: number;
  /** reported − Σ agents (negative: the agents add up to more than the run says). */
  unattributedTokens: number;
  findings: Finding[];
  degraded: boolean;
  statusAgreement: StatusAgreement;
}

/** Token totals per stage in earlier healthy runs of the same workflow, oldest first. */
export type StageHistory = Map<string, number[]>;

const pct = (r: number) => `${Math.round(r * 100)}%`;

function stageFindings(
  stages: StageRows[],
  opts: HealthOptions,
  history: StageHistory | undefined,
): Finding[] {
  const findings: Finding[] = [];
  const populated = stages.filter((s) => s.agents.length > 0);
  const runMedian = median(populated.map((s) => s.tokens / s.agents.length));
  for (const s of populated) {
    const n = s.agents.length;
    const errorStates = new Map<string, number>();
    for (const a of s.agents)
      if (isErrorState(a.state)) errorStates.set(a.state!, (errorStates.get(a.state!) ?? 0) + 1);
    if (errorStates.size > 0) {
      const parts = [...errorStates].map(([state, k]) => `${k}/${n} agents in state '${state}'`);
      findings.push({ stage: s.name, kind: 'errors', severity: 'high', detail: parts.join(', ') });
    }
    const mean = s.tokens / n;
    if (n >= opts.cheapMinAgents && mean < opts.cheapRatio * runMedian) {
      findings.push({
        stage: s.name,
        kind: 'cheap',
        severity: 'high',
        detail: `mean ${Math.round(mean)} tok/agent over ${n} agents < ${pct(opts.cheapRatio)} of run median ${Math.round(runMedian)}`,
      });
    }
    const past = history?.get(s.name);
    if (past && past.length >= opts.historyMinRuns) {
      const m = median(past);
      if (s.tokens < opts.historyRatio * m) {
        findings.push({
          stage: s.name,
          kind: 'below-history',
          severity: 'high',
          detail: `${s.tokens} tok < ${pct(opts.historyRatio)} of its median ${Math.round(m)} over the last ${past.length} healthy runs`,
        });
      }
    }
    // An unreadable count was already reported as a problem; a logged 0 is the finding.
    const zero = s.agents.filter((a) => a.tokens === 0 && !a.invalidTokens && isDoneState(a.state)).length;
    if (zero > 0) {
      findings.push({
        stage: s.name,
        kind: 'zero-tokens',
        severity: 'medium',
        detail: `${zero}/${n} completed agents logged 0 tokens`,
      });
    }
    const retried = s.agents.filter((a) => (a.attempt ?? 1) > 1);
    if (retried.length > 0) {
      const max = Math.max(...retried.map((a) => a.attempt ?? 1));
      findings.push({
        stage: s.name,
        kind: 'retries',
        severity: 'low',
        detail: `${retried.length}/${n} agents retried (up to attempt ${max})`,
      });
    }
  }
  return findings;
}

/**
 * The health of one run. Never trusts the run's own status: errors and anomalously cheap stages make
 * it degraded even when it says `completed`, and the status is compared with that verdict.
 */
export function checkRunHealth(
  run: RunSummary,
  opts: HealthOptions = DEFAULT_HEALTH,
  history?: StageHistory,
): RunHealth {
  const agentTokens = run.agents.reduce((n, a) => n + a.tokens, 0);
  const reported = run.reportedTotalTokens;
  const findings = stageFindings(stagesOf(run), opts, history);
  if (run.agentCount !== undefined && run.agentCount !== run.agents.length) {
    findings.push({
      stage: null,
      kind: 'agent-count',
      severity: 'medium',
      detail: `agentCount says ${run.agentCount}, the telemetry has ${run.agents.length} agent rows`,
    });
  }
  if (run.totalToolCalls !== undefined && run.agents.every((a) => a.toolCalls !== undefined)) {
    const sum = run.agents.reduce((n, a) => n + (a.toolCalls ?? 0), 0);
    if (sum !== run.totalToolCalls) {
      findings.push({
        stage: null,
        kind: 'tool-calls',
        severity: 'low',
        detail: `totalToolCalls says ${run.totalToolCalls}, the agents add up to ${sum}`,
      });
    }
  }
  let invariantOk = true;
  let invariantDetail: string | undefined;
  if (run.agents.length === 0) {
    invariantOk = false;
    invariantDetail = 'no agent rows';
  } else if (reported === undefined) {
    invariantOk = false;
    invariantDetail = 'the run reports no totalTokens to check against';
  } else if (reported !== agentTokens) {
    invariantOk = false;
    invariantDetail = `agents add up to ${agentTokens}, the run reports ${reported}`;
  }
  const degraded = findings.some((f) => f.severity === 'high');
  let statusAgreement: StatusAgreement = 'no-status';
  if (run.status) {
    if (degraded && isDoneState(run.status)) statusAgreement = 'says-completed-is-degraded';
    else if (!degraded && invariantOk && isErrorState(run.status))
      statusAgreement = 'says-failed-looks-healthy';
    else statusAgreement = 'agrees';
  }
  const health: RunHealth = {
    invariantOk,
    agentTokens,
    totalTokens: reported ?? agentTokens,
    unattributedTokens: (reported ?? agentTokens) - agentTokens,
    findings,
    degraded,
    statusAgreement,
  };
  if (invariantDetail) health.invariantDetail = invariantDetail;
  return health;
}
