import { describe, expect, it } from 'vitest';
import { DEMO_EVENTS, DEMO_MERMAID } from '../../test/helpers/demo-ledger.js';
import { aggregate } from '../core/aggregate.js';
import { breakdown } from '../core/breakdown.js';
import type { UsageEvent } from '../core/event.js';
import { emptyUsage } from '../core/usage.js';
import { GENAI_PRICES_SOURCE } from '../prices/price-book.js';
import { flowGraph } from './flow.js';
import { mermaidText, renderMermaid } from './mermaid.js';
import { spendNotes } from './spend.js';

const notesOf = (events: UsageEvent[]) => spendNotes(aggregate(events, 'day').totals, GENAI_PRICES_SOURCE);

function ev(id: string, agent: string, model: string, nano: number | null, run = 'r1'): UsageEvent {
  return {
    id,
    ts: Date.UTC(2026, 0, 1),
    source: 'meter',
    provider: 'x',
    model,
    usage: { ...emptyUsage(), inputTokens: 10 },
    cost: { nanoUsd: nano, priceSource: 't', estimated: false },
    attribution: { run, agentName: agent },
  };
}

describe('renderMermaid', () => {
  it('the demo ledger, exactly (worked out in test/helpers/demo-ledger.ts)', () => {
    const text = renderMermaid(flowGraph(breakdown(DEMO_EVENTS)), notesOf(DEMO_EVENTS));
    expect(text).toBe(DEMO_MERMAID.replace('PRICE_SOURCE', GENAI_PRICES_SOURCE));
  });

  it('no name can break out of its label or its node id', () => {
    const hostile = ['a"] --> evil["x', 'line\nbreak', '#35; `md` & <b>', 'end', '%%{init: {}}%%'];
    const events = hostile.map((name, i) => ev(String(i), name, 'm', 100 - i));
    const text = renderMermaid(flowGraph(breakdown(events)), []);
    const lines = text.split('\n');
    // One line per node and per edge: nothing a name holds adds a line.
    expect(lines.filter((l) => l.includes('-->'))).toHaveLength(hostile.length * 2);
    expect(text).toContain('agent_a_evil_x["a#quot;] --#gt; evil[#quot;x<br/>$0.00"]');
    expect(text).toContain('agent_line_break["line break<br/>$0.00"]');
    expect(text).toContain('agent_35_md_b["#35;35; #96;md#96; #amp; #lt;b#gt;<br/>$0.00"]');
    expect(text).toContain('agent_end["end<br/>$0.00"]');
    expect(text).toContain('agent_init["#37;#37;{init: {}}#37;#37;<br/>$0.00"]');
    expect(text).not.toContain('%%{');
    for (const l of lines.slice(2))
      expect(l).toMatch(/^ {2}(%% |[A-Za-z0-9_]+[[ ]|classDef |class |linkStyle )/);
    expect(mermaidText('"<>#&`%')).toBe('#quot;#lt;#gt;#35;#amp;#96;#37;');
    // Names reach the comments through the notes (unpriced models): no directive there either.
    expect(renderMermaid(flowGraph(breakdown([])), ['UNPRICED: %%{init: {}}%%'])).toContain(
      '  %% UNPRICED: % %{init: {}}% %',
    );
  });

  it('ids stay unique when names clean up alike', () => {
    const text = renderMermaid(flowGraph(breakdown([ev('1', 'a-b', 'm', 2), ev('2', 'a b', 'm', 1)])), []);
    expect(text).toContain('agent_a_b["a-b<br/>$0.00"]');
    expect(text).toContain('agent_a_b_2["a b<br/>$0.00"]');
  });

  it('folds the smallest into one "other" node per column, keeping the money', () => {
    // 12 agents of $12 … $1: the 9 costliest stay, 3 fold into one node of $3 + $2 + $1.
    const events = Array.from({ length: 12 }, (_, i) =>
      ev(String(i), `agent${i}`, 'm', (12 - i) * 1_000_000_000),
    );
    const g = flowGraph(breakdown(events));
    const agents = g.nodes.filter((n) => n.column === 'agent');
    expect(agents).toHaveLength(10);
    expect(agents.at(-1)).toMatchObject({ label: '3 other agents', members: 3 });
    expect(agents.at(-1)!.tally.costNano).toBe(6_000_000_000);
    const text = renderMermaid(g, []);
    expect(text).toContain('agent_other_agents["3 other agents<br/>$6.00"]');
    expect(text).toContain('run_run_r1 -->|"$6.00"| agent_other_agents');
    expect(text).toContain('linkStyle 0,10 stroke:#d62728,stroke-width:4px');
  });

  it('nothing priced: no costliest path; no usage: a one-node chart', () => {
    const unpriced = renderMermaid(flowGraph(breakdown([ev('1', 'a', 'm', null)])), []);
    expect(unpriced).toContain('run_run_r1 -->|"unpriced"| agent_a');
    expect(unpriced).not.toContain('linkStyle');
    expect(renderMermaid(flowGraph(breakdown([])), [])).toBe(
      'flowchart LR\n  %% tokenledger · money flow: run → agent → model; edges carry the dollars spent along them\n  empty["No usage found"]',
    );
  });
});
