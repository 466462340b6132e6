import type { UsageEvent } from '../core/event.js';
import { DEFAULT_HEALTH, type HealthOptions } from '../core/health.js';
import type { RunSummary } from '../core/run.js';
import { historyFor, type RunView, runView, type StageOrder } from '../core/waterfall.js';
import type { parse } from './args.js';
import { EXIT_STRICT, UsageError } from './errors.js';

/** Options shared by `report` and `runs` for workflow runs. */
export const RUN_OPTIONS = {
  order: { type: 'string' },
  'input-share': { type: 'string' },
  'cheap-min-agents': { type: 'string' },
  'cheap-ratio': { type: 'string' },
  strict: { type: 'boolean' },
} as const;

export const RUN_OPTIONS_HELP = `  --order tokens|phase         stage order in a run's waterfall (default: tokens)
  --input-share R              input share assumed for workflow tokens, 0..1 (default: 0.85)
  --cheap-min-agents N         the cheap-stage rule looks at stages with ≥ N agents (default: 5)
  --cheap-ratio R              …with a mean below R × the median of stage means (default: 0.25)
  --strict                     exit 3 when a run is degraded, 4 when a run fails its invariant`;

type RunFlags = ReturnType<typeof parse<typeof RUN_OPTIONS>>['values'];

export interface RunSettings {
  order: StageOrder;
  inputShare: number;
  health: HealthOptions;
  strict: boolean;
}

function ratio(flag: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new UsageError(`${flag} takes a number from 0 to 1, got "${value}"`);
  return n;
}

export function runSettings(v: Partial<RunFlags>): RunSettings {
  const order = v.order ?? 'tokens';
  if (order !== 'tokens' && order !== 'phase')
    throw new UsageError(`--order takes tokens or phase, got "${order}"`);
  const minAgents = v['cheap-min-agents'];
  if (minAgents !== undefined && !/^\d+$/.test(minAgents))
    throw new UsageError(`--cheap-min-agents takes a whole number, got "${minAgents}"`);
  return {
    order,
    inputShare: ratio('--input-share', v['input-share'], 0.85),
    health: {
      ...DEFAULT_HEALTH,
      cheapMinAgents: minAgents === undefined ? DEFAULT_HEALTH.cheapMinAgents : Number(minAgents),
      cheapRatio: ratio('--cheap-ratio', v['cheap-ratio'], DEFAULT_HEALTH.cheapRatio),
    },
    strict: v.strict === true,
  };
}

/** Waterfalls for `runs`, each judged against the earlier healthy runs of its workflow in `pool`. */
export function buildRunViews(
  runs: RunSummary[],
  events: UsageEvent[],
  pool: RunSummary[],
  s: RunSettings,
): RunView[] {
  const byRun = new Map<string, UsageEvent[]>();
  for (const e of events) {
    if (e.source !== 'workflow' || !e.attribution.run) continue;
    const list = byRun.get(e.attribution.run) ?? [];
    list.push(e);
    byRun.set(e.attribution.run, list);
  }
  return [...runs]
    .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1))
    .map((run) => runView(run, byRun.get(run.id) ?? [], s.order, s.health, historyFor(run, pool, s.health)));
}

/** `--strict`: an invariant failure (4) outranks a degraded run (3). */
export function strictExit(views: RunView[], s: RunSettings): number {
  if (!s.strict) return 0;
  if (views.some((v) => !v.health.invariantOk)) return EXIT_STRICT.invariant;
  if (views.some((v) => v.health.degraded)) return EXIT_STRICT.degraded;
  return 0;
}
