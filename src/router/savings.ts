import type { UsageEvent } from '../core/event.js';
import type { NanoUsd } from '../core/money.js';
import { costOf, type PriceBook, type RateCard, ratesFor } from '../core/pricing.js';
import { addUsage, emptyUsage, type UsageBuckets } from '../core/usage.js';
import type { RoleSpec, RoleTable } from './router.js';

/** One role's real volume, from the ledger: how many calls and the tokens they used. */
export interface RoleTraffic {
  role: string;
  calls: number;
  usage: UsageBuckets;
}

/** One side of the comparison for a role: the model and its price for the role's volume. */
export interface PricedModel {
  model: string;
  provider?: string;
  /** Integer nano-dollars; `null` when unpriced (unknown role, no baseline, unknown model). Never a silent 0. */
  nanoUsd: NanoUsd | null;
}

export interface RoleSavings {
  role: string;
  calls: number;
  usage: UsageBuckets;
  /** The role's model in the role table. */
  routed: PricedModel | null;
  /** The model the role would have used without routing. */
  baseline: PricedModel | null;
  /** `baseline − routed` (negative when routing costs more); `null` unless both sides are priced. */
  savingsNanoUsd: NanoUsd | null;
  /** Why the role is unpriced, when it is. */
  unpriced?: string;
}

export interface SavingsEstimate {
  /** One entry per role of the traffic, in the traffic's order (repeated roles merged). */
  roles: RoleSavings[];
  /** Sums over the roles priced on both sides; unpriced roles are left out of it and listed. */
  total: { calls: number; routedNanoUsd: NanoUsd; baselineNanoUsd: NanoUsd; savingsNanoUsd: NanoUsd };
  /** Roles that could not be priced on one side or both, with the reason. */
  unpriced: { role: string; reason: string }[];
  /**
   * Always true: the baseline is priced on the routed calls' token volumes, which a different model
   * (or effort) would not have reproduced exactly; tiers are chosen from the mean call.
   */
  estimated: true;
  /** The price book's `version`. */
  priceVersion: string;
}

function isRoleSpec(b: RoleSpec | RoleTable): b is RoleSpec {
  return typeof (b as RoleSpec).model === 'string';
}

function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * The rate card for a role's whole volume: the long-context tier is chosen by the mean call's input
 * (total input / calls), not by the summed volume, which would put 1,000 small calls in the >200k
 * tier. Tiers therefore apply to roles whose typical call is long, and the estimate says so.
 */
function volumeCard(card: RateCard, usage: UsageBuckets, calls: number): RateCard {
  if (card.tiers.length === 0) return card;
  const n = calls > 0 ? calls : 1;
  const mean = emptyUsage();
  mean.inputTokens = usage.inputTokens / n;
  mean.cacheReadTokens = usage.cacheReadTokens / n;
  mean.cacheWrite5mTokens = usage.cacheWrite5mTokens / n;
  mean.cacheWrite1hTokens = usage.cacheWrite1hTokens / n;
  return { base: ratesFor(card, mean), tiers: [] };
}

function price(
  spec: RoleSpec,
  usage: UsageBuckets,
  calls: number,
  book: PriceBook,
  nowMs: number,
): PricedModel {
  const quote = book.quote({
    model: spec.model,
    time: nowMs,
    ...(spec.provider ? { provider: spec.provider } : {}),
  });
  const out: PricedModel = {
    model: spec.model,
    nanoUsd: quote ? costOf(usage, volumeCard(quote.card, usage, calls)) : null,
  };
  if (spec.provider !== undefined) out.provider = spec.provider;
  return out;
}

/**
 * What routing saved: each role's real volume (from the ledger, see `trafficByRole`) priced at the
 * role's routed model and at the baseline model, with `costOf` on the same usage buckets, in
 * integer nano-dollars, at the prices in force at `nowMs`.
 *
 * `baseline` is one model for every role (e.g. "everything on Opus") or a table giving each role
 * its own baseline. A role missing from `roles` or from a baseline table, or a model the price book
 * does not know, makes that role unpriced: it is listed in `unpriced` with the reason and left out
 * of `total` — never counted as $0. The effort level is not priced (it changes volumes, not rates).
 *
 * @example
 * ```ts
 * const traffic = trafficByRole(ledger.events({ since }));
 * const est = savingsEstimate(traffic, router.roles(), { model: 'claude-opus-4-1', provider: 'anthropic' },
 *   createPriceBook(), Date.now());
 * formatUsd(est.total.savingsNanoUsd); // '$123.45'
 * est.unpriced; // [{ role: 'local', reason: 'unpriced model "llama-3-8b"' }]
 * ```
 */
export function savingsEstimate(
  traffic: readonly RoleTraffic[],
  roles: RoleTable,
  baseline: RoleSpec | RoleTable,
  book: PriceBook,
  nowMs: number,
): SavingsEstimate {
  const merged = new Map<string, RoleTraffic>();
  for (const t of traffic) {
    let m = merged.get(t.role);
    if (!m) {
      m = { role: t.role, calls: 0, usage: emptyUsage() };
      merged.set(t.role, m);
    }
    m.calls += t.calls;
    addUsage(m.usage, t.usage);
  }

  const out: SavingsEstimate = {
    roles: [],
    total: { calls: 0, routedNanoUsd: 0, baselineNanoUsd: 0, savingsNanoUsd: 0 },
    unpriced: [],
    estimated: true,
    priceVersion: book.version,
  };
  for (const { role, calls, usage } of merged.values()) {
    const routedSpec = own(roles, role);
    const baseSpec = isRoleSpec(baseline) ? baseline : own(baseline, role);
    const routed = routedSpec ? price(routedSpec, usage, calls, book, nowMs) : null;
    const base = baseSpec ? price(baseSpec, usage, calls, book, nowMs) : null;

    const reasons: string[] = [];
    if (!routedSpec) reasons.push('not a role of the role table');
    else if (routed?.nanoUsd == null) reasons.push(`unpriced model ${JSON.stringify(routedSpec.model)}`);
    if (!baseSpec) reasons.push('no baseline for the role');
    else if (base?.nanoUsd == null) reasons.push(`unpriced baseline model ${JSON.stringify(baseSpec.model)}`);

    const entry: RoleSavings = { role, calls, usage, routed, baseline: base, savingsNanoUsd: null };
    if (routed?.nanoUsd != null && base?.nanoUsd != null) {
      entry.savingsNanoUsd = base.nanoUsd - routed.nanoUsd;
      out.total.calls += calls;
      out.total.routedNanoUsd += routed.nanoUsd;
      out.total.baselineNanoUsd += base.nanoUsd;
      out.total.savingsNanoUsd += entry.savingsNanoUsd;
    } else {
      const reason = reasons.join('; ');
      entry.unpriced = reason;
      out.unpriced.push({ role, reason });
    }
    out.roles.push(entry);
  }
  return out;
}

/**
 * Sums the ledger's events per routed role (`attribution.tags.role`, set by `routeAttributes`):
 * the input of `savingsEstimate`. Events without a role tag are not routed calls and are skipped.
 * Sorted by role.
 *
 * @example
 * ```ts
 * trafficByRole(events); // [{ role: 'deep', calls: 12, usage: {…} }, { role: 'fast', calls: 340, usage: {…} }]
 * ```
 */
export function trafficByRole(events: Iterable<UsageEvent>): RoleTraffic[] {
  const byRole = new Map<string, RoleTraffic>();
  for (const e of events) {
    const role = e.attribution.tags?.role;
    if (role === undefined) continue;
    let t = byRole.get(role);
    if (!t) {
      t = { role, calls: 0, usage: emptyUsage() };
      byRole.set(role, t);
    }
    t.calls += 1;
    addUsage(t.usage, e.usage);
  }
  return [...byRole.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
