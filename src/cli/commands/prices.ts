import { loadPriceBook } from '../../config.js';
import { formatUsd, groupThousands } from '../../core/money.js';
import { costOf, type ModelRates, ratesFor } from '../../core/pricing.js';
import { emptyUsage, totalInputTokens } from '../../core/usage.js';
import { renderTerminalTable } from '../../report/table.js';
import { parse, parseCount, parseDay } from '../args.js';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';

export const PRICES_HELP = `tokenledger prices MODEL [options]

Shows the rates tokenledger charges for MODEL and why (which price data matched, which tiers apply),
and with token counts, the cost of such a call worked out line by line.

  --provider ID        provider id (default: found from the model name)
  --date YYYY-MM-DD    prices on that date (default: today)
  --speed fast         the premium fast mode
  --input N --output N --cache-read N --cache-write N --cache-write-1h N
                       a call to price (cache-write = 5-minute writes)
  --prices FILE        price overrides
  --json`;

const OPTIONS = {
  provider: { type: 'string' },
  date: { type: 'string' },
  speed: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  'cache-read': { type: 'string' },
  'cache-write': { type: 'string' },
  'cache-write-1h': { type: 'string' },
  prices: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Pico-dollars per token → "$3.00" per million tokens. */
const perMTok = (pico: number) => formatUsd(pico * 1000, pico % 10_000 === 0 ? 2 : 4);

export async function pricesCommand(argv: string[], io: Io): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  if (v.help) {
    io.out(PRICES_HELP);
    return 0;
  }
  const model = positionals[0];
  if (!model) throw new UsageError('which model? tokenledger prices MODEL');
  const day = parseDay('--date', v.date);
  const time = day ? Date.parse(`${day}T12:00:00Z`) : Date.now();
  const book = loadPriceBook(v.prices);
  const quote = book.quote({
    model,
    time,
    ...(v.provider ? { provider: v.provider } : {}),
    ...(v.speed ? { speed: v.speed } : {}),
  });
  const usage = emptyUsage();
  usage.inputTokens = parseCount('--input', v.input);
  usage.outputTokens = parseCount('--output', v.output);
  usage.cacheReadTokens = parseCount('--cache-read', v['cache-read']);
  usage.cacheWrite5mTokens = parseCount('--cache-write', v['cache-write']);
  usage.cacheWrite1hTokens = parseCount('--cache-write-1h', v['cache-write-1h']);
  const hasUsage = totalInputTokens(usage) + usage.outputTokens > 0;

  if (!quote) {
    if (v.json) io.out(JSON.stringify({ model, priced: false, priceData: book.version }, null, 2));
    else {
      io.out(`${model}: UNPRICED — not in ${book.version} nor in your price overrides.`);
      io.out('Its tokens are still counted everywhere; its cost is reported as unpriced, never as $0.');
      io.out('To price it, add it to ~/.tokenledger/prices.json (or --prices FILE):');
      io.out(
        `  { "models": { "${model}": { "input_mtok": 1.0, "output_mtok": 4.0, "cache_read_mtok": 0.1, "cache_write_mtok": 1.25 } } }`,
      );
    }
    return 1;
  }
  const card = quote.card;
  const applied = ratesFor(card, usage);
  const cost = hasUsage ? costOf(usage, card) : null;
  if (v.json) {
    const rates = (r: ModelRates) => ({
      inputMTok: r.input / 1e6,
      outputMTok: r.output / 1e6,
      cacheReadMTok: r.cacheRead / 1e6,
      cacheWrite5mMTok: r.cacheWrite5m / 1e6,
      cacheWrite1hMTok: r.cacheWrite1h / 1e6,
      webSearchPerThousand: r.webSearch / 1e9,
    });
    io.out(
      JSON.stringify(
        {
          model,
          priced: true,
          matchedModel: quote.matchedModel,
          provider: quote.provider,
          source: quote.source,
          estimated: quote.estimated,
          note: quote.note ?? null,
          base: rates(card.base),
          tiers: card.tiers.map((t) => ({ aboveInputTokens: t.aboveInputTokens, ...rates(t.rates) })),
          ...(cost !== null ? { costUsd: cost / 1e9, costNanoUsd: cost } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  io.out(
    `${model} → ${quote.matchedModel} (${quote.provider}), from ${quote.source}, prices of ${new Date(time).toISOString().slice(0, 10)}`,
  );
  if (quote.note) io.out(io.style.yellow(`~ estimate: ${quote.note}`));
  const rows: [string, keyof ModelRates][] = [
    ['input (uncached)', 'input'],
    ['output (incl. reasoning)', 'output'],
    ['cache read', 'cacheRead'],
    ['cache write, 5 min', 'cacheWrite5m'],
    ['cache write, 1 hour', 'cacheWrite1h'],
  ];
  const head = [
    'per million tokens',
    'base',
    ...card.tiers.map((t) => `input > ${groupThousands(t.aboveInputTokens)}`),
  ];
  io.out('');
  io.out(
    renderTerminalTable({
      head,
      right: head.map((_, i) => i > 0),
      rows: rows.map(([label, k]) => [
        label,
        perMTok(card.base[k]),
        ...card.tiers.map((t) => perMTok(t.rates[k])),
      ]),
    }),
  );
  // pico-dollars per request × 1,000 requests = nano-dollars per 1,000 requests
  if (card.base.webSearch > 0) io.out(`web search: ${formatUsd(card.base.webSearch)} per 1,000 requests`);
  if (card.tiers.length) {
    io.out('');
    io.out(
      'A request whose input (uncached + cache read + cache write) is above a tier’s threshold is priced',
    );
    io.out('entirely at that tier’s rates, output included.');
  }
  if (cost !== null) {
    io.out('');
    const tier = applied === card.base ? 'base rates' : 'long-context tier rates';
    io.out(`This call (${groupThousands(totalInputTokens(usage))} input tokens in all → ${tier}):`);
    const line = (label: string, n: number, rate: number) => {
      if (n > 0)
        io.out(
          `  ${label.padEnd(20)} ${groupThousands(n).padStart(12)} × ${perMTok(rate)}/MTok = ${formatUsd(Math.floor((n * rate + 500) / 1000), 6)}`,
        );
    };
    line('input', usage.inputTokens, applied.input);
    line('output', usage.outputTokens, applied.output);
    line('cache read', usage.cacheReadTokens, applied.cacheRead);
    line('cache write 5m', usage.cacheWrite5mTokens, applied.cacheWrite5m);
    line('cache write 1h', usage.cacheWrite1hTokens, applied.cacheWrite1h);
    io.out(
      `  ${'total'.padEnd(20)} ${''.padStart(12)}   ${formatUsd(cost, 6)}${quote.estimated ? ' (estimate)' : ''}`,
    );
  }
  return 0;
}
