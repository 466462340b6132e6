import { addToSum, byCostThenKey, type CostSum, divRound, emptySum, groupKey, shareOf } from './common.js';
import { type NanoUsd, totalInputTokens, type UsageEvent } from './deps.js';

/**
 * Prompt-template audit: which prompts cost the most. The template id is the meter's
 * `attribution.tags.template` (an id the app gives, or a hash of the system-prompt prefix — hashing
 * is the meter's job: core never sees prompts). Calls without one are grouped as `(none)`, which is
 * ranked like any template: a large `(none)` row says the meter is not tagging.
 */

export interface TemplateRow {
  template: string;
  costNano: NanoUsd;
  /** Share of the priced spend. */
  share: number;
  events: number;
  pricedEvents: number;
  unpricedEvents: number;
  perCallNano: NanoUsd | null;
  /** Every input-side token (uncached, cache reads, cache writes). */
  inputTokens: number;
  outputTokens: number;
  /** Cache reads / input-side tokens: a low figure on a big template is a caching opportunity. */
  cacheReadShare: number | null;
  agents: string[];
  models: string[];
}

export interface TemplateAudit {
  totalNano: NanoUsd;
  events: number;
  unpricedEvents: number;
  /** The top `top` templates by cost (ties by id). */
  top: TemplateRow[];
  /** Everything below the top. */
  rest: { templates: number; costNano: NanoUsd; events: number; unpricedEvents: number };
}

/**
 * The top-N prompt templates by cost.
 *
 * @example
 * const a = templateAudit(events, { top: 5 });
 * a.top.map((t) => `${t.template} ${formatUsd(t.costNano)} ${Math.round(t.share * 100)}%`);
 */
export function templateAudit(events: Iterable<UsageEvent>, opts: { top?: number } = {}): TemplateAudit {
  const topN = opts.top ?? 10;
  const total = emptySum();
  const groups = new Map<
    string,
    {
      sum: CostSum;
      input: number;
      cacheRead: number;
      output: number;
      agents: Set<string>;
      models: Set<string>;
    }
  >();
  for (const e of events) {
    addToSum(total, e);
    const key = groupKey(e, 'template');
    let g = groups.get(key);
    if (!g) {
      g = { sum: emptySum(), input: 0, cacheRead: 0, output: 0, agents: new Set(), models: new Set() };
      groups.set(key, g);
    }
    addToSum(g.sum, e);
    g.input += totalInputTokens(e.usage);
    g.cacheRead += e.usage.cacheReadTokens;
    g.output += e.usage.outputTokens;
    g.agents.add(groupKey(e, 'agent'));
    g.models.add(e.model);
  }
  const rows: TemplateRow[] = [...groups]
    .map(([template, g]) => ({
      key: template,
      template,
      costNano: g.sum.costNano,
      share: shareOf(g.sum.costNano, total.costNano),
      events: g.sum.events,
      pricedEvents: g.sum.pricedEvents,
      unpricedEvents: g.sum.unpricedEvents,
      perCallNano: divRound(g.sum.costNano, g.sum.pricedEvents),
      inputTokens: g.input,
      outputTokens: g.output,
      cacheReadShare: g.input > 0 ? g.cacheRead / g.input : null,
      agents: [...g.agents].sort(),
      models: [...g.models].sort(),
    }))
    .sort(byCostThenKey)
    .map(({ key: _key, ...row }) => row);
  const rest = rows.slice(topN);
  return {
    totalNano: total.costNano,
    events: total.events,
    unpricedEvents: total.unpricedEvents,
    top: rows.slice(0, topN),
    rest: {
      templates: rest.length,
      costNano: rest.reduce((n, r) => n + r.costNano, 0),
      events: rest.reduce((n, r) => n + r.events, 0),
      unpricedEvents: rest.reduce((n, r) => n + r.unpricedEvents, 0),
    },
  };
}
