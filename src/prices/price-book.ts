import { createRequire } from 'node:module';
import type { ModelInfo, ModelPrice, PriceCalculation } from '@pydantic/genai-prices';
import { rateFromPerMTok } from '../core/money.js';
import type { ModelRates, PriceBook, PriceQuote, PriceRequest, RateCard } from '../core/pricing.js';
import { scaleCard } from '../core/pricing.js';
import { findOverride, type PriceOverride } from './overrides.js';

/** The version of the bundled price data; stored with every cost so old costs can be re-priced. */
export const GENAI_PRICES_SOURCE = 'genai-prices@0.1.8';

// The price data is ~0.8 MB of JavaScript (~60 ms to load): load it on the first quote, so a report
// served from the ledger never pays for it.
let calcPriceFn: typeof import('@pydantic/genai-prices').calcPrice | undefined;
function loadPriceData(): typeof import('@pydantic/genai-prices').calcPrice {
  calcPriceFn ??= (
    createRequire(import.meta.url)('@pydantic/genai-prices') as typeof import('@pydantic/genai-prices')
  ).calcPrice;
  return calcPriceFn;
}
function calcPrice(...args: Parameters<typeof import('@pydantic/genai-prices').calcPrice>) {
  return loadPriceData()(...args);
}

type Tiered = { base: number; tiers: { start: number; price: number }[] };
type PriceValue = number | Tiered | undefined;

function priceAt(p: PriceValue, aboveInput: number): number | undefined {
  if (p === undefined) return undefined;
  if (typeof p === 'number') return p;
  let price = p.base;
  for (const t of p.tiers) if (aboveInput > t.start) price = t.price;
  return price;
}

function ratesAt(mp: ModelPrice, aboveInput: number): ModelRates | null {
  const get = (k: string) => priceAt(mp[k] as PriceValue, aboveInput);
  const input = get('input_mtok');
  const output = get('output_mtok');
  if (input === undefined || output === undefined) return null;
  const cacheWrite5m = get('cache_write_mtok') ?? input;
  return {
    input: rateFromPerMTok(input),
    output: rateFromPerMTok(output),
    cacheRead: rateFromPerMTok(get('cache_read_mtok') ?? input),
    cacheWrite5m: rateFromPerMTok(cacheWrite5m),
    cacheWrite1h: rateFromPerMTok(get('cache_write_1h_mtok') ?? cacheWrite5m),
    webSearch: Math.round(((get('web_searches_kcount') ?? 0) / 1000) * 1e12),
  };
}

/** genai-prices' price map → a rate card whose tiers are the union of every key's thresholds. */
export function rateCardFromModelPrice(mp: ModelPrice): RateCard | null {
  const base = ratesAt(mp, 0);
  if (!base) return null;
  const starts = new Set<number>();
  for (const value of Object.values(mp)) {
    if (value && typeof value === 'object') for (const t of (value as Tiered).tiers) starts.add(t.start);
  }
  const tiers = [...starts]
    .sort((a, b) => a - b)
    .map((start) => ({ aboveInputTokens: start, rates: ratesAt(mp, start + 1) ?? base }));
  return { base, tiers };
}

/**
 * The model's price on a date: the last dated entry whose start date has passed, else the first
 * (genai-prices' own rule for `start_date` constraints).
 */
export function pricesOn(model: ModelInfo, date: Date): ModelPrice {
  const prices = model.prices;
  if (!Array.isArray(prices)) return prices;
  for (let i = prices.length - 1; i >= 0; i--) {
    const p = prices[i]!;
    const c = p.constraint;
    if (c === undefined) return p.prices;
    if (c.type === 'start_date' && date >= new Date(c.start_date)) return p.prices;
  }
  return prices[0]!.prices;
}

function hasTimeOfDayPrices(calc: PriceCalculation): boolean {
  const prices = calc.model.prices;
  return Array.isArray(prices) && prices.some((p) => p.constraint?.type === 'time_of_date');
}

export interface PriceBookOptions {
  overrides?: PriceOverride[];
  /** Identifies the override file's content, folded into `version`. */
  overridesVersion?: string;
}

// What each book from `createPriceBook` was made with, for `priceBookRecipe`.
const recipes = new WeakMap<PriceBook, PriceBookOptions>();

/**
 * The default price book: `@pydantic/genai-prices` (dated prices, >200k tiers, 5m/1h cache writes)
 * under the user's overrides. Quotes are cached per (provider, model, speed, day), so pricing a
 * million events resolves each model a handful of times.
 *
 * @example
 * const book = createPriceBook();
 * const q = book.quote({ model: 'claude-sonnet-4-5', provider: 'anthropic', time: Date.now() });
 * costOf(usage, q!.card); // nano-dollars
 */
export function createPriceBook(opts: PriceBookOptions = {}): PriceBook {
  const book = buildPriceBook(opts);
  // A copy: options changed by the caller afterwards must not reach the threads that rebuild it.
  recipes.set(book, structuredClone(opts));
  return book;
}

/**
 * The options a book was made with by `createPriceBook` (plain data another thread can rebuild it
 * from), or `undefined` for any other book. A book whose methods were replaced afterwards is not
 * supported.
 */
export function priceBookRecipe(book: PriceBook): PriceBookOptions | undefined {
  return recipes.get(book);
}

function buildPriceBook(opts: PriceBookOptions): PriceBook {
  const overrides = opts.overrides ?? [];
  const cache = new Map<string, PriceQuote | null>();
  const version = opts.overridesVersion
    ? `${GENAI_PRICES_SOURCE}+${opts.overridesVersion}`
    : GENAI_PRICES_SOURCE;

  // A model is matched once (genai-prices' matching is the slow part); its dated price for another
  // day is then picked from the model's own price list.
  const matched = new Map<string, PriceCalculation | null>();
  const cards = new WeakMap<ModelPrice, RateCard | null>();

  function match(req: PriceRequest, date: Date): PriceCalculation | null {
    const key = `${req.provider ?? ''}|${req.model}`;
    if (matched.has(key)) return matched.get(key) ?? null;
    let calc: PriceCalculation | null = null;
    const opts = { timestamp: date, ...(req.provider ? { providerId: req.provider } : {}) };
    try {
      calc = calcPrice({ input_tokens: 1 }, req.model, opts);
      if (!calc && req.provider) calc = calcPrice({ input_tokens: 1 }, req.model, { timestamp: date });
    } catch {
      calc = null;
    }
    matched.set(key, calc);
    return calc;
  }

  function fromData(req: PriceRequest, date: Date): { quote: PriceQuote; perMinute: boolean } | null {
    const calc = match(req, date);
    if (!calc) return null;
    const perMinute = hasTimeOfDayPrices(calc);
    // Time-of-day prices are rare and intricate: let genai-prices pick those itself.
    const price = perMinute ? recalc(req, date) : pricesOn(calc.model, date);
    if (!price) return null;
    let card = cards.get(price);
    if (card === undefined) {
      card = rateCardFromModelPrice(price);
      cards.set(price, card);
    }
    if (!card) return null;
    const quote: PriceQuote = {
      matchedModel: calc.model.id,
      provider: calc.provider.id,
      card,
      source: GENAI_PRICES_SOURCE,
      estimated: false,
    };
    return { quote, perMinute };
  }

  function recalc(req: PriceRequest, date: Date): ModelPrice | null {
    const opts = { timestamp: date, ...(req.provider ? { providerId: req.provider } : {}) };
    try {
      return calcPrice({ input_tokens: 1 }, req.model, opts)?.model_price ?? null;
    } catch {
      return null;
    }
  }

  function resolve(req: PriceRequest): { quote: PriceQuote | null; perMinute: boolean } {
    const o = findOverride(overrides, req.model);
    let quote: PriceQuote | null = null;
    let perMinute = false;
    if (o?.card) {
      quote = {
        matchedModel: o.pattern,
        provider: o.provider ?? req.provider ?? 'unknown',
        card: o.card,
        source: 'override',
        estimated: false,
      };
    } else {
      const res = fromData(req, new Date(req.time));
      quote = res?.quote ?? null;
      perMinute = res?.perMinute ?? false;
    }
    if (!quote || req.speed !== 'fast') return { quote, perMinute };
    if (o?.fast) {
      const card = 'multiplier' in o.fast ? scaleCard(quote.card, o.fast.multiplier) : o.fast.card;
      return { quote: { ...quote, card, source: 'override' }, perMinute };
    }
    const note = 'fast mode priced at standard rates (no fast-mode price known; add one to prices.json)';
    return { quote: { ...quote, estimated: true, note }, perMinute };
  }

  // The last daily quote: events come in runs of one model and day, and this spares building the
  // cache key for each of them.
  let last: { provider: string; model: string; speed: string; day: number; quote: PriceQuote | null } | null =
    null;

  return {
    version,
    preload() {
      loadPriceData();
    },
    quote(req) {
      const provider = req.provider ?? '';
      const speed = req.speed ?? '';
      const day = Math.floor(req.time / 86_400_000);
      if (
        last !== null &&
        last.day === day &&
        last.model === req.model &&
        last.provider === provider &&
        last.speed === speed
      )
        return last.quote;
      // Time-of-day prices (rare) need the minute; everything else changes at most daily.
      const key = `${provider}|${req.model}|${speed}|${day}`;
      const hit = cache.get(key);
      if (hit !== undefined) {
        last = { provider, model: req.model, speed, day, quote: hit };
        return hit;
      }
      const minuteKey = `${key}|${Math.floor(req.time / 60_000)}`;
      const minuteHit = cache.get(minuteKey);
      if (minuteHit !== undefined) return minuteHit;
      const { quote, perMinute } = resolve(req);
      cache.set(perMinute ? minuteKey : key, quote);
      if (!perMinute) last = { provider, model: req.model, speed, day, quote };
      return quote;
    },
  };
}
