import { describe, expect, it } from 'vitest';
import { DEMO_EVENTS, XSS_AGENT } from '../../test/helpers/demo-ledger.js';
import { aggregate } from '../core/aggregate.js';
import { breakdown } from '../core/breakdown.js';
import type { UsageEvent } from '../core/event.js';
import { emptyUsage } from '../core/usage.js';
import { type DashboardInput, dashboardData } from './dashboard.js';
import { escapeHtml, jsonForScript, renderDashboardHtml } from './html.js';

// The dashboard in a real browser is test/dashboard.test.ts; these check the figures and the escaping.

function ev(id: string, day: string, agent: string, nano: number | null): UsageEvent {
  return {
    id,
    ts: Date.parse(`${day}T12:00:00Z`),
    source: 'meter',
    provider: 'x',
    model: 'm',
    usage: { ...emptyUsage(), inputTokens: 100 },
    cost: { nanoUsd: nano, priceSource: 't', estimated: false },
    attribution: { run: 'r', agentName: agent },
  };
}

function input(events: UsageEvent[]): DashboardInput {
  return {
    source: 'test',
    totals: aggregate(events, 'day').totals,
    notes: [],
    breakdown: breakdown(events),
    runs: [],
    inputSharePct: 85,
    problems: [],
  };
}

describe('dashboardData', () => {
  it('the demo ledger: the time axis fills the gap; the unpriced agent gets no slice', () => {
    const d = dashboardData(input(DEMO_EVENTS));
    expect(d.period).toEqual({ from: '2026-03-01', to: '2026-03-04' });
    expect(d.charts.spendOverTime.axis).toEqual(['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04']);
    expect(
      d.charts.spendOverTime.bars.map((b) => [b.day, b.costNanoUsd, b.estimated, b.unpricedEvents]),
    ).toEqual([
      ['2026-03-01', 930_000_000, false, 0],
      ['2026-03-02', 80_000_000, false, 1],
      ['2026-03-04', 176_000_000, true, 0],
    ]);
    expect(d.charts.agentPie.unpricedAgents).toEqual([XSS_AGENT]);
    expect(d.charts.agentPie.slices.reduce((n, s) => n + s.sharePct, 0)).toBeCloseTo(100, 10);
    expect(d.charts.heatmap.agents).toEqual(['planner', 'coder', 'verifier', 'searcher', XSS_AGENT]);
  });

  it('a long span draws only the days with events', () => {
    const d = dashboardData(input([ev('1', '2026-01-01', 'a', 1), ev('2', '2026-12-31', 'a', 1)]));
    expect(d.charts.spendOverTime.axis).toEqual(['2026-01-01', '2026-12-31']);
    const short = dashboardData(input([ev('1', '2026-02-27', 'a', 1), ev('2', '2026-03-02', 'a', 1)]));
    expect(short.charts.spendOverTime.axis).toEqual(['2026-02-27', '2026-02-28', '2026-03-01', '2026-03-02']);
  });

  it('folds the smallest agents into one slice and one heatmap row, keeping the money', () => {
    // 20 agents, agent i costs (20 - i) dollars, each on its own day in January.
    const events = Array.from({ length: 20 }, (_, i) =>
      ev(String(i), `2026-01-${String(i + 1).padStart(2, '0')}`, `agent${i}`, (20 - i) * 1e9),
    );
    const d = dashboardData(input(events));
    const slices = d.charts.agentPie.slices;
    expect(slices).toHaveLength(10);
    // 9 kept ($20 … $12), then agents 9 … 19: $11 + … + $1 = $66.
    expect(slices.at(-1)).toMatchObject({ agent: '11 other agents', agents: 11, costNanoUsd: 66e9 });
    expect(slices.reduce((n, s) => n + s.costNanoUsd, 0)).toBe(210e9);
    const h = d.charts.heatmap;
    expect(h.agents).toHaveLength(15);
    expect(h.agents.at(-1)).toBe('6 other agents');
    expect(h.cells).toHaveLength(20);
    expect(h.cells.filter((c) => c.agent === '6 other agents').map((c) => c.costNanoUsd)).toEqual([
      6e9, 5e9, 4e9, 3e9, 2e9, 1e9,
    ]);
  });
});

describe('renderDashboardHtml', () => {
  it('escapes every string and embeds the data as JSON a browser reads back whole', () => {
    const hostile = '</script><img src=x onerror=alert(1)>"\'&\u2028';
    const d = dashboardData(input([ev('1', '2026-01-01', hostile, 5e8), ev('2', '2026-01-02', 'b', null)]));
    const html = renderDashboardHtml(d);
    expect(html).not.toContain('<img');
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    const json = /<script type="application\/json" id="tokenledger-data">(.*)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(d)));
    expect(html).toContain(escapeHtml(hostile));
  });

  it('escapeHtml and jsonForScript', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    const v = { s: '</script><!-- \u2028 & >' };
    expect(jsonForScript(v)).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(jsonForScript(v))).toEqual(v);
  });
});
