import { budgetKeys } from '../../core/budget.js';
import { formatUsd, nanoToUsd } from '../../core/money.js';
import { keyBudgetSpec } from '../../gateway/budget-spec.js';
import { newGatewayKey } from '../../gateway/keys.js';
import { displayLocation, openSharedStore } from '../../gateway/store.js';
import { renderTerminalTable } from '../../report/table.js';
import type { GatewayKey, SharedLedger } from '../../store/shared.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

export const KEYS_HELP = `tokenledger keys create --tenant NAME [--budget DOLLARS/WINDOW] [--label TEXT]
tokenledger keys list [--tenant NAME]
tokenledger keys revoke ID

Gateway keys: what clients of \`tokenledger gateway\` send instead of a provider key. The key is
printed once; the store keeps only its SHA-256. Calls made with it are attributed to its tenant
(and count against its budget: --budget 100/30d is $100 per 30-day window; windows run, 1h, 1d, 7d,
30d or N followed by m, h or d). A revoked key stops working within 10 s.

  --store FILE|URL   the gateway's store (default $TOKENLEDGER_STORE, else the ledger file)
  --json             machine-readable output`;

const OPTIONS = {
  tenant: { type: 'string' },
  budget: { type: 'string' },
  label: { type: 'string' },
  store: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function keysCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  const [sub, ...args] = positionals;
  if (v.help || sub === undefined || sub === 'help') {
    io.out(KEYS_HELP);
    return sub === undefined && !v.help ? 2 : 0;
  }
  if (!['create', 'list', 'revoke'].includes(sub))
    throw new UsageError(`keys: unknown subcommand "${sub}" (create, list or revoke)`);
  let created: ReturnType<typeof newGatewayKey> | undefined;
  if (sub === 'create') {
    if (!v.tenant) throw new UsageError('keys create needs --tenant NAME');
    if (args.length) throw new UsageError(`keys create takes no arguments, got "${args[0]}"`);
    try {
      created = newGatewayKey({
        tenant: v.tenant,
        ...(v.label !== undefined ? { label: v.label } : {}),
        ...(v.budget !== undefined ? { budget: v.budget } : {}),
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (sub === 'revoke' && args.length !== 1) throw new UsageError('keys revoke takes one key id (key_…)');
  const store = await openSharedStore(v.store ?? process.env.TOKENLEDGER_STORE);
  try {
    if (created) return await create(store, created, v.json === true, io);
    if (sub === 'list') return await list(store, v.tenant, v.json === true, io);
    return await revoke(store, args[0]!, v.json === true, io);
  } finally {
    await store.close();
  }
}

function budgetText(k: GatewayKey): string {
  return k.budget ? `$${k.budget.limitUsd} per ${k.budget.window}` : '';
}

async function create(
  store: SharedLedger,
  { key, record }: ReturnType<typeof newGatewayKey>,
  json: boolean,
  io: Io,
): Promise<number> {
  await store.putKey(record);
  if (json) {
    io.out(JSON.stringify({ ...publicKey(record), key }, null, 2));
    return 0;
  }
  io.out(key);
  const details = [`tenant ${record.tenant}`];
  if (record.budget) details.push(`budget ${budgetText(record)}`);
  if (record.label) details.push(`label "${record.label}"`);
  io.err(`${record.id} · ${details.join(' · ')} → ${displayLocation(store.location)}`);
  io.err('This is the only time the key is shown: the store keeps its SHA-256 only.');
  return 0;
}

function publicKey(k: GatewayKey) {
  return {
    id: k.id,
    tenant: k.tenant,
    createdAt: new Date(k.createdMs).toISOString(),
    ...(k.revokedMs !== undefined ? { revokedAt: new Date(k.revokedMs).toISOString() } : {}),
    ...(k.label ? { label: k.label } : {}),
    ...(k.budget ? { budget: k.budget } : {}),
  };
}

async function list(store: SharedLedger, tenant: string | undefined, json: boolean, io: Io): Promise<number> {
  const keys = await store.listKeys(tenant);
  const now = Date.now();
  const rows = await Promise.all(
    keys.map(async (k) => {
      const spec = keyBudgetSpec(k);
      const bk = spec ? budgetKeys(spec, { tags: { gatewayKey: k.id } }, now)[0] : undefined;
      const spentNano = bk ? (await store.budgetUsage(bk.key)).spentNano : undefined;
      return { k, spentNano };
    }),
  );
  if (json) {
    io.out(
      JSON.stringify(
        rows.map(({ k, spentNano }) => ({
          ...publicKey(k),
          ...(spentNano !== undefined ? { budgetSpentUsd: nanoToUsd(spentNano) } : {}),
        })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (rows.length === 0) {
    io.out(`no gateway keys${tenant ? ` for tenant ${tenant}` : ''} in ${displayLocation(store.location)}`);
    return 0;
  }
  io.out(
    renderTerminalTable(
      {
        head: ['Key id', 'Tenant', 'Created', 'Status', 'Budget', 'Spent (window)', 'Label'],
        rows: rows.map(({ k, spentNano }) => [
          k.id,
          k.tenant,
          new Date(k.createdMs).toISOString().slice(0, 16).replace('T', ' '),
          k.revokedMs !== undefined
            ? `revoked ${new Date(k.revokedMs).toISOString().slice(0, 10)}`
            : 'active',
          budgetText(k),
          spentNano === undefined
            ? ''
            : formatUsd(spentNano, spentNano > 0 && spentNano < 10_000_000 ? 6 : 2),
          k.label ?? '',
        ]),
        right: [false, false, false, false, false, true, false],
      },
      io.style,
    ),
  );
  return 0;
}

async function revoke(store: SharedLedger, id: string, json: boolean, io: Io): Promise<number> {
  const ok = await store.revokeKey(id, Date.now());
  if (json) io.out(JSON.stringify({ id, revoked: ok }));
  else if (ok) io.out(`revoked ${id}: gateways refuse it within 10 s`);
  else io.err(`tokenledger: no active key ${id} (unknown or already revoked)`);
  return ok ? 0 : 1;
}
