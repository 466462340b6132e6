import { loadPriceBook } from '../../config.js';
import type { EventFilter } from '../../core/aggregate.js';
import { nanoToUsd } from '../../core/money.js';
import { GENAI_PRICES_SOURCE } from '../../prices/price-book.js';
import {
  renderProblemsTerminal,
  renderSpendCsv,
  renderSpendMarkdown,
  renderSpendTerminal,
} from '../../report/render-spend.js';
import {
  renderRunsMarkdown,
  renderRunsSummary,
  renderRunTerminal,
  runJson,
  summarizeRuns,
} from '../../report/runs.js';
import { type SpendReport, spendNotes, spendReportJson } from '../../report/spend.js';
import { outputFormat, parse, parseDay, parseGroupBy } from '../args.js';
import { UsageError } from '../errors.js';
import { gather } from '../gather.js';
import { displayPath, type Io } from '../io.js';
import { buildRunViews, RUN_OPTIONS, RUN_OPTIONS_HELP, runSettings, strictExit } from '../run-views.js';
import { inputPaths } from '../sources.js';

export const REPORT_HELP = `tokenledger report [PATH…] [options]

Reads Claude Code transcripts and workflow telemetry (wf_*.json) — the given files or folders, else
$CLAUDE_CONFIG_DIR, ~/.config/claude and ~/.claude — ingests what is new into the ledger, and prints
spend grouped by one dimension, then each workflow run's stage waterfall and health.

  --by day|week|month|session|project|model|agent   grouping (default: day)
  --since DATE, --until DATE   local dates YYYY-MM-DD, both inclusive
  --project NAME               only this project (folder name under projects/)
  --format FORMAT              terminal (default), json, csv, markdown, html (a self-contained
                               dashboard: tokenledger report --format html > spend.html) or mermaid
                               (the money flow run → agent → model as a Mermaid flowchart)
  --json | --csv | --markdown  short for --format json|csv|markdown
  --no-ledger                  scan the files directly; read and write no ledger
  --ledger FILE                ledger file (default: $TOKENLEDGER_HOME/ledger.db, ~/.tokenledger/ledger.db)
  --store postgres://…         report a shared PostgreSQL store (what gateways and meters wrote there)
  --prices FILE                price overrides (default: ~/.tokenledger/prices.json if present)
${RUN_OPTIONS_HELP}`;

export const REPORT_OPTIONS = {
  by: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  project: { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  markdown: { type: 'boolean' },
  'no-ledger': { type: 'boolean' },
  ledger: { type: 'string' },
  store: { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...RUN_OPTIONS,
} as const;

export async function reportCommand(argv: string[], io: Io, runsOnly = false): Promise<number> {
  const { values: v, positionals } = parse(argv, REPORT_OPTIONS);
  if (v.help) {
    io.out(REPORT_HELP);
    return 0;
  }
  const by = parseGroupBy(v.by);
  const filter: EventFilter = {};
  const since = parseDay('--since', v.since);
  const until = parseDay('--until', v.until);
  if (since) filter.since = since;
  if (until) filter.until = until;
  if (v.project) filter.project = v.project;
  const format = outputFormat(v);
  if (runsOnly && (format === 'html' || format === 'mermaid'))
    throw new UsageError(`runs has no --format ${format}; the dashboard and the money flow are report's`);
  const settings = runSettings(v);
  if (v.store && (v['no-ledger'] || v.ledger || positionals.length > 0))
    throw new UsageError('--store reports a shared store: it takes no PATH, --ledger or --no-ledger');
  const { paths, explicit } = v.store
    ? { paths: [], explicit: false }
    : inputPaths(positionals, v['no-ledger'] !== true);
  if (paths.length === 0 && !v.store)
    io.err(
      'tokenledger: no Claude Code logs found; reporting what the ledger holds (live meter, earlier ingests)',
    );
  const book = loadPriceBook(v.prices);

  const g = await gather({
    paths,
    explicit,
    noLedger: v['no-ledger'] === true,
    ...(v.ledger ? { ledger: v.ledger } : {}),
    ...(v.store ? { store: v.store } : {}),
    book,
    by,
    filter,
    inputShare: settings.inputShare,
    breakdown: format === 'html' || format === 'mermaid',
  });
  // A run without a runId is known by its file; show that as the user would type it.
  const shown = (id: string, file: string) => (id === file ? displayPath(file) : id);
  const views = buildRunViews(g.runs, g.runEvents, g.pool, settings).map((view) => ({
    ...view,
    run: { ...view.run, id: shown(view.run.id, view.run.file), file: displayPath(view.run.file) },
  }));
  const problems = g.problems.map((p) => ({ ...p, file: displayPath(p.file) }));
  const report: SpendReport = {
    by,
    totals: g.agg.totals,
    groups: g.agg.groups,
    problems,
    source: g.source,
    notes: spendNotes(
      g.agg.totals,
      GENAI_PRICES_SOURCE + (book.version.includes('overrides') ? ' + your overrides' : ''),
    ),
  };
  const sharePct = Math.round(settings.inputShare * 100);
  switch (format) {
    case 'json': {
      const base = spendReportJson(report);
      const runs = views.map(runJson);
      const { costNano, ...summary } = summarizeRuns(views);
      io.out(
        JSON.stringify(
          { ...base, runs, runsSummary: { ...summary, costUsd: nanoToUsd(costNano), costNanoUsd: costNano } },
          null,
          2,
        ),
      );
      break;
    }
    case 'csv':
      io.out(renderSpendCsv(report));
      break;
    case 'html': {
      // The dashboard's and the money flow's modules load only for their formats: a report is
      // start-up bound when the ledger is warm.
      const [{ renderDashboardHtml }, { dashboardData }] = await Promise.all([
        import('../../report/html.js'),
        import('../../report/dashboard.js'),
      ]);
      io.out(
        renderDashboardHtml(
          dashboardData({
            source: report.source,
            totals: report.totals,
            notes: report.notes,
            breakdown: g.breakdown!,
            runs: views,
            inputSharePct: sharePct,
            problems,
          }),
        ),
      );
      break;
    }
    case 'mermaid': {
      const [{ renderMermaid }, { flowGraph }] = await Promise.all([
        import('../../report/mermaid.js'),
        import('../../report/flow.js'),
      ]);
      io.out(renderMermaid(flowGraph(g.breakdown!), report.notes));
      break;
    }
    case 'markdown':
      if (!runsOnly) io.out(renderSpendMarkdown(report));
      if (views.length)
        io.out(`${runsOnly ? '' : '\n'}## Workflow runs\n\n${renderRunsMarkdown(views, sharePct)}`);
      break;
    case 'table': {
      if (!runsOnly) io.out(renderSpendTerminal(report, io.style));
      else if (problems.length) io.out(renderProblemsTerminal(report, io.style));
      if (views.length) {
        for (const view of views) io.out(`\n${renderRunTerminal(view, io.style, sharePct)}`);
        if (views.length > 1) io.out(`\n${renderRunsSummary(summarizeRuns(views), io.style)}`);
      } else if (runsOnly) io.out('No workflow runs found.');
      break;
    }
  }
  return strictExit(views, settings);
}

export const RUNS_HELP = `tokenledger runs [PATH…] [options]

Every workflow run (wf_*.json) found: its stage waterfall with estimated dollars, the self-check that
the agents add up to the run total, and a DEGRADED verdict with reasons when a stage errored or ran
anomalously cheap — whatever status the run reported. Same options as report; --strict gates CI.`;

export async function runsCommand(argv: string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${RUNS_HELP}\n\n${REPORT_HELP.split('\n').slice(5).join('\n')}`);
    return 0;
  }
  return reportCommand(argv, io, true);
}
