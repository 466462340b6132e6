// Turns measurements into the printed report: a timing table, ratios against the ccusage-native
// baseline, the project's performance targets, and a cross-check of token totals between the
// generator, ccusage and tokenledger.
import fs from 'node:fs';

export const NATIVE = 'ccusage-native';
export const TS18 = 'ccusage-18';
export const COLD = 'tokenledger cold';
export const INGEST = 'tokenledger first ingest';
export const WARM = 'tokenledger warm';

const RSS_LIMIT_MIB = 256;

export function median(values) {
  const xs = values.filter((v) => v != null).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Medians per command; a failed or skipped command has none. */
export function summarize(result) {
  // The runs before a failure are kept in the results file, but no median is taken from them.
  if (result.error || result.skipped) return { wallS: null, cpuS: null, rssMiB: null };
  const pick = (key) => median(result.runs.map((r) => r[key]));
  return { wallS: pick('wallS'), cpuS: pick('cpuS'), rssMiB: pick('rssMiB') };
}

const fmt = (v, digits, unit = '') => (v == null ? 'n/a' : `${v.toFixed(digits)}${unit}`);

export function printTable(results) {
  const rows = results.map((r) => {
    const m = r.median;
    const status = r.skipped ? `skipped: ${r.skipped}` : r.error ? `FAILED: ${r.error.why}` : '';
    return [r.name, String(r.runs.length), fmt(m.wallS, 3), fmt(m.cpuS, 2), fmt(m.rssMiB, 0), status];
  });
  printColumns(['command', 'runs', 'wall s', 'cpu s', 'peak RSS MiB', ''], rows, [
    false,
    true,
    true,
    true,
    true,
    false,
  ]);
}

function printColumns(header, rows, rightAlign) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
}

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : a / b);

export function computeRatios(medians) {
  const wall = (name) => medians[name]?.wallS ?? null;
  return {
    coldVsNative: ratio(wall(COLD), wall(NATIVE)),
    ts18VsCold: ratio(wall(TS18), wall(COLD)),
    warmVsNative: ratio(wall(WARM), wall(NATIVE)),
  };
}

export function computeTargets(medians, ratios) {
  const rss = (name) => medians[name]?.rssMiB ?? null;
  const target = (label, value, pass, shown) => ({
    label,
    value,
    shown,
    status: value == null ? 'n/a' : pass(value) ? 'PASS' : 'FAIL',
  });
  return [
    target(
      'cold wall <= 0.8x native',
      ratios.coldVsNative,
      (v) => v <= 0.8,
      fmt(ratios.coldVsNative, 2, 'x'),
    ),
    target(
      'cold >= 15x faster than ccusage 18',
      ratios.ts18VsCold,
      (v) => v >= 15,
      fmt(ratios.ts18VsCold, 1, 'x'),
    ),
    target(
      `cold peak RSS <= ${RSS_LIMIT_MIB} MiB`,
      rss(COLD),
      (v) => v <= RSS_LIMIT_MIB,
      fmt(rss(COLD), 0, ' MiB'),
    ),
    target(
      `first ingest peak RSS <= ${RSS_LIMIT_MIB} MiB`,
      rss(INGEST),
      (v) => v <= RSS_LIMIT_MIB,
      fmt(rss(INGEST), 0, ' MiB'),
    ),
    target(
      `warm peak RSS <= ${RSS_LIMIT_MIB} MiB`,
      rss(WARM),
      (v) => v <= RSS_LIMIT_MIB,
      fmt(rss(WARM), 0, ' MiB'),
    ),
    target(
      'warm wall <= 0.1x native',
      ratios.warmVsNative,
      (v) => v <= 0.1,
      fmt(ratios.warmVsNative, 3, 'x'),
    ),
  ];
}

export function printRatiosAndTargets(ratios, targets) {
  console.log(`\nratios (wall time, median):`);
  console.log(`  tokenledger cold / ccusage-native   ${fmt(ratios.coldVsNative, 3)}`);
  console.log(`  ccusage-18 / tokenledger cold       ${fmt(ratios.ts18VsCold, 2)}`);
  console.log(`  tokenledger warm / ccusage-native   ${fmt(ratios.warmVsNative, 3)}`);
  console.log(`\ntargets:`);
  for (const t of targets) console.log(`  ${t.status.padEnd(4)}  ${t.label.padEnd(38)} ${t.shown}`);
}

// --- token totals cross-check --------------------------------------------------------------------

const METRICS = ['calls', 'input', 'output', 'cacheCreate', 'cacheRead', 'total'];

/** The generator's totals, in the common shape. */
export function fromExpected(e) {
  return {
    calls: e.assistantMessages,
    input: e.input,
    output: e.output,
    cacheCreate: e.cacheCreate,
    cacheRead: e.cacheRead,
    total: e.total,
  };
}

/** ccusage `daily --json`: { daily: [...], totals: { inputTokens, outputTokens, cacheCreationTokens, cacheReadTokens, totalTokens, totalCost } }. */
export function fromCcusage(json) {
  const t = json?.totals;
  if (!t) return null;
  return {
    calls: null, // ccusage does not report a call count
    input: t.inputTokens ?? null,
    output: t.outputTokens ?? null,
    cacheCreate: t.cacheCreationTokens ?? null,
    cacheRead: t.cacheReadTokens ?? null,
    total: t.totalTokens ?? null,
  };
}

/** tokenledger `--json`: { totals: { events, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, totalTokens, ... } }. */
export function fromTokenledger(json) {
  const t = json?.totals;
  if (!t) return null;
  return {
    calls: t.events ?? null,
    input: t.inputTokens ?? null,
    output: t.outputTokens ?? null,
    cacheCreate: t.cacheWriteTokens ?? null,
    cacheRead: t.cacheReadTokens ?? null,
    total: t.totalTokens ?? null,
  };
}

/** Per-model totals from ccusage's per-day model breakdowns (the generator's byModel shape). */
export function ccusageByModel(json) {
  const byModel = {};
  for (const day of json?.daily ?? []) {
    for (const m of day.modelBreakdowns ?? []) {
      byModel[m.modelName] ??= { input: 0, output: 0, cacheCreate: 0, cacheRead: 0 };
      const b = byModel[m.modelName];
      b.input += m.inputTokens;
      b.output += m.outputTokens;
      b.cacheCreate += m.cacheCreationTokens;
      b.cacheRead += m.cacheReadTokens;
    }
  }
  return byModel;
}

export function byModelMatches(expectedByModel, actualByModel) {
  const names = new Set([...Object.keys(expectedByModel), ...Object.keys(actualByModel)]);
  for (const name of names) {
    const e = expectedByModel[name];
    const a = actualByModel[name];
    if (!e || !a) return false;
    for (const k of ['input', 'output', 'cacheCreate', 'cacheRead']) if (e[k] !== a[k]) return false;
  }
  return true;
}

/** Differences of `actual` from `reference`, on the metrics both report. */
export function compare(reference, actual) {
  if (!actual) return { verdict: 'n/a', differs: [] };
  const shared = METRICS.filter((k) => reference[k] != null && actual[k] != null);
  const differs = shared.filter((k) => reference[k] !== actual[k]);
  if (shared.length === 0) return { verdict: 'n/a', differs };
  return { verdict: differs.length ? 'MISMATCH' : 'MATCH', differs };
}

export function printTotals(sources) {
  const header = ['metric', ...sources.map((s) => s.name)];
  const rows = METRICS.map((k) => [
    k,
    ...sources.map((s) => (s.totals?.[k] == null ? 'n/a' : s.totals[k].toLocaleString('en-US'))),
  ]);
  console.log('');
  printColumns(
    header,
    rows,
    header.map((_, i) => i > 0),
  );
}

/** Parses a command's JSON stdout, or null if it printed none (failed, skipped or not JSON). */
export function readJson(file) {
  if (!file) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
