import { describe, expect, it } from 'vitest';
import {
  formatCost,
  formatUsd,
  groupThousands,
  NANO_PER_USD,
  nanoToUsd,
  picoToNano,
  rateFromPerMTok,
  usdToNano,
} from './money.js';

describe('formatUsd', () => {
  it('formats nano-dollars with two decimals by default', () => {
    // 1,234,567,890 nano = $1.23456789 → $1.23
    expect(formatUsd(1_234_567_890)).toBe('$1.23');
    expect(formatUsd(0)).toBe('$0.00');
    // 10,000,000 nano = $0.01 exactly
    expect(formatUsd(10_000_000)).toBe('$0.01');
  });

  it('rounds half up at the cent', () => {
    // $1.005 exactly (1,005,000,000 nano) → half up → $1.01
    expect(formatUsd(1_005_000_000)).toBe('$1.01');
    // one nano below the half: $1.004999999 → $1.00
    expect(formatUsd(1_004_999_999)).toBe('$1.00');
    // $0.005 → $0.01, $0.004999999 → $0.00
    expect(formatUsd(5_000_000)).toBe('$0.01');
    expect(formatUsd(4_999_999)).toBe('$0.00');
  });

  it('rounds negatives symmetrically (half away from zero) and keeps the sign in front', () => {
    // -$1.005 → -$1.01 ; -$1.004999999 → -$1.00
    expect(formatUsd(-1_005_000_000)).toBe('-$1.01');
    expect(formatUsd(-1_004_999_999)).toBe('-$1.00');
    // -$12.345 → -$12.35
    expect(formatUsd(-12_345_000_000)).toBe('-$12.35');
    // -$0.004 rounds to zero, and zero has no sign
    expect(formatUsd(-4_000_000)).toBe('$0.00');
    expect(formatUsd(-5_000_000)).toBe('-$0.01');
  });

  it('groups thousands, including when rounding carries into a new group', () => {
    // 1,234,567,890,123 nano = $1,234.567890123 → $1,234.57
    expect(formatUsd(1_234_567_890_123)).toBe('$1,234.57');
    // $999.995 → half up → $1,000.00 (carry through the decimals into the thousands)
    expect(formatUsd(999_995_000_000)).toBe('$1,000.00');
    // -$1,234,567 → '-$1,234,567.00'
    expect(formatUsd(-1_234_567_000_000_000)).toBe('-$1,234,567.00');
  });

  it('honours the digits argument', () => {
    // $1.23456789 to 4 decimals: 1.2345|6789 → half up → $1.2346
    expect(formatUsd(1_234_567_890, 4)).toBe('$1.2346');
    // $2.5 to 0 decimals → $3 ; $2.499999999 → $2
    expect(formatUsd(2_500_000_000, 0)).toBe('$3');
    expect(formatUsd(2_499_999_999, 0)).toBe('$2');
    // 9 decimals show single nano-dollars
    expect(formatUsd(1, 9)).toBe('$0.000000001');
    // $1,234.5 to 0 decimals → $1,235
    expect(formatUsd(1_234_500_000_000, 0)).toBe('$1,235');
  });
});

describe('groupThousands', () => {
  it('inserts commas every three digits and truncates fractions', () => {
    expect(groupThousands(0)).toBe('0');
    expect(groupThousands(999)).toBe('999');
    expect(groupThousands(1000)).toBe('1,000');
    expect(groupThousands(1_234_567)).toBe('1,234,567');
    expect(groupThousands(-1_234_567)).toBe('-1,234,567');
    expect(groupThousands(12_345.9)).toBe('12,345');
  });
});

describe('rateFromPerMTok', () => {
  it('turns $/MTok into integer pico-dollars per token', () => {
    // $3/MTok = 3e-6 $/token = 3,000,000 pico/token
    expect(rateFromPerMTok(3)).toBe(3_000_000);
    // 0.3 × 1e6 is 300000.00000000006 in floating point: must round to an exact integer
    expect(rateFromPerMTok(0.3)).toBe(300_000);
    expect(rateFromPerMTok(3.75)).toBe(3_750_000);
    expect(rateFromPerMTok(22.5)).toBe(22_500_000);
    // the smallest published step, $0.000001/MTok = 1 pico/token
    expect(rateFromPerMTok(0.000001)).toBe(1);
    expect(rateFromPerMTok(0)).toBe(0);
    for (const r of [0.08, 0.1, 0.3, 1.1, 3.75, 18.75])
      expect(Number.isInteger(rateFromPerMTok(r))).toBe(true);
  });
});

describe('picoToNano', () => {
  it('rounds to the nearest nano-dollar, half up', () => {
    expect(picoToNano(0)).toBe(0);
    // 1,500 pico = 1.5 nano → 2 ; 1,499 → 1
    expect(picoToNano(1500)).toBe(2);
    expect(picoToNano(1499)).toBe(1);
    // 500 pico = 0.5 nano → 1 ; 499 → 0
    expect(picoToNano(500)).toBe(1);
    expect(picoToNano(499)).toBe(0);
    // 3,000,000 pico = 3,000 nano exactly
    expect(picoToNano(3_000_000)).toBe(3000);
  });
});

describe('usdToNano / nanoToUsd', () => {
  it('converts at 1e9 and rounds away float noise', () => {
    expect(NANO_PER_USD).toBe(1_000_000_000);
    // 0.1 + 0.2 = 0.30000000000000004 → 300,000,000 nano
    expect(usdToNano(0.1 + 0.2)).toBe(300_000_000);
    expect(usdToNano(0.4725)).toBe(472_500_000);
    expect(nanoToUsd(1_500_000_000)).toBe(1.5);
  });
});

describe('formatCost', () => {
  it('shows cents, and two significant figures where cents would read $0.00', () => {
    expect(formatCost(0)).toBe('$0.00');
    expect(formatCost(12_340_000_000)).toBe('$12.34');
    expect(formatCost(5_000_000)).toBe('$0.01'); // half a cent rounds up to a cent: cents are exact enough
    expect(formatCost(4_999_999)).toBe('$0.0050');
    expect(formatCost(3_680_000)).toBe('$0.0037');
    expect(formatCost(226_000)).toBe('$0.00023');
    expect(formatCost(1)).toBe('$0.000000001');
    expect(formatCost(-3_680_000)).toBe('-$0.0037');
  });
});
