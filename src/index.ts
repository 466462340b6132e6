/**
 * tokenledger — make the token spend of AI agents visible, attributable and trustworthy.
 *
 * @example
 * import { createPriceBook, openSqliteLedger, ingestClaude } from 'tokenledger';
 * const ledger = openSqliteLedger('ledger.db');
 * await ingestClaude([`${process.env.HOME}/.claude`], ledger, createPriceBook());
 * console.log(ledger.aggregate('agent').groups);
 */
export type { Aggregate, EventFilter, GroupBy, Tally } from './core/aggregate.js';
export { aggregate, GROUP_BYS, groupKeyOf } from './core/aggregate.js';
export type { DelegationNode } from './core/delegation.js';
export { buildDelegationTree } from './core/delegation.js';
export type { Attribution, EventCost, EventOrigin, Problem, SourceKind, UsageEvent } from './core/event.js';
export type { NanoUsd } from './core/money.js';
export { formatUsd, nanoToUsd, usdToNano } from './core/money.js';
export type { ModelRates, PriceBook, PriceQuote, PriceRequest, RateCard } from './core/pricing.js';
export { costOf, priceEvent } from './core/pricing.js';
export type { UsageBuckets } from './core/usage.js';
export { cacheWriteTokens, emptyUsage, totalInputTokens, totalTokens } from './core/usage.js';
export type { DirectScan, IngestResult } from './ingest/claude.js';
export { ingestClaude, scanClaudeDirect } from './ingest/claude.js';
export { loadPriceOverrides, PriceOverrideError, parsePriceOverrides } from './prices/overrides.js';
export { createPriceBook, GENAI_PRICES_SOURCE } from './prices/price-book.js';
export type { ClaudeCallCopy, ClaudeFileScan } from './sources/claude-code.js';
export { parseClaudeTranscript } from './sources/claude-code.js';
export { defaultClaudeRoots, discoverClaudeFiles, PathNotFoundError } from './sources/claude-discover.js';
export { ClaudeMerge } from './sources/claude-merge.js';
export type { FileState, LedgerFilter, LedgerStore } from './store/ledger.js';
export { openSqliteLedger } from './store/sqlite.js';
