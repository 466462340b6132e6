/**
 * What `src/core/insights` uses from the rest of `src/core`, in one place. Only pure `src/core`
 * modules may be listed here (Biome forbids `../../` imports from this folder).
 */

export { UNKNOWN_KEY } from '../aggregate.js';
export type { Attribution, UsageEvent } from '../event.js';
export { formatUsd, type NanoUsd, usdToNano } from '../money.js';
export { costOf, DEFAULT_INPUT_SHARE, type PriceBook } from '../pricing.js';
export { totalInputTokens, type UsageBuckets } from '../usage.js';
