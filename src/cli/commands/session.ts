import { ledgerPath, loadPriceBook } from '../../config.js';
import { aggregate, type Tally } from '../../core/aggregate.js';
import { buildDelegationTree, type DelegationNode } from '../../core/delegation.js';
import type { UsageEvent } from '../../core/event.js';
import { formatCost, groupThousands } from '../../core/money.js';
import { totalTokens } from '../../core/usage.js';
import { tallyJson } from '../../report/spend.js';
import { renderTerminalTable, type Table } from '../../report/table.js';
import { parse } from '../args.js';
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

type Field = 'session' | 'run';

/** Dollars, `~` when any part is an estimate, `+N unpriced` when some calls have no price. */
function money(t: Tally): string {
  return `${t.estimatedEvents ? '~' : ''}${formatCost(t.costNano)}${t.unpricedEvents ? ` +${t.unpricedEvents} unpriced` : ''}`;
}

/** The events of the one session (or run) whose id is `id` or starts with it. */
function pick(events: UsageEvent[], id: string, field: Field): { id: string; events: UsageEvent[] } | null {
  const ids = new Set<string>();
  for (const e of events) {
    const v = e.attribution[field];
    if (v?.startsWith(id)) ids.add(v);
  }
  if (ids.size === 0) return null;
  const chosen = ids.has(id) ? id : ids.size === 1 ? [...ids][0]! : undefined;
  if (!chosen)
    throw new UsageError(`"${id}" matches ${ids.size} ${field}s: ${[...ids].slice(0, 5).join(', ')}…`);
  return { id: chosen, events: events.filter((e) => e.attribution[field] === chosen) };
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
      money(n.own),
      groupThousands(n.subtree.events),
      groupThousands(totalTokens(n.subtree.usage)),
      money(n.subtree),
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
  return treeCommand(argv, io, ['session']);
}

export const TREE_HELP = `tokenledger tree RUN_OR_SESSION [PATH…] [--json] [--no-ledger] [--ledger FILE]

The delegation tree of a run (a workflow run id, an OTLP trace id) or a Claude Code session: every
agent with its OWN spend and its SUBTREE spend. The id may be a unique prefix.`;

export async function treeCommand(
  argv: string[],
  io: Io,
  fields: Field[] = ['run', 'session'],
): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(SESSION_HELP);
    return 0;
  }
  const [id, ...rest] = positionals;
  if (!id)
    throw new UsageError(
      `which ${fields.join(' or ')}? tokenledger ${fields.length > 1 ? 'tree' : 'session'} ID [PATH…]`,
    );
  const { paths, explicit } = inputPaths(rest, v['no-ledger'] !== true);
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
  let found: { id: string; events: UsageEvent[] } | null = null;
  let field: Field = fields[0]!;
  for (const f of fields) {
    found = pick(all, id, f);
    field = f;
    if (found) break;
  }
  if (!found)
    throw new UsageError(
      `no ${fields.join(' or ')} starts with "${id}" (try: tokenledger report --by session)`,
    );
  const events = found.events;
  const session = found.id;
  const project = events[0]?.attribution.project;
  const root = buildDelegationTree(events);
  if (v.json) {
    io.out(JSON.stringify({ [field]: session, project: project ?? null, tree: nodeJson(root) }, null, 2));
    return 0;
  }
  const totals = aggregate(events, 'session').totals;
  io.out(io.style.bold(`${field} ${session}${project ? ` · project ${project}` : ''}`));
  io.out(
    `${groupThousands(totals.events)} calls · ${groupThousands(totalTokens(totals.usage))} tokens · ${money(totals)}` +
      '',
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
