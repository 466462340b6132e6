import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOverride, loadPriceOverrides, PriceOverrideError, parsePriceOverrides } from './overrides.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-overrides-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): PriceOverrideError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PriceOverrideError);
    return err as PriceOverrideError;
  }
  throw new Error('expected a PriceOverrideError, nothing was thrown');
}

describe('parsePriceOverrides', () => {
  it('turns $/MTok fields into a rate card with tiers sorted by threshold', () => {
    const [o] = parsePriceOverrides({
      models: {
        'my-finetune-*': {
          provider: 'acme',
          input_mtok: 2,
          output_mtok: 8,
          cache_read_mtok: 0.2,
          cache_write_mtok: 2.5,
          tiers: [
            { above_input_tokens: 500_000, input_mtok: 5, output_mtok: 20 },
            { above_input_tokens: 100_000, input_mtok: 4, output_mtok: 16 },
          ],
        },
      },
    });
    expect(o?.pattern).toBe('my-finetune-*');
    expect(o?.provider).toBe('acme');
    expect(o?.card?.base).toEqual({
      input: 2_000_000,
      output: 8_000_000,
      cacheRead: 200_000,
      cacheWrite5m: 2_500_000,
      // no 1h price given → the 5m write price
      cacheWrite1h: 2_500_000,
      webSearch: 0,
    });
    expect(o?.card?.tiers.map((t) => [t.aboveInputTokens, t.rates.input])).toEqual([
      [100_000, 4_000_000],
      [500_000, 5_000_000],
    ]);
    expect(o?.fast).toBeUndefined();
  });

  it('accepts a fast-mode multiplier or fast-mode rates without base rates', () => {
    const [a, b] = parsePriceOverrides({
      models: {
        'claude-opus-4-6': { fast: { multiplier: 6 } },
        'claude-opus-4-5': { fast: { input_mtok: 30, output_mtok: 150 } },
      },
    });
    expect(a?.card).toBeUndefined();
    expect(a?.fast).toEqual({ multiplier: 6 });
    expect(b?.fast).toEqual({
      card: {
        base: {
          input: 30_000_000,
          output: 150_000_000,
          cacheRead: 30_000_000,
          cacheWrite5m: 30_000_000,
          cacheWrite1h: 30_000_000,
          webSearch: 0,
        },
        tiers: [],
      },
    });
  });

  it('rejects input_mtok without output_mtok, naming the file and the model', () => {
    const e = errorOf(() =>
      parsePriceOverrides({ models: { 'my-model': { input_mtok: 2 } } }, 'custom.json'),
    );
    expect(e.message).toBe('custom.json: models.my-model: input_mtok and output_mtok go together');
    expect(e.name).toBe('PriceOverrideError');
    expect(e.code).toBe('PRICE_OVERRIDE_INVALID');
    // and the other way round
    expect(errorOf(() => parsePriceOverrides({ models: { m: { output_mtok: 2 } } })).message).toContain(
      'input_mtok and output_mtok go together',
    );
  });

  it('rejects an entry without any rates', () => {
    expect(errorOf(() => parsePriceOverrides({ models: { m: {} } }, 'p.json')).message).toBe(
      'p.json: models.m: no rates given',
    );
  });

  it('rejects negative prices, unknown keys and a missing models map, with where', () => {
    const neg = errorOf(() =>
      parsePriceOverrides({ models: { m: { input_mtok: -1, output_mtok: 1 } } }, 'x.json'),
    );
    expect(neg.message.startsWith('x.json: models.m.input_mtok: ')).toBe(true);
    const typo = errorOf(() => parsePriceOverrides({ models: { m: { input_mtoks: 1 } } }, 'x.json'));
    expect(typo.message).toContain('x.json: ');
    expect(typo.message).toContain('models.m');
    expect(errorOf(() => parsePriceOverrides({}, 'x.json')).message).toContain('x.json: ');
    expect(
      errorOf(() => parsePriceOverrides({ models: { m: { fast: { multiplier: -2 } } } }, 'x.json')).message,
    ).toContain('x.json: models.m.fast');
  });
});

describe('findOverride', () => {
  const overrides = parsePriceOverrides({
    models: {
      'claude-*': { input_mtok: 1, output_mtok: 1 },
      'claude-opus-*': { input_mtok: 2, output_mtok: 2 },
      'claude-opus-4-6': { input_mtok: 3, output_mtok: 3 },
      'claude-opus-4-*': { input_mtok: 4, output_mtok: 4 },
    },
  });

  it('prefers an exact name over any prefix, even one listed first', () => {
    expect(findOverride(overrides, 'claude-opus-4-6')?.pattern).toBe('claude-opus-4-6');
  });

  it('otherwise picks the longest matching prefix, whatever the order', () => {
    expect(findOverride(overrides, 'claude-opus-4-5')?.pattern).toBe('claude-opus-4-*');
    expect(findOverride(overrides, 'claude-opus-3')?.pattern).toBe('claude-opus-*');
    expect(findOverride(overrides, 'claude-haiku-4-5')?.pattern).toBe('claude-*');
    expect(findOverride([...overrides].reverse(), 'claude-opus-4-5')?.pattern).toBe('claude-opus-4-*');
  });

  it('matches case-insensitively and returns undefined when nothing matches', () => {
    expect(findOverride(overrides, 'CLAUDE-OPUS-4-6')?.pattern).toBe('claude-opus-4-6');
    expect(findOverride(overrides, 'gpt-4o')).toBeUndefined();
    // a pattern without * is not a prefix
    expect(findOverride(overrides, 'claude-opus-4-60')?.pattern).toBe('claude-opus-4-*');
    expect(findOverride([], 'claude-opus-4-6')).toBeUndefined();
  });
});

describe('loadPriceOverrides', () => {
  it('reads a valid file', () => {
    const f = join(dir, 'ok.json');
    writeFileSync(f, JSON.stringify({ models: { 'a-*': { input_mtok: 1.5, output_mtok: 3 } } }));
    const [o] = loadPriceOverrides(f, true);
    expect(o?.card?.base.input).toBe(1_500_000);
    expect(o?.card?.base.output).toBe(3_000_000);
  });

  it('a missing default file is no overrides; a missing required file is an error with its path', () => {
    const f = join(dir, 'absent.json');
    expect(loadPriceOverrides(f, false)).toEqual([]);
    const e = errorOf(() => loadPriceOverrides(f, true));
    expect(e.message).toContain(f);
  });

  it('a file that is not JSON is an error with its path', () => {
    const f = join(dir, 'broken.json');
    writeFileSync(f, '{"models": {');
    const e = errorOf(() => loadPriceOverrides(f, false));
    expect(e.message.startsWith(`${f}: not valid JSON`)).toBe(true);
  });

  it('a schema error is reported with the file path, not the default name', () => {
    const f = join(dir, 'half.json');
    writeFileSync(f, JSON.stringify({ models: { m: { input_mtok: 1 } } }));
    expect(errorOf(() => loadPriceOverrides(f, false)).message).toBe(
      `${f}: models.m: input_mtok and output_mtok go together`,
    );
  });
});
