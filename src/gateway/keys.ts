import { createHash, randomBytes } from 'node:crypto';
import type { GatewayKey, SharedLedger } from '../store/shared.js';
import { parseBudgetAmount } from './budget-spec.js';

/**
 * Gateway keys: what a client sends instead of a provider key. A key is `tlk_` + 32 random bytes
 * (base64url); the store keeps only its SHA-256 (hex), so a leaked ledger does not leak keys. The
 * key's id (`key_…`, 12 hex digits) names it everywhere else: in `keys list`, in the ledger (tag
 * `gatewayKey`), in budget ids and in logs.
 */

export const KEY_PREFIX = 'tlk_';

/** Hex SHA-256 of a key, as stored. @example hashKey('tlk_abc') // '5d1c…' (64 hex digits) */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface NewKeyOptions {
  tenant: string;
  label?: string;
  /** `100/30d`: $100 per 30-day window (`run` = never resets). */
  budget?: string;
  nowMs?: number;
}

/**
 * A new key and the record to store. The plain key is returned once, here; only its hash is kept.
 *
 * @example
 * const { key, record } = newGatewayKey({ tenant: 'acme', budget: '100/30d' });
 * await store.putKey(record);
 * console.log(key); // tlk_… — show it to the user once
 */
export function newGatewayKey(opts: NewKeyOptions): { key: string; record: GatewayKey } {
  const tenant = opts.tenant.trim();
  if (!/^[\w.@:-]{1,128}$/.test(tenant))
    throw new RangeError(`tenant must be 1–128 letters, digits or . _ - @ : (got "${opts.tenant}")`);
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const record: GatewayKey = {
    id: `key_${randomBytes(6).toString('hex')}`,
    tenant,
    hash: hashKey(key),
    createdMs: opts.nowMs ?? Date.now(),
  };
  if (opts.label !== undefined && opts.label !== '') record.label = opts.label;
  if (opts.budget !== undefined) record.budget = parseBudgetAmount(opts.budget);
  return { key, record };
}

/**
 * Looks keys up by hash with a short in-memory cache, so a busy client costs one store query per
 * `ttlMs` rather than one per request. A revoked key stops working within `ttlMs` (default 10 s)
 * in every gateway process; unknown keys are remembered for at most 5 s.
 */
export class KeyResolver {
  readonly #cache = new Map<string, { key: GatewayKey | undefined; untilMs: number }>();
  readonly #inflight = new Map<string, Promise<GatewayKey | undefined>>();

  constructor(
    private readonly store: SharedLedger,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The active (not revoked) key, or `undefined`. Store errors are thrown. */
  async resolve(plain: string): Promise<GatewayKey | undefined> {
    // Cached by the key as sent (in memory only, like the request that carried it): a hit costs no hash.
    const nowMs = this.now();
    const hit = this.#cache.get(plain);
    if (hit && hit.untilMs > nowMs) return hit.key;
    const running = this.#inflight.get(plain);
    if (running) return running;
    const lookup = this.store
      .keyByHash(hashKey(plain))
      .then((k) => {
        const active = k && k.revokedMs === undefined ? k : undefined;
        if (this.ttlMs > 0) {
          if (this.#cache.size >= 10_000) this.#cache.delete(this.#cache.keys().next().value!);
          this.#cache.set(plain, {
            key: active,
            untilMs: this.now() + (active ? this.ttlMs : Math.min(this.ttlMs, 5_000)),
          });
        }
        return active;
      })
      .finally(() => this.#inflight.delete(plain));
    this.#inflight.set(plain, lookup);
    return lookup;
  }
}
