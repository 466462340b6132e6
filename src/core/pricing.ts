import type { EventCost } from './event.js';
import { type NanoUsd, picoToNano, rateFromPerMTok } from './money.js';
import type { UsageBuckets } from './usage.js';
import { totalInputTokens } from './usage.js';

/** Per-token rates in integer pico-dollars (= micro-dollars per million tokens). */
export interface ModelRates {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  /** Per web-search request, pico-dollars. */
  webSearch: number;
}

/**
 * A model's rates, with long-context tiers: when a request's total input (uncached + cache reads +
 * cache writes) is above `aboveInputTokens`, the whole request is priced at that tier's rates.
 */
export interface RateCard {
  base: ModelRates;
  tiers: { aboveInputTokens: number; rates: ModelRates }[];
}

/** What a price book answers for one model at one time. */
export interface PriceQuote {
  /** The provider's model id the name matched, e.g. `claude-sonnet-4-0` for `claude-sonnet-4-20250514`. */
  matchedModel: string;
  provider: string;
  card: RateCard;
  /** `genai-prices@0.1.8`, `override`, … */
  source: string;
  estimated: boolean;
  note?: string;
}

export interface PriceRequest {
  model: string;
  provider?: string;
  /** Epoch ms of the call: prices are dated. */
  time: number;
  speed?: string;
}

/** Resolves models to rates. Implementations resolve once per (model, date, speed), not per event. */
export interface PriceBook {
  /** Identifies the data behind the prices, so stored costs can be re-priced when it changes. */
  readonly version: string;
  quote(req: PriceRequest): PriceQuote | null;
  /**
   * Loads the price data now instead of on the first quote: a caller with idle time (a scan whose
   * workers are parsing) spends it there rather than after the scan.
   */
  preload?(): void;
}

/** Builds rates from published $/MTok figures. */
export function ratesFromPerMTok(p: {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  webSearchPerThousand?: number;
}): ModelRates {
  return {
    input: rateFromPerMTok(p.input),
    output: rateFromPerMTok(p.output),
    cacheRead: rateFromPerMTok(p.cacheRead ?? p.input),
    cacheWrite5m: rateFromPerMTok(p.cacheWrite5m ?? p.input),
    cacheWrite1h: rateFromPerMTok(p.cacheWrite1h ?? p.cacheWrite5m ?? p.input),
    // per thousand requests → per request, in pico: $10/1k = $0.01 = 1e10 pico
    webSearch: Math.round(((p.webSearchPerThousand ?? 0) / 1000) * 1e12),
  };
}

/** The rates that apply to a request of this size. */
export function ratesFor(card: RateCard, usage: UsageBuckets): ModelRates {
  const input = totalInputTokens(usage);
  let rates = card.base;
  for (const tier of card.tiers) if (input > tier.aboveInputTokens) rates = tier.rates;
  return rates;
}

/** The input share assumed for tokens of unknown kind when none is given (the seed meter's blend). */
export const DEFAULT_INPUT_SHARE = 0.85;

/**
 * Cost of one request: exact for split buckets; `unsplitTokens` are priced at a blend of the
 * input and output rates (`inputShare` of them as input), which makes the figure an estimate.
 */
export function costOf(usage: UsageBuckets, card: RateCard, inputShare = DEFAULT_INPUT_SHARE): NanoUsd {
  const r = ratesFor(card, usage);
  const pico =
    usage.inputTokens * r.input +
    usage.outputTokens * r.output +
    usage.cacheReadTokens * r.cacheRead +
    usage.cacheWrite5mTokens * r.cacheWrite5m +
    usage.cacheWrite1hTokens * r.cacheWrite1h +
    usage.webSearchRequests * r.webSearch;
  if (usage.unsplitTokens === 0) return picoToNano(pico);
  // The share in per-mille keeps the blend in integers: tokens × (s·in + (1000 − s)·out) / 1000.
  const s = Math.round(inputShare * 1000);
  const blendPicoTimes1000 = usage.unsplitTokens * (s * r.input + (1000 - s) * r.output);
  return picoToNano(pico + Math.round(blendPicoTimes1000 / 1000));
}

/** Multiplies every rate (e.g. a speed premium given as a factor). */
export function scaleCard(card: RateCard, factor: number): RateCard {
  const scale = (r: ModelRates): ModelRates => ({
    input: Math.round(r.input * factor),
    output: Math.round(r.output * factor),
    cacheRead: Math.round(r.cacheRead * factor),
    cacheWrite5m: Math.round(r.cacheWrite5m * factor),
    cacheWrite1h: Math.round(r.cacheWrite1h * factor),
    webSearch: Math.round(r.webSearch * factor),
  });
  return { base: scale(card.base), tiers: card.tiers.map((t) => ({ ...t, rates: scale(t.rates) })) };
}

/** Prices one event's usage; unknown models are unpriced (`null`), never $0. */
export function priceEvent(
  book: PriceBook,
  model: string,
  provider: string,
  ts: number,
  usage: UsageBuckets,
  speed?: string,
  inputShare = DEFAULT_INPUT_SHARE,
): EventCost {
  const quote = book.quote(speed ? { model, provider, time: ts, speed } : { model, provider, time: ts });
  if (!quote)
    return { nanoUsd: null, priceSource: book.version, estimated: false, note: 'unpriced: unknown model' };
  const blended = usage.unsplitTokens > 0;
  const cost: EventCost = {
    nanoUsd: costOf(usage, quote.card, inputShare),
    priceSource: quote.source,
    estimated: quote.estimated || blended,
  };
  const blend = blended
    ? `no input/output split: priced at a ${Math.round(inputShare * 100)}% input blend`
    : undefined;
  const note = quote.note && blend ? `${quote.note}; ${blend}` : quote.note || blend;
  if (note) cost.note = note;
  return cost;
}
