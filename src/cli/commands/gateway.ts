import { loadPriceBook } from '../../config.js';
import type { BudgetSpec } from '../../core/budget.js';
import { parseBudgetFlag } from '../../gateway/budget-spec.js';
import { createGateway, DEFAULT_UPSTREAMS, type GatewayOptions } from '../../gateway/server.js';
import { displayLocation, openSharedStore } from '../../gateway/store.js';
import { parse } from '../args.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

export const GATEWAY_HELP = `tokenledger gateway [--port 8787] [--host 127.0.0.1] [--store FILE|postgres://…] [options]

A metering proxy for the Anthropic Messages API (/v1/messages) and the OpenAI Chat Completions and
Responses APIs (/v1/chat/completions, /v1/responses), streaming included. Point an SDK's base URL
at it; every call is written to the ledger with its tokens, cost and attribution.

  --store FILE|URL             shared store (default $TOKENLEDGER_STORE, else the ledger file)
  --prices FILE                price overrides
  --anthropic-upstream URL     default ${DEFAULT_UPSTREAMS.anthropic}
  --openai-upstream URL        default ${DEFAULT_UPSTREAMS.openai}
  --admin-token-env NAME       env variable holding the admin token for GET /v1/spend
                               (default TOKENLEDGER_ADMIN_TOKEN)
  --budget SPEC                repeatable: [SCOPE:]DOLLARS/WINDOW[:alert], e.g. tenant=*:500/30d,
                               user=*:5/1d, run=*:2/run (scopes: tenant key user feature run agent
                               task stage session project; * = each value)
  --webhook URL                repeatable: budget alerts (Slack, Discord or generic JSON)
  --alert-thresholds LIST      default 50,80,100 (percent of a budget)
  --otlp-endpoint URL          export spans and metrics over OTLP/HTTP (e.g. http://127.0.0.1:4318)
  --max-body-mb N              largest request body (default 10)
  --upstream-timeout-s N       wait for the provider's headers / next chunk (default 600)
  --pass-through-keys          forward provider keys clients send (default: only for a provider
  --no-pass-through-keys       whose key the gateway does not hold)
  --quiet                      no per-request log lines on stderr (errors still)

Provider keys the gateway holds come from ANTHROPIC_API_KEY and OPENAI_API_KEY. Clients send a
gateway key (tokenledger keys create) instead; attribution comes from x-tokenledger-run, -agent,
-parent, -task, -user, -session, -feature and -tags headers.`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  store: { type: 'string' },
  prices: { type: 'string' },
  'anthropic-upstream': { type: 'string' },
  'openai-upstream': { type: 'string' },
  'admin-token-env': { type: 'string' },
  budget: { type: 'string', multiple: true },
  webhook: { type: 'string', multiple: true },
  'alert-thresholds': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'max-body-mb': { type: 'string' },
  'upstream-timeout-s': { type: 'string' },
  'pass-through-keys': { type: 'boolean' },
  'no-pass-through-keys': { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positiveNumber(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a positive number, got "${v}"`);
  return n;
}

export async function gatewayCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(GATEWAY_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`gateway takes no arguments, got "${positionals[0]}"`);
  const port = v.port === undefined ? 8787 : Number(v.port);
  if (!/^\d+$/.test(v.port ?? '8787') || port > 65535)
    throw new UsageError(`--port must be 0–65535 (0: any free port), got "${v.port}"`);
  if (v['pass-through-keys'] && v['no-pass-through-keys'])
    throw new UsageError('choose --pass-through-keys or --no-pass-through-keys, not both');
  const budgets: BudgetSpec[] = (v.budget ?? []).map((b) => {
    try {
      return parseBudgetFlag(b);
    } catch (err) {
      throw new UsageError(`--budget: ${(err as Error).message}`);
    }
  });
  const tokenEnv = v['admin-token-env'] ?? 'TOKENLEDGER_ADMIN_TOKEN';
  const adminToken = process.env[tokenEnv] || undefined;
  if (v['admin-token-env'] && !adminToken) throw new UsageError(`--admin-token-env: $${tokenEnv} is not set`);
  const thresholds = v['alert-thresholds']?.split(',').map((t) => positiveNumber('--alert-thresholds', t, 0));

  const priceBook = loadPriceBook(v.prices);
  const location = v.store ?? process.env.TOKENLEDGER_STORE;
  const store = await openSharedStore(location, { threaded: true });
  const providerKeys: GatewayOptions['providerKeys'] = {};
  if (process.env.ANTHROPIC_API_KEY) providerKeys.anthropic = process.env.ANTHROPIC_API_KEY;
  if (process.env.OPENAI_API_KEY) providerKeys.openai = process.env.OPENAI_API_KEY;
  const options: GatewayOptions = {
    store,
    priceBook,
    upstreams: {
      ...(v['anthropic-upstream'] ? { anthropic: v['anthropic-upstream'] } : {}),
      ...(v['openai-upstream'] ? { openai: v['openai-upstream'] } : {}),
    },
    providerKeys,
    budgets,
    maxBodyBytes: Math.round(positiveNumber('--max-body-mb', v['max-body-mb'], 10) * 1024 * 1024),
    upstreamTimeoutMs: Math.round(
      positiveNumber('--upstream-timeout-s', v['upstream-timeout-s'], 600) * 1000,
    ),
  };
  if (v['pass-through-keys']) options.passThroughKeys = true;
  if (v['no-pass-through-keys']) options.passThroughKeys = false;
  if (adminToken) options.adminToken = adminToken;
  if (v['otlp-endpoint']) options.otlpEndpoint = v['otlp-endpoint'];
  if (v.webhook?.length) options.alerts = { webhooks: v.webhook, ...(thresholds ? { thresholds } : {}) };
  if (v.quiet)
    options.logger = (line) => {
      if (line.includes('"level":"error"')) process.stderr.write(`${line}\n`);
    };

  let gateway: ReturnType<typeof createGateway>;
  try {
    gateway = createGateway(options);
    await gateway.listen(port, v.host ?? '127.0.0.1');
  } catch (err) {
    await store.close();
    throw err;
  }
  const keyState = (p: 'anthropic' | 'openai') => {
    const held = providerKeys[p] !== undefined;
    const pass = options.passThroughKeys ?? !held;
    return `${held ? `key held ($${p === 'anthropic' ? 'ANTHROPIC' : 'OPENAI'}_API_KEY)` : 'no key held'}; client keys ${pass ? 'forwarded' : 'refused'}`;
  };
  io.out(`tokenledger gateway listening on ${gateway.url}`);
  io.out(`  store      ${displayLocation(store.location)}`);
  io.out(`  anthropic  ${v['anthropic-upstream'] ?? DEFAULT_UPSTREAMS.anthropic} (${keyState('anthropic')})`);
  io.out(`  openai     ${v['openai-upstream'] ?? DEFAULT_UPSTREAMS.openai} (${keyState('openai')})`);
  if (budgets.length) io.out(`  budgets    ${(v.budget ?? []).join(' · ')}`);
  io.out(
    `  spend API  GET ${gateway.url}/v1/spend (${adminToken ? `admin token from $${tokenEnv}` : 'gateway keys only: no admin token'})`,
  );
  if (options.otlpEndpoint) io.out(`  otlp       ${options.otlpEndpoint}`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.err('tokenledger gateway: shutting down (finishing calls in flight, writing the ledger)');
  await gateway.close();
  await store.close();
  return 0;
}
