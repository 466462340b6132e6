import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outcomeEconomics } from '../src/core/insights/outcomes.js';
import { createMeter, type Meter, type MeterOptions } from '../src/meter/meter.js';
import type { LedgerStore } from '../src/store/ledger.js';
import { openSqliteLedger } from '../src/store/sqlite.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

const meters: Meter[] = [];

afterEach(async () => {
  for (const m of meters.splice(0)) await m.close();
  removeTempDirs();
});

function meterFor(opts: MeterOptions = {}): { meter: Meter; file: string; errors: unknown[] } {
  const file = join(tempDir(), 'ledger.db');
  const errors: unknown[] = [];
  const meter = createMeter({
    ledger: file,
    onError: (e) => errors.push(e),
    now: () => 1_700_000_000_000,
    ...opts,
  });
  meters.push(meter);
  return { meter, file, errors };
}

describe('meter.outcome', () => {
  it('writes the verdict to the ledger at once; a later one for the same run replaces it', () => {
    const { meter, file } = meterFor();
    const o = meter.outcome('ticket-1', { success: true, units: 2, score: 0.8, valueUsd: 4 });
    expect(o).toEqual({
      run: 'ticket-1',
      success: true,
      units: 2,
      score: 0.8,
      valueUsd: 4,
      ts: 1_700_000_000_000,
      source: 'meter',
    });
    meter.outcome('ticket-2', { success: false });
    // Another process (the CLI) sees it without a flush.
    const other = openSqliteLedger(file);
    try {
      expect(other.outcomes().map((x) => [x.run, x.success])).toEqual([
        ['ticket-1', true],
        ['ticket-2', false],
      ]);
    } finally {
      other.close();
    }
    meter.outcome('ticket-2', { success: true, units: 1 });
    expect(meter.ledger.outcomes()[1]).toMatchObject({ run: 'ticket-2', success: true, units: 1 });
  });

  it('throws a TypeError for a developer error, and writes nothing', () => {
    const { meter } = meterFor();
    const bad: [unknown, unknown][] = [
      ['', { success: true }],
      [42, { success: true }],
      ['r', undefined],
      ['r', { success: 'yes' }],
      ['r', { success: true, units: -1 }],
      ['r', { success: true, score: Number.NaN }],
      ['r', { success: true, valueUsd: '4' }],
    ];
    for (const [run, result] of bad)
      expect(() => (meter.outcome as (a: unknown, b: unknown) => unknown)(run, result)).toThrow(TypeError);
    expect(meter.ledger.outcomes()).toEqual([]);
  });

  it('a storage failure goes to onError, never to the caller', () => {
    const base = openSqliteLedger(join(tempDir(), 'a.db'));
    const broken: LedgerStore = {
      ...base,
      putOutcomes: () => {
        throw new Error('disk full');
      },
    };
    const { meter, errors } = meterFor({ ledger: broken });
    expect(meter.outcome('r1', { success: true })).toBeUndefined();
    expect(errors.map(String)).toEqual(['Error: disk full']);
    base.close();
  });

  it('outcomes and metered calls give the cost per success (the failed run in the numerator)', () => {
    const { meter } = meterFor();
    // gpt-4.1-mini $0.40 / $1.60 per MTok: 1,000 in + 500 out = 400 + 800 = 1,200 µ$ per call.
    for (const run of ['r1', 'r2', 'r3'])
      meter.run({ run, agent: 'solver' }, () =>
        meter.record({ model: 'gpt-4.1-mini', usage: { inputTokens: 1000, outputTokens: 500 } }),
      );
    meter.outcome('r1', { success: true });
    meter.outcome('r2', { success: false });
    meter.outcome('r3', { success: true });
    meter.flush();
    const r = outcomeEconomics(meter.ledger.events(), meter.ledger.outcomes(), { valuePerSuccessUsd: 0.01 });
    // 3 runs × 1,200 µ$ = 3,600 µ$ over 2 successes = 1,800 µ$ each; value 2 × $0.01 = 20,000 µ$.
    expect(r.overall).toMatchObject({
      runs: 3,
      successes: 2,
      costNano: 3_600_000,
      failedCostNano: 1_200_000,
      costPerSuccessNano: 1_800_000,
      valueNano: 20_000_000,
    });
    // ROI = (20,000 − 3,600) / 3,600
    expect(r.overall.roi).toBeCloseTo(16_400 / 3_600, 12);
  });
});
