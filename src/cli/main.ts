#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { EXIT } from './errors.js';
import { type Io, processIo } from './io.js';

async function fullHelp(): Promise<string> {
  const [
    { INGEST_HELP },
    { PRICES_HELP },
    { REPORT_HELP, RUNS_HELP },
    { SESSION_HELP, TREE_HELP },
    { INSIGHTS_HELP },
    { WHATIF_HELP },
    { OUTCOMES_HELP },
  ] = await Promise.all([
    import('./commands/ingest.js'),
    import('./commands/prices.js'),
    import('./commands/report.js'),
    import('./commands/session.js'),
    import('./commands/insights.js'),
    import('./commands/whatif.js'),
    import('./commands/outcomes.js'),
  ]);
  return `tokenledger — what your AI agents spent, by agent, model, session and day

Usage:
  tokenledger [report] [PATH…]   spend table (default command)
  tokenledger runs [PATH…]       workflow runs: stage waterfall, invariant, health
  tokenledger ingest [PATH…]     read new usage into the ledger
  tokenledger session ID         a session's sub-agent delegation tree
  tokenledger tree ID            a run's or trace's (or session's) delegation tree
  tokenledger prices MODEL       the rates that apply to a model, and why
  tokenledger insights           what to change: cost leader, cheaper-model candidates, trends, projection
  tokenledger whatif --model M   a slice of the ledger re-priced at another model (an estimate)
  tokenledger outcomes import F  record how runs ended (CSV/JSONL), for cost per success and ROI
  tokenledger gateway            metering proxy for the Anthropic and OpenAI APIs (budgets, keys, spend API)
  tokenledger keys create        a gateway key for a tenant, with a budget (also keys list, keys revoke)

Run 'tokenledger COMMAND --help' for a command's options.

${REPORT_HELP}

${RUNS_HELP}

${INGEST_HELP}

${SESSION_HELP}

${TREE_HELP}

${PRICES_HELP}

${INSIGHTS_HELP}

${WHATIF_HELP}

${OUTCOMES_HELP}

Exit codes: 0 done, 1 failed, 2 usage error; with --strict, 3 a run is degraded, 4 a run fails
its invariant (4 wins when both).`;
}

type Command = (argv: string[], io: Io) => Promise<number>;
// Commands load on demand: a warm report should not pay for the modules of every other command.
const COMMANDS: Record<string, () => Promise<Command>> = {
  report: async () => (await import('./commands/report.js')).reportCommand,
  runs: async () => (await import('./commands/report.js')).runsCommand,
  ingest: async () => (await import('./commands/ingest.js')).ingestCommand,
  session: async () => (await import('./commands/session.js')).sessionCommand,
  tree: async () => {
    const { treeCommand } = await import('./commands/session.js');
    return (argv, io) => treeCommand(argv, io);
  },
  prices: async () => (await import('./commands/prices.js')).pricesCommand,
  insights: async () => (await import('./commands/insights.js')).insightsCommand,
  whatif: async () => (await import('./commands/whatif.js')).whatifCommand,
  outcomes: async () => (await import('./commands/outcomes.js')).outcomesCommand,
  gateway: async () => (await import('./commands/gateway.js')).gatewayCommand,
  keys: async () => (await import('./commands/keys.js')).keysCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The CLI's one error boundary: expected errors print one line and a stable exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(await fullHelp());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    io.out(version());
    return EXIT.ok;
  }
  const named = first !== undefined ? COMMANDS[first] : undefined;
  const command = await (named ?? COMMANDS.report!)();
  const args = named ? rest : argv;
  try {
    return await command(args, io);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'USAGE' || e.code === 'PATH_NOT_FOUND' || e.code === 'PRICE_OVERRIDE_INVALID') {
      io.err(`tokenledger: ${e.message}`);
      return EXIT.usage;
    }
    io.err(`tokenledger: ${e.message}`);
    if (process.env.TOKENLEDGER_DEBUG) io.err(String(e.stack));
    return EXIT.failure;
  }
}

// `tokenledger report | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tokenledger: ${String(err)}\n`);
    process.exitCode = EXIT.failure;
  },
);
