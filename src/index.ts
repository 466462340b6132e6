/**
 * tokenledger — make the token spend of AI agents visible, attributable, trustworthy and controllable.
 *
 * @example Live meter
 * import Anthropic from '@anthropic-ai/sdk';
 * import { createMeter, BudgetExceededError } from 'tokenledger';
 * const meter = createMeter();                       // ~/.tokenledger/ledger.db
 * const anthropic = meter.wrap(new Anthropic());
 * meter.budget({ scope: { run: '*' }, limitUsd: 2, window: 'run' });
 * await meter.run({ run: 'nightly-42', agent: 'planner' }, () => anthropic.messages.create(req));
 *
 * @example Forensic meter
 * import { createPriceBook, openSqliteLedger, ingestClaude } from 'tokenledger';
 * const ledger = openSqliteLedger('ledger.db');
 * await ingestClaude([`${process.env.HOME}/.claude`], ledger, createPriceBook());
 * console.log(ledger.aggregate('agent').groups);
 */
export type { Aggregate, EventFilter, GroupBy, Tally } from './core/aggregate.js';
export { aggregate, GROUP_BYS, groupKeyOf } from './core/aggregate.js';
export type { BudgetDimension, BudgetSpec, BudgetStore, BudgetWindow } from './core/budget.js';
export { BudgetExceededError, BudgetStoreError } from './core/budget.js';
export type { DelegationNode } from './core/delegation.js';
export { buildDelegationTree } from './core/delegation.js';
export type { Attribution, EventCost, EventOrigin, Problem, SourceKind, UsageEvent } from './core/event.js';
export type { Outcome } from './core/insights/outcomes.js';
export type { NanoUsd } from './core/money.js';
export { formatUsd, nanoToUsd, usdToNano } from './core/money.js';
export type { ModelRates, PriceBook, PriceQuote, PriceRequest, RateCard } from './core/pricing.js';
export { costOf, priceEvent } from './core/pricing.js';
export type { UsageBuckets } from './core/usage.js';
export { cacheWriteTokens, emptyUsage, totalInputTokens, totalTokens } from './core/usage.js';
export { hashKey, newGatewayKey } from './gateway/keys.js';
export type { GatewayOptions } from './gateway/server.js';
export { createGateway, lineWriter } from './gateway/server.js';
export { openSqliteSharedThreaded } from './gateway/sqlite-thread.js';
export type { DirectReport, DirectScan, IngestResult } from './ingest/claude.js';
export { ingestClaude, reportClaudeDirect, scanClaudeDirect } from './ingest/claude.js';
export type { AiSdkMiddleware } from './meter/ai-sdk.js';
export type { AlertDispatcherOptions, AlertStore, BudgetAlert, WebhookTarget } from './meter/alerts.js';
export type { CachedResponse, ResponseCacheStore } from './meter/cache.js';
export { MemoryResponseCache, SqliteResponseCache } from './meter/cache.js';
export type { MeterAttrs, MeterScope } from './meter/context.js';
export type { EstimateOptions, RequestSize } from './meter/estimate.js';
export type {
  BudgetHandle,
  MeterCacheOptions,
  MeterOptions,
  OutcomeInput,
  RecordInput,
  TrackedUsage,
} from './meter/meter.js';
export { createMeter, Meter, meterEventId } from './meter/meter.js';
export { trackedUsageOf } from './meter/tracked-usage.js';
export { loadPriceOverrides, PriceOverrideError, parsePriceOverrides } from './prices/overrides.js';
export { createPriceBook, GENAI_PRICES_SOURCE } from './prices/price-book.js';
export * from './router/index.js';
export type { ClaudeCallCopy, ClaudeFileScan } from './sources/claude-code.js';
export { parseClaudeTranscript } from './sources/claude-code.js';
export { defaultClaudeRoots, discoverClaudeFiles, PathNotFoundError } from './sources/claude-discover.js';
export { ClaudeMerge } from './sources/claude-merge.js';
export { SqliteAlertStore } from './store/alert-sqlite.js';
export { SqliteBudgetStore } from './store/budget-sqlite.js';
export type { FileState, LedgerFilter, LedgerStore } from './store/ledger.js';
export { openPostgresShared } from './store/postgres.js';
export type { GatewayKey, SharedFilter, SharedLedger } from './store/shared.js';
export { openSqliteShared } from './store/shared.js';
export { openSqliteLedger } from './store/sqlite.js';
