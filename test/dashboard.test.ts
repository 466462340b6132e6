import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aggregate, GroupBy } from '../src/core/aggregate.js';
import { GENAI_PRICES_SOURCE } from '../src/prices/price-book.js';
import type { DashboardData } from '../src/report/dashboard.js';
import { openSqliteLedger } from '../src/store/sqlite.js';
import { runCli } from './helpers/cli.js';
import { DEMO_CALLS, DEMO_MERMAID, demoBatch, XSS_AGENT } from './helpers/demo-ledger.js';
import { testChromiumPath } from './helpers/services.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

// `report --format html` opened in a real browser: Debian's chromium (test/global-setup.ts and
// `.ci/run` install it when missing) driven by playwright-core.
const CHROMIUM = testChromiumPath();
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

let home: string;
let ledgerFile: string;
/** The ledger's own figures, read straight from the ledger (not through the CLI). */
let ledgerAgg: Record<'day' | 'agent' | 'model', Aggregate>;

beforeAll(() => {
  home = tempDir('tokenledger-dashboard-');
  ledgerFile = join(home, 'ledger.db');
  const ledger = openSqliteLedger(ledgerFile);
  try {
    ledger.commit(demoBatch());
    const by = (g: GroupBy) => ledger.aggregate(g);
    ledgerAgg = { day: by('day'), agent: by('agent'), model: by('model') };
  } finally {
    ledger.close();
  }
});
afterAll(() => removeTempDirs());

describe('report --format mermaid', () => {
  it('prints the money flow of the demo ledger, exactly', async () => {
    const r = await runCli(['report', '--format', 'mermaid', '--ledger', ledgerFile], { home });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${DEMO_MERMAID.replace('PRICE_SOURCE', GENAI_PRICES_SOURCE)}\n`);
  });

  it('the dashboard figures are cached per ledger generation and follow the ledger', async () => {
    const copy = join(tempDir('tokenledger-dashboard-cache-'), 'ledger.db');
    copyFileSync(ledgerFile, copy);
    const html = () => runCli(['report', '--format', 'html', '--ledger', copy], { home });
    const cold = await html();
    const warm = await html();
    expect(cold.code).toBe(0);
    expect(warm.stdout).toBe(cold.stdout);
    const ledger = openSqliteLedger(copy);
    try {
      const late = {
        ...DEMO_CALLS[0]!,
        id: 'late',
        attribution: { ...DEMO_CALLS[0]!.attribution, agentName: 'latecomer' },
      };
      ledger.commit({
        ...demoBatch(),
        runs: [],
        events: [{ event: late, origin: demoBatch().events[0]!.origin }],
      });
    } finally {
      ledger.close();
    }
    const after = await html();
    expect(after.stdout).not.toBe(cold.stdout);
    expect(after.stdout).toContain('latecomer');
  });

  it('--format names one format: the old flags are aliases, two formats are a usage error', async () => {
    const json = await runCli(['report', '--format', 'json', '--ledger', ledgerFile], { home });
    const alias = await runCli(['report', '--json', '--ledger', ledgerFile], { home });
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(alias.stdout);
    const both = await runCli(['report', '--format', 'html', '--csv', '--ledger', ledgerFile], { home });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('choose one output format, not --format html and --csv');
    const bad = await runCli(['report', '--format', 'pdf', '--ledger', ledgerFile], { home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--format takes one of terminal, json, csv, markdown, html, mermaid; got "pdf"',
    );
    const runs = await runCli(['runs', '--format', 'html', '--ledger', ledgerFile], { home });
    expect(runs.code).toBe(2);
  });
});

describe('report --format html in a real browser (chromium)', () => {
  let browser: Browser;
  let page: Page;
  let html: string;
  let url: string;
  const consoleErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    const r = await runCli(['report', '--format', 'html', '--ledger', ledgerFile], { home });
    expect(r.code, r.stderr).toBe(0);
    html = r.stdout;
    const file = join(home, 'spend.html');
    writeFileSync(file, html);
    url = pathToFileURL(file).href;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(url, { waitUntil: 'load' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** What the page embeds, read back from the page itself. */
  const data = async () =>
    JSON.parse((await page.locator('script#tokenledger-data').textContent()) ?? 'null') as DashboardData;
  const count = (selector: string) => page.locator(selector).count();

  it('renders without console errors and fetches nothing but the file itself', async () => {
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([url]);
    // Self-contained: no URL to anything else anywhere in the page.
    expect(html).not.toMatch(/(?:src|href)\s*=|url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg")/i);
  });

  it('has every section, each chart an accessible SVG', async () => {
    for (const id of [
      'totals',
      'spend-over-time',
      'spend-by-agent',
      'runs',
      'agent-day',
      'money-flow',
      'tables',
      'notes',
    ])
      expect(await count(`section#${id}`), id).toBe(1);
    for (const id of ['chart-days', 'chart-agents', 'chart-run-0', 'chart-heatmap', 'chart-flow']) {
      const svg = page.locator(`svg#${id}`);
      expect(await svg.getAttribute('role'), id).toBe('img');
      expect(await page.locator(`svg#${id} > title`).textContent(), id).not.toBe('');
    }
    for (const id of ['table-agent', 'table-model', 'table-day'])
      expect(await count(`table#${id}`), id).toBe(1);
  });

  it('the embedded figures equal the ledger’s aggregates', async () => {
    const d = await data();
    const t = ledgerAgg.day.totals;
    // 7 events, 379,500 tokens, 1,186,000,000 nano (~$1.19), 3 estimated, 1 unpriced (my-finetune).
    expect(d.totals).toMatchObject({
      events: 7,
      totalTokens: 379_500,
      costNanoUsd: 1_186_000_000,
      estimatedEvents: 3,
      unpricedEvents: 1,
      unpricedModels: ['my-finetune'],
    });
    expect(d.totals).toMatchObject({
      events: t.events,
      costNanoUsd: t.costNano,
      unpricedEvents: t.unpricedEvents,
    });
    const rows = (a: Aggregate) =>
      a.groups.map((g) => [g.key, g.events, g.costNano, g.unpricedEvents, g.estimatedEvents]);
    const shown = (list: DashboardData['byDay']) =>
      list.map((g) => [g.key, g.events, g.costNanoUsd, g.unpricedEvents, g.estimatedEvents]);
    expect(shown(d.byDay)).toEqual(rows(ledgerAgg.day));
    expect(shown(d.byAgent)).toEqual(rows(ledgerAgg.agent));
    expect(shown(d.byModel)).toEqual(rows(ledgerAgg.model));
    // By hand: 03-01 $0.60 + $0.33; 03-02 $0.08 (+ my-finetune unpriced); 03-04 ~$0.016 × 2 + ~$0.144.
    expect(shown(d.byDay)).toEqual([
      ['2026-03-01', 2, 930_000_000, 0, 0],
      ['2026-03-02', 2, 80_000_000, 1, 0],
      ['2026-03-04', 3, 176_000_000, 0, 3],
    ]);
    expect(d.byAgent.map((a) => [a.key, a.costNanoUsd])).toEqual([
      ['planner', 600_000_000],
      ['coder', 410_000_000],
      ['verifier', 144_000_000],
      ['searcher', 32_000_000],
      [XSS_AGENT, 0],
    ]);
  });

  it('draws one bar per day, one slice per priced agent, one cell per agent-day, one band per flow', async () => {
    const d = await data();
    const c = d.charts;
    // Days: 3 with events on a 4-day axis (2026-03-03 is an empty slot).
    expect(c.spendOverTime.axis).toEqual(['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04']);
    expect(await count('#chart-days rect.bar')).toBe(3);
    const bars = await page.$$eval('#chart-days rect.bar', (els) =>
      els.map((e) => [e.getAttribute('data-day'), Number(e.getAttribute('data-nano'))]),
    );
    expect(bars).toEqual(d.byDay.map((g) => [g.key, g.costNanoUsd]));
    expect(await count('#chart-days rect.bar.est')).toBe(1);
    // Pie: the 4 agents with priced spend; the XSS agent is unpriced and listed without a slice.
    expect(c.agentPie.slices.map((s) => [s.agent, s.costNanoUsd])).toEqual([
      ['planner', 600_000_000],
      ['coder', 410_000_000],
      ['verifier', 144_000_000],
      ['searcher', 32_000_000],
    ]);
    expect(c.agentPie.unpricedAgents).toEqual([XSS_AGENT]);
    expect(await count('#chart-agents path.slice')).toBe(4);
    // planner: 600 / 1186 of the priced dollars.
    expect(c.agentPie.slices[0]!.sharePct).toBeCloseTo((600 / 1186) * 100, 10);
    // Heatmap: planner×03-01, coder×03-01, coder×03-02, verifier×03-04, searcher×03-04, XSS×03-02.
    expect(c.heatmap.cells).toHaveLength(6);
    expect(await count('#chart-heatmap rect.cell')).toBe(6);
    expect(await count('#chart-heatmap rect.cell.unpriced')).toBe(1);
    // Money flow: 3 runs + 5 agents + 4 models; 5 run→agent and 6 agent→model edges.
    expect(c.moneyFlow.nodes).toHaveLength(12);
    expect(c.moneyFlow.edges).toHaveLength(11);
    expect(await count('#chart-flow rect.node')).toBe(12);
    expect(await count('#chart-flow path.edge')).toBe(11);
    const hot = await page.$$eval('#chart-flow path.edge.costliest', (els) =>
      els.map((e) => [
        e.getAttribute('data-from'),
        e.getAttribute('data-to'),
        Number(e.getAttribute('data-nano')),
      ]),
    );
    expect(hot.sort()).toEqual([
      ['agent_planner', 'model_claude_sonnet_4_5', 600_000_000],
      ['run_session_s1', 'agent_planner', 600_000_000],
    ]);
    expect(c.moneyFlow.costliest).toEqual({
      run: 'session s1',
      agent: 'planner',
      model: 'claude-sonnet-4-5',
      costNanoUsd: 600_000_000,
    });
    // Every column carries the whole priced spend.
    for (const col of ['run', 'agent', 'model'])
      expect(c.moneyFlow.nodes.filter((n) => n.column === col).reduce((s, n) => s + n.costNanoUsd, 0)).toBe(
        1_186_000_000,
      );
    // The workflow run's waterfall: Verify 30,000 (60%) then Search 20,000 (40%), starting where it ended.
    expect(d.runs).toHaveLength(1);
    expect(
      d.runs[0]!.waterfall.map((s) => [s.name, s.tokens, s.startPct, s.sharePct, s.costNanoUsd]),
    ).toEqual([
      ['Verify', 30_000, 0, 60, 144_000_000],
      ['Search', 20_000, 60, 40, 32_000_000],
    ]);
    expect(await count('#chart-run-0 rect.stage')).toBe(2);
  });

  it('shows estimates with ~ and the unpriced count', async () => {
    const totals = await page.locator('#totals').innerText();
    expect(totals).toContain('~$1.19');
    expect(totals).toContain('+ 1 unpriced event(s), not in $');
    expect(await page.locator('header').innerText()).toContain('~$1.19 + 1 unpriced');
    expect(totals).toContain('my-finetune');
    const byDay = await page.locator('#table-day').innerText();
    expect(byDay).toContain('~$0.18');
    expect(byDay).toContain('$0.08 + 1 unpriced');
  });

  it('renders an agent named like a script as text (XSS-safe)', async () => {
    // The only script element is the JSON data block; nothing injected ran or was added.
    expect(await count('script')).toBe(1);
    expect(await page.locator('script').getAttribute('type')).toBe('application/json');
    expect(await page.locator('#spend-by-agent .legend').innerText()).toContain(XSS_AGENT);
    expect(await page.locator('#table-agent').innerText()).toContain(XSS_AGENT);
    expect(html).not.toContain(XSS_AGENT);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });

  it('keeps a screenshot (light and dark) in test-artifacts/', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    expect(existsSync(join(ARTIFACTS, 'dashboard.png'))).toBe(true);
  });

  it('an empty ledger gives an empty dashboard, still without errors', async () => {
    const empty = join(home, 'empty.db');
    const r = await runCli(['report', '--format', 'html', '--ledger', empty], { home });
    expect(r.code, r.stderr).toBe(0);
    const file = join(home, 'empty.html');
    writeFileSync(file, r.stdout);
    const p = await browser.newPage();
    const errors: string[] = [];
    p.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await p.goto(pathToFileURL(file).href);
    expect(errors).toEqual([]);
    expect(await p.locator('#spend-over-time .empty').innerText()).toBe('No usage found.');
    const d = JSON.parse((await p.locator('#tokenledger-data').textContent())!) as DashboardData;
    expect(d.totals.events).toBe(0);
    expect(d.period).toBeNull();
    await p.close();
  });
});
