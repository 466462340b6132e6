import { formatUsd, groupThousands, nanoToUsd } from '../core/money.js';
import type { RunView } from '../core/waterfall.js';
import type { Style } from './table.js';

const BAR_WIDTH = 50; // 100% of the run total

/** JSON of one run (the issue's contract; extra fields are additive). */
export function runJson(v: RunView) {
  const h = v.health;
  return {
    id: v.run.id,
    workflow: v.run.workflow ?? null,
    status: v.run.status ?? null,
    file: v.run.file,
    totalTokens: h.totalTokens,
    agentTokens: h.agentTokens,
    unattributedTokens: h.unattributedTokens,
    invariantOk: h.invariantOk,
    ...(h.invariantDetail ? { invariantDetail: h.invariantDetail } : {}),
    degraded: h.degraded,
    statusAgreement: h.statusAgreement,
    findings: h.findings.map((f) => ({
      stage: f.stage,
      kind: f.kind,
      severity: f.severity,
      detail: f.detail,
    })),
    stages: v.stages.map((s) => ({
      name: s.name,
      tokens: s.tokens,
      sharePct: Math.round(s.sharePct * 10) / 10,
      costUsd: nanoToUsd(s.costNano),
      agents: s.agents,
      unpricedAgents: s.unpricedAgents,
    })),
    costUsd: nanoToUsd(v.costNano),
    estimated: true,
    unpricedAgents: v.unpricedAgents,
    unpricedModels: v.unpricedModels,
  };
}

export interface RunsSummary {
  runs: number;
  healthy: number;
  degraded: number;
  invariantFailures: number;
  costNano: number;
  unpricedAgents: number;
}

export function summarizeRuns(views: RunView[]): RunsSummary {
  return {
    runs: views.length,
    healthy: views.filter((v) => !v.health.degraded && v.health.invariantOk).length,
    degraded: views.filter((v) => v.health.degraded).length,
    invariantFailures: views.filter((v) => !v.health.invariantOk).length,
    costNano: views.reduce((n, v) => n + v.costNano, 0),
    unpricedAgents: views.reduce((n, v) => n + v.unpricedAgents, 0),
  };
}

const AGREEMENT: Record<string, string> = {
  'says-completed-is-degraded': 'the run says "%s" but is DEGRADED',
  'says-failed-looks-healthy': 'the run says "%s" but its telemetry looks healthy',
};

/** One run's waterfall, the way the seed meter printed it (plus the unattributed row and notes). */
export function renderRunTerminal(v: RunView, style: Style, inputSharePct: number): string {
  const h = v.health;
  const r = v.run;
  const out: string[] = [];
  const inv = h.invariantOk ? 'invariant ok' : style.red(`INVARIANT FAILED (${h.invariantDetail})`);
  out.push(
    `${style.bold(r.workflow ?? '?')}  ${r.id}  status=${r.status ?? ''}  total=${groupThousands(h.totalTokens)} tok  ~${formatUsd(v.costNano)}` +
      `${v.unpricedAgents ? ` (+${v.unpricedAgents} unpriced agent${v.unpricedAgents > 1 ? 's' : ''})` : ''}  ${inv}`,
  );
  const nameWidth = Math.max(14, ...v.stages.map((s) => s.name.length));
  const row = (name: string, tokens: number, share: number, cost: string, agents: string, bar: string) =>
    `  ${name.padEnd(nameWidth)}  ${groupThousands(tokens).padStart(11)}  ${`${share.toFixed(1)}%`.padStart(6)}  ${cost.padStart(9)}  ${agents.padEnd(5)} ${bar}`.trimEnd();
  for (const s of v.stages) {
    // `+`: some of the stage's agents have no price (their tokens are in, their dollars are not).
    const cost =
      s.unpricedAgents === s.agents ? 'unpriced' : `~${formatUsd(s.costNano)}${s.unpricedAgents ? '+' : ''}`;
    out.push(
      row(
        s.name,
        s.tokens,
        s.sharePct,
        cost,
        `n=${s.agents}`,
        '#'.repeat(Math.round((s.sharePct / 100) * BAR_WIDTH)),
      ),
    );
  }
  if (!h.invariantOk && h.unattributedTokens !== 0) {
    const share = h.totalTokens > 0 ? (h.unattributedTokens / h.totalTokens) * 100 : 0;
    const label = h.unattributedTokens > 0 ? 'unattributed' : 'over-attributed';
    out.push(style.red(row(label, h.unattributedTokens, share, '', '', '')));
  }
  const high = h.findings.filter((f) => f.severity === 'high');
  if (high.length) {
    out.push(style.red('  ! DEGRADED — cost numbers on this run are NOT publishable:'));
    for (const f of high) out.push(`      [high] ${f.stage ?? 'run'}: ${f.kind} — ${f.detail}`);
  }
  const agreement = AGREEMENT[h.statusAgreement];
  if (agreement) out.push(style.yellow(`  ! ${agreement.replace('%s', r.status ?? '')}`));
  const other = h.findings.filter((f) => f.severity !== 'high');
  for (const f of other)
    out.push(style.dim(`  note [${f.severity}] ${f.stage ?? 'run'}: ${f.kind} — ${f.detail}`));
  out.push(
    style.dim(`  ($ = estimate: list prices, ${inputSharePct}%-input blend; telemetry has no I/O split)`),
  );
  return out.join('\n');
}

export function renderRunsSummary(s: RunsSummary, style: Style): string {
  const line =
    `runs: ${s.runs} · healthy ${s.healthy} · degraded ${s.degraded} · invariant failures ${s.invariantFailures}` +
    ` · total ~${formatUsd(s.costNano)}${s.unpricedAgents ? ` (+${s.unpricedAgents} unpriced agents)` : ''}`;
  return s.degraded || s.invariantFailures ? style.yellow(line) : line;
}

export function renderRunsMarkdown(views: RunView[], inputSharePct: number): string {
  const out: string[] = [];
  for (const v of views) {
    const h = v.health;
    out.push(
      `### ${v.run.workflow ?? '?'} · ${v.run.id} · status ${v.run.status ?? '—'}${h.degraded ? ' · **DEGRADED**' : ''}${h.invariantOk ? '' : ' · **invariant failed**'}`,
      '',
      '| Stage | Tokens | Share | ~Cost | Agents |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...v.stages.map(
        (s) =>
          `| ${s.name} | ${groupThousands(s.tokens)} | ${s.sharePct.toFixed(1)}% | ~${formatUsd(s.costNano)} | ${s.agents} |`,
      ),
      `| **Total** | **${groupThousands(h.totalTokens)}** | | **~${formatUsd(v.costNano)}** | **${v.run.agents.length}** |`,
      '',
    );
    for (const f of h.findings) out.push(`- [${f.severity}] ${f.stage ?? 'run'}: ${f.kind} — ${f.detail}`);
    if (h.findings.length) out.push('');
  }
  out.push(
    `$ = estimate: list prices, ${inputSharePct}%-input blend; workflow telemetry has no input/output split.`,
  );
  return out.join('\n');
}
