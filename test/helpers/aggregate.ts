import type { Aggregate, Tally } from '../../src/core/aggregate.js';

/**
 * An aggregate with each tally's `unpricedModels` sorted: the one part whose order depends on the
 * order the events came in, so two aggregates of the same events compare equal.
 */
export function sortedUnpriced(a: Aggregate): Aggregate {
  const t = (x: Tally): Tally => ({ ...x, unpricedModels: [...x.unpricedModels].sort() });
  return { totals: t(a.totals), groups: a.groups.map(t) };
}
