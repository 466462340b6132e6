import { aggregate } from '../../core/aggregate.js';
import { buildDelegationTree, type DelegationNode } from '../../core/delegation.js';
import type { UsageEvent } from '../../core/event.js';
import { formatUsd, groupThousands } from '../../core/money.js';
import { totalTokens } from '../../core/usage.js';
import { tallyJson } from '../../report/spend.js';
import { renderTerminalTable, type Table } from '../../report/table.js';
import { parse } from '../args.js';
import { ledgerPath, loadPriceBook } from '../config.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import { ingestWithProgress, inputPaths, openLedger, scanWithProgress } from '../sources.js';

export const SESSION_HELP = `tokenledger session ID [PATH…] [--json] [--no-ledger] [--ledger FILE]

Prints a session's delegation tree: the main thread and every sub-agent it spawned, each with its
OWN spend (its calls alone) and its SUBTREE spend (itself plus every agent below it).
ID may be a unique prefix of the session id.`;

const OPTIONS = {
  json: { type: 'boolean' },
  'no-ledger': { type: 'boolean' },
  ledger: { type: 'string' },
  prices: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function pickSession(events: UsageEvent[], id: string): UsageEvent[] {
  const sessions = new Set<string>();
  for (const e of events) if (e.attribution.session?.startsWith(id)) sessions.add(e.attribution.session);
  if (sessions.size === 0)
    throw new UsageError(`no session starts with "${id}" (try: tokenledger report --by session)`);
  if (sessions.has(id)) return events.filter((e) => e.attribution.session === id);
  if (sessions.size > 1)
    throw new UsageError(
      `"${id}" matches ${sessions.size} sessions: ${[...sessions].slice(0, 5).join(', ')}…`,
    );
  const only = [...sessions][0]!;
  return events.filter((e) => e.attribution.session === only);
}

function nodeJson(n: DelegationNode): unknown {
  return {
    id: n.id,
    path: n.path,
    name: n.name,
    ...(n.description ? { description: n.description } : {}),
    own: tallyJson(n.own),
    subtree: tallyJson(n.subtree),
    children: n.children.map(nodeJson),
  };
}

function treeTable(root: DelegationNode): Table {
  const rows: string[][] = [];
  const walk = (n: DelegationNode, prefix: string, last: boolean, depth: number) => {
    const branch = depth === 0 ? '' : `${prefix}${last ? '└─ ' : '├─ '}`;
    const about =
      n.description && n.description.length > 40 ? `${n.description.slice(0, 39)}…` : n.description;
    const label = depth === 0 ? n.name : `${n.name} ${n.id}${about ? ` "${about}"` : ''}`;
    rows.push([
      branch + label,
      groupThousands(n.own.events),
      groupThousands(totalTokens(n.own.usage)),
      formatUsd(n.own.costNano),
      groupThousands(n.subtree.events),
      groupThousands(totalTokens(n.subtree.usage)),
      formatUsd(n.subtree.costNano),
    ]);
    const childPrefix = depth === 0 ? '' : `${prefix}${last ? '   ' : '│  '}`;
    n.children.forEach((c, i) => {
      walk(c, childPrefix, i === n.children.length - 1, depth + 1);
    });
  };
  walk(root, '', true, 0);
  return {
    head: ['Agent', 'Own calls', 'Own tokens', 'Own cost', 'Subtree calls', 'Subtree tokens', 'Subtree cost'],
    right: [false, true, true, true, true, true, true],
    rows,
  };
}

export async function sessionCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(SESSION_HELP);
    return 0;
  }
  const [id, ...rest] = positionals;
  if (!id) throw new UsageError('which session? tokenledger session ID [PATH…]');
  const { paths, explicit } = inputPaths(rest);
  const book = loadPriceBook(v.prices);
  let all: UsageEvent[];
  if (v['no-ledger']) {
    all = (await scanWithProgress(paths, book)).events;
  } else {
    const ledger = await openLedger(ledgerPath(v.ledger));
    try {
      await ingestWithProgress(paths, ledger, book);
      all = ledger.events(explicit ? { under: paths } : {});
    } finally {
      ledger.close();
    }
  }
  const events = pickSession(all, id);
  const session = events[0]?.attribution.session ?? id;
  const project = events[0]?.attribution.project;
  const root = buildDelegationTree(events);
  if (v.json) {
    io.out(JSON.stringify({ session, project: project ?? null, tree: nodeJson(root) }, null, 2));
    return 0;
  }
  const totals = aggregate(events, 'session').totals;
  io.out(io.style.bold(`session ${session}${project ? ` · project ${project}` : ''}`));
  io.out(
    `${groupThousands(totals.events)} calls · ${groupThousands(totalTokens(totals.usage))} tokens · ${formatUsd(totals.costNano)}` +
      (totals.unpricedEvents ? ` (+${totals.unpricedEvents} unpriced)` : ''),
  );
  io.out('');
  io.out(renderTerminalTable(treeTable(root), io.style));
  io.out('');
  io.out(
    io.style.dim(
      'own = the agent’s own calls; subtree = the agent plus every agent it spawned, directly or not',
    ),
  );
  return 0;
}
