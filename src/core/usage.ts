/**
 * The canonical, disjoint usage buckets. Providers disagree on whether "input" includes cached
 * tokens; inside tokenledger every bucket is exclusive of the others, so a sum never counts a token
 * twice. Convert provider conventions at the edge (see `src/sources`).
 */
export interface UsageBuckets {
  /** Uncached input tokens. */
  inputTokens: number;
  cacheReadTokens: number;
  /** Cache writes with the 5-minute TTL (also: writes whose TTL the source does not split). */
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  /** Output tokens, reasoning/thinking included. */
  outputTokens: number;
  /** The reasoning part of `outputTokens`, for display only (never added to totals). */
  reasoningTokens: number;
  /**
   * Tokens whose kind the source does not say (workflow telemetry logs one count per agent, no
   * input/output split). Counted in totals; priced only as an estimate.
   */
  unsplitTokens: number;
  webSearchRequests: number;
}

export function emptyUsage(): UsageBuckets {
  return {
    inputTokens: 0,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    unsplitTokens: 0,
    webSearchRequests: 0,
  };
}

/** All cache writes, 5m and 1h. */
export function cacheWriteTokens(u: UsageBuckets): number {
  return u.cacheWrite5mTokens + u.cacheWrite1hTokens;
}

/** Every input-side token of a request: uncached, cache reads and cache writes. */
export function totalInputTokens(u: UsageBuckets): number {
  return u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens;
}

/** Every token: input + output + cache read + cache write (+ tokens of unknown kind). */
export function totalTokens(u: UsageBuckets): number {
  return totalInputTokens(u) + u.outputTokens + u.unsplitTokens;
}

/** Adds `b` into `a` in place (aggregation hot path: no allocation). */
export function addUsage(a: UsageBuckets, b: UsageBuckets): void {
  a.inputTokens += b.inputTokens;
  a.cacheReadTokens += b.cacheReadTokens;
  a.cacheWrite5mTokens += b.cacheWrite5mTokens;
  a.cacheWrite1hTokens += b.cacheWrite1hTokens;
  a.outputTokens += b.outputTokens;
  a.reasoningTokens += b.reasoningTokens;
  a.unsplitTokens += b.unsplitTokens;
  a.webSearchRequests += b.webSearchRequests;
}
