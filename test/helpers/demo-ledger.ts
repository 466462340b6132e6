import type { Attribution, UsageEvent } from '../../src/core/event.js';
import { priceEvent } from '../../src/core/pricing.js';
import { type RunSummary, runEvents } from '../../src/core/run.js';
import { emptyUsage, type UsageBuckets } from '../../src/core/usage.js';
import { createPriceBook } from '../../src/prices/price-book.js';
import type { IngestBatch } from '../../src/store/ledger.js';

/**
 * A small hand-made ledger for the dashboard and money-flow tests: two sessions and one workflow
 * run, five agents (one named like an XSS attack), four models (one unpriced), three days with a gap
 * (TZ=UTC, set by vitest.config.ts). Costs come from the real price book and equal the hand-worked
 * figures below (the tests check that too), so a re-price changes nothing.
 *
 * List prices per million tokens: claude-sonnet-4-5 and -4-6 $3 in / $15 out / $0.30 cache read;
 * claude-haiku-4-5 $1 in / $5 out. Workflow tokens are priced at the 85%-input blend: sonnet
 * 0.85×3 + 0.15×15 = $4.80/MTok, haiku 0.85×1 + 0.15×5 = $1.60/MTok.
 *
 *   call  day         session  agent     model              tokens                         nano-dollars
 *   c1    2026-03-01  s1       planner   claude-sonnet-4-5  in 100,000 + out 20,000         300,000,000 + 300,000,000 = 600,000,000
 *   c2    2026-03-01  s1       coder     claude-sonnet-4-5  in 50,000 + out 10,000 + cr 100,000
 *                                                                                          150,000,000 + 150,000,000 + 30,000,000 = 330,000,000
 *   c3    2026-03-02  s1       coder     claude-haiku-4-5   in 40,000 + out 8,000            40,000,000 + 40,000,000 = 80,000,000
 *   c4    2026-03-02  s2       XSS       my-finetune        in 1,000 + out 500              unpriced
 *   wf ×3 2026-03-04  run wf_test-001 (deep-research, 50,000 tokens reported):
 *         searcher-1, searcher-2 (Search)  claude-haiku-4-5   10,000 unsplit each      16,000,000 each (~)
 *         verifier-1 (Verify)              claude-sonnet-4-6  30,000 unsplit          144,000,000 (~)
 *
 * Totals: 7 events, 379,500 tokens, 1,186,000,000 nano (~$1.19), 3 estimated, 1 unpriced (my-finetune).
 */
export const XSS_AGENT = '<script>alert(1)</script>';

const book = createPriceBook();

function call(
  id: string,
  ts: string,
  model: string,
  usage: Partial<UsageBuckets>,
  attribution: Attribution,
): UsageEvent {
  const u = { ...emptyUsage(), ...usage };
  const t = Date.parse(ts);
  return {
    id,
    ts: t,
    source: 'claude-code',
    provider: 'anthropic',
    model,
    usage: u,
    cost: priceEvent(book, model, 'anthropic', t, u),
    attribution,
  };
}

export const DEMO_CALLS: UsageEvent[] = [
  call(
    'c1',
    '2026-03-01T10:00:00Z',
    'claude-sonnet-4-5',
    { inputTokens: 100_000, outputTokens: 20_000 },
    { session: 's1', project: 'demo', agentName: 'planner', agentPath: 'main/p1', agentId: 'p1' },
  ),
  call(
    'c2',
    '2026-03-01T11:00:00Z',
    'claude-sonnet-4-5',
    { inputTokens: 50_000, outputTokens: 10_000, cacheReadTokens: 100_000 },
    { session: 's1', project: 'demo', agentName: 'coder', agentPath: 'main/c1', agentId: 'c1' },
  ),
  call(
    'c3',
    '2026-03-02T09:00:00Z',
    'claude-haiku-4-5',
    { inputTokens: 40_000, outputTokens: 8_000 },
    { session: 's1', project: 'demo', agentName: 'coder', agentPath: 'main/c1', agentId: 'c1' },
  ),
  call(
    'c4',
    '2026-03-02T12:00:00Z',
    'my-finetune',
    { inputTokens: 1_000, outputTokens: 500 },
    { session: 's2', project: 'demo', agentName: XSS_AGENT, agentPath: 'main/x1', agentId: 'x1' },
  ),
];

export const DEMO_RUN: RunSummary = {
  id: 'wf_test-001',
  source: 'workflow',
  file: '/demo/workflows/wf_test-001.json',
  ts: Date.parse('2026-03-04T08:00:00Z'),
  workflow: 'deep-research',
  status: 'completed',
  reportedTotalTokens: 50_000,
  agentCount: 3,
  phases: ['Search', 'Verify'],
  agents: [
    {
      index: 0,
      stage: 'Search',
      tokens: 10_000,
      label: 'searcher-1',
      model: 'claude-haiku-4-5',
      state: 'completed',
    },
    {
      index: 1,
      stage: 'Search',
      tokens: 10_000,
      label: 'searcher-2',
      model: 'claude-haiku-4-5',
      state: 'completed',
    },
    {
      index: 2,
      stage: 'Verify',
      tokens: 30_000,
      label: 'verifier-1',
      model: 'claude-sonnet-4-6',
      state: 'completed',
    },
  ],
  project: 'demo',
};

export const DEMO_RUN_EVENTS: UsageEvent[] = runEvents(DEMO_RUN, book);

export const DEMO_EVENTS: UsageEvent[] = [...DEMO_CALLS, ...DEMO_RUN_EVENTS];

/** The hand-worked nano-dollars of each event, by id (null = unpriced). */
export const DEMO_NANO: Record<string, number | null> = {
  c1: 600_000_000,
  c2: 330_000_000,
  c3: 80_000_000,
  c4: null,
  'wf:wf_test-001:0': 16_000_000,
  'wf:wf_test-001:1': 16_000_000,
  'wf:wf_test-001:2': 144_000_000,
};

/** Everything above as one ledger commit. */
export function demoBatch(): IngestBatch {
  return {
    events: DEMO_EVENTS.map((event, i) => ({
      event,
      origin: {
        rank: 2,
        firstTs: null,
        file: event.source === 'workflow' ? DEMO_RUN.file : `/demo/${event.attribution.session}.jsonl`,
        line: i + 1,
      },
    })),
    files: [],
    resetProblemsFor: [],
    problems: [],
    links: [],
    runs: [DEMO_RUN],
  };
}

/**
 * `report --format mermaid` of the demo ledger, worked out by hand: runs by cost (s1 $0.60 + $0.33
 * + $0.08 = $1.01; the workflow run $0.016 × 2 + $0.144 = ~$0.18; s2 unpriced), agents by cost
 * (planner $0.60, coder $0.41, verifier ~$0.14, searcher ~$0.03, the XSS name unpriced), models by
 * cost (sonnet-4-5 $0.93, sonnet-4-6 ~$0.14, haiku-4-5 $0.08 + $0.032 = ~$0.11, my-finetune
 * unpriced). The costliest (run, agent, model) is s1 → planner → claude-sonnet-4-5 ($0.60): edges
 * 0 and 5.
 */
export const DEMO_MERMAID = `flowchart LR
  %% tokenledger · money flow: run → agent → model; edges carry the dollars spent along them
  %% $ = list prices (PRICE_SOURCE) applied to the logged token counts
  %% * Unsplit = workflow telemetry tokens (one count per agent, no input/output split): in totals, priced as estimates
  %% ~ marks estimates: 3 event(s) priced without an exact rate (see \`tokenledger prices\`)
  %% UNPRICED: 1 event(s) of my-finetune have no known price and are not in $ (add them to prices.json)
  %% thick red = the costliest run → agent → model path
  run_session_s1["session s1<br/>$1.01"]
  run_deep_research_wf_test_001["deep-research · wf_test-001<br/>~$0.18"]
  run_session_s2["session s2<br/>unpriced"]
  agent_planner["planner<br/>$0.60"]
  agent_coder["coder<br/>$0.41"]
  agent_verifier["verifier<br/>~$0.14"]
  agent_searcher["searcher<br/>~$0.03"]
  agent_script_alert_1_script["#lt;script#gt;alert(1)#lt;/script#gt;<br/>unpriced"]
  model_claude_sonnet_4_5["claude-sonnet-4-5<br/>$0.93"]
  model_claude_sonnet_4_6["claude-sonnet-4-6<br/>~$0.14"]
  model_claude_haiku_4_5["claude-haiku-4-5<br/>~$0.11"]
  model_my_finetune["my-finetune<br/>unpriced"]
  run_session_s1 -->|"$0.60"| agent_planner
  run_session_s1 -->|"$0.41"| agent_coder
  run_deep_research_wf_test_001 -->|"~$0.14"| agent_verifier
  run_deep_research_wf_test_001 -->|"~$0.03"| agent_searcher
  run_session_s2 -->|"unpriced"| agent_script_alert_1_script
  agent_planner -->|"$0.60"| model_claude_sonnet_4_5
  agent_coder -->|"$0.33"| model_claude_sonnet_4_5
  agent_coder -->|"$0.08"| model_claude_haiku_4_5
  agent_verifier -->|"~$0.14"| model_claude_sonnet_4_6
  agent_searcher -->|"~$0.03"| model_claude_haiku_4_5
  agent_script_alert_1_script -->|"unpriced"| model_my_finetune
  classDef costliest stroke:#d62728,stroke-width:3px
  class run_session_s1,agent_planner,model_claude_sonnet_4_5 costliest
  linkStyle 0,5 stroke:#d62728,stroke-width:4px`;
