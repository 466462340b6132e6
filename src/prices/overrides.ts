import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as V from 'valibot';
import { type ModelRates, type RateCard, ratesFromPerMTok } from '../core/pricing.js';

/**
 * The user's price override file (`~/.tokenledger/prices.json` or `--prices FILE`): private rates and
 * models the price data does not know. Keys are model names; a trailing `*` matches a prefix.
 *
 * @example
 * { "models": {
 *     "my-finetune-*": { "input_mtok": 2, "output_mtok": 8 },
 *     "claude-opus-4-6": { "fast": { "multiplier": 6 } } } }
 */
function buildSchemas(v: typeof V) {
  const Mtok = v.pipe(v.number(), v.minValue(0));
  const RateFields = {
    input_mtok: Mtok,
    output_mtok: Mtok,
    cache_read_mtok: v.optional(Mtok),
    cache_write_mtok: v.optional(Mtok),
    cache_write_1h_mtok: v.optional(Mtok),
    web_searches_kcount: v.optional(Mtok),
  };
  const FastSchema = v.union([
    v.strictObject({ multiplier: v.pipe(v.number(), v.minValue(0)) }),
    v.strictObject(RateFields),
  ]);
  const ModelSchema = v.strictObject({
    provider: v.optional(v.string()),
    input_mtok: v.optional(Mtok),
    output_mtok: v.optional(Mtok),
    cache_read_mtok: v.optional(Mtok),
    cache_write_mtok: v.optional(Mtok),
    cache_write_1h_mtok: v.optional(Mtok),
    web_searches_kcount: v.optional(Mtok),
    tiers: v.optional(
      v.array(v.strictObject({ above_input_tokens: v.pipe(v.number(), v.integer()), ...RateFields })),
    ),
    fast: v.optional(FastSchema),
  });
  const FileSchema = v.strictObject({
    $schema: v.optional(v.string()),
    models: v.record(v.string(), ModelSchema),
  });
  return { v, ModelSchema, FileSchema };
}

// valibot and the schemas load on first use: most runs have no override file, and loading them up
// front cost every command ~10 ms of start-up (measured on a warm `report`, ~130 ms in all). Its
// CommonJS build is loaded, because an ES module cannot be loaded synchronously on Node 20.
let schemas: ReturnType<typeof buildSchemas> | undefined;
function overrideSchemas(): ReturnType<typeof buildSchemas> {
  schemas ??= buildSchemas(createRequire(import.meta.url)('valibot') as typeof V);
  return schemas;
}

export type OverrideEntry = V.InferOutput<ReturnType<typeof buildSchemas>['ModelSchema']>;

/** A parsed override: either full rates for a model, a fast-mode price, or both. */
export interface PriceOverride {
  pattern: string;
  provider?: string;
  card?: RateCard;
  fast?: { multiplier: number } | { card: RateCard };
}

export class PriceOverrideError extends Error {
  override readonly name = 'PriceOverrideError';
  readonly code = 'PRICE_OVERRIDE_INVALID';
}

type Rates = {
  input_mtok: number;
  output_mtok: number;
  cache_read_mtok?: number | undefined;
  cache_write_mtok?: number | undefined;
  cache_write_1h_mtok?: number | undefined;
  web_searches_kcount?: number | undefined;
};

function toRates(r: Rates): ModelRates {
  return ratesFromPerMTok({
    input: r.input_mtok,
    output: r.output_mtok,
    cacheRead: r.cache_read_mtok,
    cacheWrite5m: r.cache_write_mtok,
    cacheWrite1h: r.cache_write_1h_mtok,
    webSearchPerThousand: r.web_searches_kcount,
  });
}

/** Validates an override document (already JSON-parsed). Throws `PriceOverrideError` with the path. */
export function parsePriceOverrides(doc: unknown, origin = 'prices.json'): PriceOverride[] {
  const { v, FileSchema } = overrideSchemas();
  const parsed = v.safeParse(FileSchema, doc);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const where = issue ? v.getDotPath(issue) : '';
    throw new PriceOverrideError(`${origin}: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`);
  }
  const out: PriceOverride[] = [];
  for (const [pattern, e] of Object.entries(parsed.output.models)) {
    const o: PriceOverride = { pattern };
    if (e.provider) o.provider = e.provider;
    if (e.input_mtok !== undefined || e.output_mtok !== undefined) {
      if (e.input_mtok === undefined || e.output_mtok === undefined) {
        throw new PriceOverrideError(`${origin}: models.${pattern}: input_mtok and output_mtok go together`);
      }
      const base = toRates({ ...e, input_mtok: e.input_mtok, output_mtok: e.output_mtok });
      const tiers = (e.tiers ?? [])
        .map((t) => ({ aboveInputTokens: t.above_input_tokens, rates: toRates(t) }))
        .sort((a, b) => a.aboveInputTokens - b.aboveInputTokens);
      o.card = { base, tiers };
    }
    if (e.fast) {
      o.fast =
        'multiplier' in e.fast
          ? { multiplier: e.fast.multiplier }
          : { card: { base: toRates(e.fast), tiers: [] } };
    }
    if (!o.card && !o.fast) throw new PriceOverrideError(`${origin}: models.${pattern}: no rates given`);
    out.push(o);
  }
  return out;
}

/** Reads an override file. A missing default file is fine (returns []); a broken one is an error. */
export function loadPriceOverrides(file: string, required: boolean): PriceOverride[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PriceOverrideError(`cannot read price overrides ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new PriceOverrideError(`${file}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parsePriceOverrides(doc, file);
}

/** Finds the override for a model: exact name first, then the longest matching `prefix*`. */
export function findOverride(overrides: PriceOverride[], model: string): PriceOverride | undefined {
  const m = model.toLowerCase();
  let best: PriceOverride | undefined;
  for (const o of overrides) {
    const p = o.pattern.toLowerCase();
    if (p === m) return o;
    if (p.endsWith('*') && m.startsWith(p.slice(0, -1))) {
      if (!best || p.length > best.pattern.length) best = o;
    }
  }
  return best;
}
