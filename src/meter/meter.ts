import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { loadPriceBook, tokenledgerHome } from '../config.js';
import {
  type BudgetCheck,
  type BudgetDimension,
  BudgetExceededError,
  type BudgetSpec,
  type BudgetStore,
  BudgetStoreError,
  budgetChecks,
  budgetId,
  budgetKeys,
  budgetLimitNano,
  windowMs,
  withDimensions,
} from '../core/budget.js';
import type { Attribution, UsageEvent } from '../core/event.js';
import type { Outcome } from '../core/insights/outcomes.js';
import { type NanoUsd, nanoToUsd } from '../core/money.js';
import { costOf, type PriceBook, priceEvent } from '../core/pricing.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { SqliteAlertStore } from '../store/alert-sqlite.js';
import { SqliteBudgetStore } from '../store/budget-sqlite.js';
import type { LedgerStore, StoredEvent } from '../store/ledger.js';
import { openSqliteLedger } from '../store/sqlite.js';
import { type AiSdkMiddleware, createAiSdkMiddleware } from './ai-sdk.js';
import { AlertDispatcher, type AlertDispatcherOptions, type AlertStore } from './alerts.js';
import { type CachedResponse, MemoryResponseCache, type ResponseCacheStore } from './cache.js';
import { attributionOf, type MeterAttrs, MeterContext, type MeterScope } from './context.js';
import {
  CONSERVATIVE_UNKNOWN_CARD,
  type EstimateOptions,
  type RequestSize,
  worstCaseNano,
} from './estimate.js';
import { trackedUsageOf } from './tracked-usage.js';
import { tokenCount } from './usage.js';
import { wrapClient } from './wrap.js';

/** Where the meter keeps its ledger: a file path, an open store, or `':memory:'`. */
export type MeterLedger = string | LedgerStore;

/** Options of {@link createMeter}. Every field is optional. */
export interface MeterOptions {
  /** Ledger file (default `$TOKENLEDGER_HOME/ledger.db`, i.e. `~/.tokenledger/ledger.db`), an open store, or `':memory:'`. */
  ledger?: MeterLedger;
  /** Price overrides file (default `~/.tokenledger/prices.json` when it exists). Ignored when `priceBook` is given. */
  prices?: string;
  priceBook?: PriceBook;
  /** Budget reservations (default: SQLite tables in the ledger's file, or in memory). */
  budgetStore?: BudgetStore;
  /** Receives every metering failure; the user's call is never affected. Default: a process warning. */
  onError?: (err: unknown) => void;
  /** Attribution `project` for every event that has none. */
  project?: string;
  /** Budget alerts to webhooks (see `AlertDispatcher`); de-duplicated in the ledger's file. */
  alerts?: Omit<AlertDispatcherOptions, 'store' | 'onError'> & { store?: AlertStore };
  /** Opt-in identical-call cache (non-streaming SDK calls). Stored responses hold completion text. */
  cache?: MeterCacheOptions;
  /** Worst-case estimation knobs (tokenizer margin, default output cap). */
  estimate?: EstimateOptions;
  /** Ledger writes are batched: at most this many events wait (default 1,000) … */
  flushEvery?: number;
  /** … for at most this long (default 500 ms). `close()`/`flush()` and process exit write the rest. */
  flushIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface MeterCacheOptions {
  /** How long an answer is reused. */
  ttlMs: number;
  /** Attribution dimensions that partition the cache (default `['project', 'user']`: one user never sees another's answers). */
  scope?: ('project' | 'user' | 'feature' | 'session' | 'run' | 'agent' | 'task' | 'stage')[];
  /** Default: in memory (`MemoryResponseCache`). `SqliteResponseCache` keeps answers across restarts. */
  store?: ResponseCacheStore;
}

/** What a metered call is, as the wrappers describe it before sending it. */
export interface CallPlan {
  provider: string;
  model: string;
  /** `anthropic.messages`, `openai.chat.completions`, `openai.responses`, `ai-sdk.generate`, … */
  endpoint: string;
  speed?: string;
  /** The request's worst-case size; only computed when a budget applies. */
  size: () => RequestSize;
}

/** What the call produced, as the wrappers read it. */
export interface CallResult {
  usage: UsageBuckets | null;
  /** The model that answered (the response's, e.g. a dated id), else the requested one. */
  model?: string;
  /** The provider's response id: the event id, so a call recorded twice is stored once. */
  responseId?: string;
  status?: 'ok' | 'error' | 'aborted';
  /** Set when part of the usage was estimated (a cut stream): why. */
  estimatedNote?: string;
}

/** A call between its budget check and its settlement. */
export interface CallTicket {
  readonly plan: CallPlan;
  readonly attribution: Attribution;
  readonly startMs: number;
  readonly reservations: { id: string; check: BudgetCheck }[];
  readonly worstNano: NanoUsd;
  done: boolean;
}

/** A handle on a budget added with {@link Meter.budget}. */
export interface BudgetHandle {
  readonly id: string;
  /**
   * Spend counted against this budget in its current window, for the current scope's attribution
   * with `values` laid over it (e.g. `{ run: 'nightly-42' }`); `undefined` when the scope is outside the budget.
   */
  status(
    values?: Partial<Record<BudgetDimension, string>>,
  ): { limitUsd: number; spentUsd: number; reservedUsd: number } | undefined;
  /** Stops enforcing it (spend already counted stays in the store). */
  remove(): void;
}

/** Input of {@link Meter.record}: usage the meter did not see itself. */
export interface RecordInput {
  model: string;
  provider?: string;
  /** Canonical disjoint buckets; missing ones are 0. */
  usage: Partial<UsageBuckets>;
  /** Stable id: recording the same id twice stores it once. Default: a random UUID. */
  id?: string;
  /** Epoch ms; default now. */
  ts?: number;
  speed?: string;
  /** Extra attribution for this event, laid over the current scope's. */
  attrs?: MeterAttrs;
  status?: string;
}

/** Input of {@link Meter.outcome}: how a run ended. */
export interface OutcomeInput {
  success: boolean;
  /** A quality score (any scale; insights average it). */
  score?: number;
  /** Units of output (tickets closed, pages written), for the cost per unit. */
  units?: number;
  /** What this success is worth in dollars (else `--value-per-success`). */
  valueUsd?: number;
}

/** What a tracked function's result says it used, in canonical buckets. */
export interface TrackedUsage {
  model: string;
  provider?: string;
  usage: Partial<UsageBuckets>;
}

interface TrackFrame {
  parent: TrackFrame | undefined;
  calls: number;
}

const MAX_PENDING = 100_000;

// One exit listener for every open meter (not one each: many meters would trip Node's listener
// warning). better-sqlite3 writes synchronously, so what is still buffered is written at exit.
const openMeters = new Set<Meter>();
function flushOpenMeters(): void {
  for (const m of openMeters) m.flush();
}

/**
 * The live meter: wraps SDK clients, keeps who-is-spending context, enforces budgets and writes
 * every call to the ledger. Create one per process with {@link createMeter}.
 */
export class Meter {
  readonly ledger: LedgerStore;
  readonly priceBook: PriceBook;
  readonly context: MeterContext;
  readonly estimateOptions: EstimateOptions;
  readonly #budgets: BudgetSpec[] = [];
  readonly #budgetStore: BudgetStore | undefined;
  readonly #ownsLedger: boolean;
  readonly #ownsBudgetStore: boolean;
  readonly #alerts: AlertDispatcher | undefined;
  readonly #alertStore: AlertStore | undefined;
  readonly #ownsAlertStore: boolean = false;
  readonly #cache: (MeterCacheOptions & { store: ResponseCacheStore }) | undefined;
  readonly #onError: (err: unknown) => void;
  readonly #now: () => number;
  readonly #project: string | undefined;
  readonly #flushEvery: number;
  readonly #flushIntervalMs: number;
  readonly #tracks = new AsyncLocalStorage<TrackFrame>();
  #pending: StoredEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: MeterOptions = {}) {
    this.#onError = guardHook(
      opts.onError ?? ((err) => process.emitWarning(`tokenledger meter: ${errorText(err)}`)),
    );
    this.#now = opts.now ?? Date.now;
    this.#project = opts.project;
    this.#flushEvery = Math.max(1, opts.flushEvery ?? 1000);
    this.#flushIntervalMs = Math.max(0, opts.flushIntervalMs ?? 500);
    this.estimateOptions = opts.estimate ?? {};
    this.context = new MeterContext({ onError: this.#onError });
    this.priceBook = opts.priceBook ?? loadPriceBook(opts.prices);
    const ledgerOpt = opts.ledger ?? join(tokenledgerHome(), 'ledger.db');
    this.#ownsLedger = typeof ledgerOpt === 'string';
    this.ledger = typeof ledgerOpt === 'string' ? openSqliteLedger(ledgerOpt) : ledgerOpt;
    const file = typeof ledgerOpt === 'string' ? ledgerOpt : this.ledger.location;
    const sideFile = file && file !== ':memory:' && !file.startsWith('postgres') ? file : ':memory:';
    this.#ownsBudgetStore = !opts.budgetStore;
    this.#budgetStore = opts.budgetStore;
    if (!this.#budgetStore) this.#budgetStore = new SqliteBudgetStore(sideFile);
    if (opts.alerts) {
      this.#ownsAlertStore = !opts.alerts.store;
      this.#alertStore = opts.alerts.store ?? new SqliteAlertStore(sideFile);
      this.#alerts = new AlertDispatcher({ ...opts.alerts, store: this.#alertStore, onError: this.#onError });
    }
    if (opts.cache) {
      if (!(opts.cache.ttlMs > 0)) throw new RangeError('cache.ttlMs must be a positive number of ms');
      this.#cache = { ...opts.cache, store: opts.cache.store ?? new MemoryResponseCache() };
    }
    openMeters.add(this);
    if (openMeters.size === 1) process.on('exit', flushOpenMeters);
  }

  // -------------------------------------------------------------------------------------------
  // Clients
  // -------------------------------------------------------------------------------------------

  /**
   * Meters an `@anthropic-ai/sdk` or `openai` client: instruments its `create` methods in place and
   * returns the same client (same type, options and helpers: streaming, `.withResponse()`,
   * `.parse()`). A client wrapped twice is metered once. Clients derived later with
   * `client.withOptions()` are new objects: wrap them too.
   *
   * @example
   * const anthropic = meter.wrap(new Anthropic());
   * const openai = meter.wrap(new OpenAI());
   */
  wrap<T>(client: T): T {
    return wrapClient(this, client);
  }

  /**
   * A Vercel AI SDK v6 middleware for `wrapLanguageModel`.
   *
   * @example
   * const model = wrapLanguageModel({ model: openai('gpt-4.1-mini'), middleware: meter.aiSdkMiddleware() });
   */
  aiSdkMiddleware(): AiSdkMiddleware {
    return createAiSdkMiddleware(this);
  }

  // -------------------------------------------------------------------------------------------
  // Context
  // -------------------------------------------------------------------------------------------

  /**
   * Runs `fn` with these attributes in effect for every call made inside it, across `await`s and
   * parallel branches. Scopes nest; a scope naming an `agent` is a node of the delegation tree.
   *
   * @example
   * await meter.run({ run: 'nightly-42', agent: 'planner' }, async () => {
   *   await anthropic.messages.create(req);                          // main/planner#1
   *   await meter.run({ agent: 'summarizer' }, () => openai.responses.create(req2)); // main/planner#1/summarizer#1
   * });
   */
  run<T>(attrs: MeterAttrs, fn: () => T): T {
    return this.context.run(attrs, fn);
  }

  /** The scope the caller runs in (`undefined` outside any `run`). */
  current(): MeterScope | undefined {
    return this.context.current();
  }

  /** The attribution a call made here would get. */
  attributionNow(): Attribution {
    return this.#attributionFor(this.current());
  }

  // -------------------------------------------------------------------------------------------
  // Budgets
  // -------------------------------------------------------------------------------------------

  /**
   * Adds a budget. Calls inside its scope reserve their worst case before they are sent and are
   * refused with `BudgetExceededError` when that would pass the limit (`mode: 'alert'` only counts).
   *
   * @example
   * meter.budget({ scope: { run: '*' }, limitUsd: 2, window: 'run' });        // each run ≤ $2
   * meter.budget({ scope: { user: '*' }, limitUsd: 20, window: '1d', mode: 'alert' });
   */
  budget(spec: BudgetSpec): BudgetHandle {
    // Validate now: a bad spec is the developer's error, reported where it is written.
    budgetLimitNano(spec);
    windowMs(spec.window);
    const id = budgetId(spec);
    const frozen: BudgetSpec = { ...spec, scope: { ...spec.scope } };
    this.#budgets.push(frozen);
    return {
      id,
      status: (values) => {
        const attribution = withDimensions(this.#attributionFor(this.current()), values ?? {});
        const key = budgetKeys(frozen, attribution, this.#now())[0];
        if (!key || !this.#budgetStore) return undefined;
        const u = this.#budgetStore.usage(key.key);
        return {
          limitUsd: frozen.limitUsd,
          spentUsd: nanoToUsd(u.spentNano),
          reservedUsd: nanoToUsd(u.reservedNano),
        };
      },
      remove: () => {
        const i = this.#budgets.indexOf(frozen);
        if (i >= 0) this.#budgets.splice(i, 1);
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Calls (used by the SDK wrappers and the AI SDK middleware)
  // -------------------------------------------------------------------------------------------

  /**
   * Before a call: its attribution, and its reservations under every budget that applies.
   * Throws `BudgetExceededError` (fail-closed) when a budget refuses it, or when a budget applies
   * but its store cannot be reached.
   */
  beginCall(plan: CallPlan): CallTicket {
    const startMs = this.#now();
    const attribution = this.#attributionFor(this.current());
    const ticket: CallTicket = { plan, attribution, startMs, reservations: [], worstNano: 0, done: false };
    if (this.#budgets.length === 0) return ticket;
    const checks = budgetChecks(this.#budgets, attribution, startMs);
    if (checks.length === 0 || !this.#budgetStore) return ticket;
    const worst = this.#worstCase(plan, startMs);
    (ticket as { worstNano: NanoUsd }).worstNano = worst;
    const store = this.#budgetStore;
    for (const check of checks) {
      const limit = check.limitNano ?? Number.MAX_SAFE_INTEGER;
      let r: ReturnType<BudgetStore['reserve']>;
      try {
        r = store.reserve(check.key.key, limit, worst, startMs);
      } catch (err) {
        if (check.limitNano === null) {
          this.#onError(err); // an alert-only budget: counting failed, the call goes on
          continue;
        }
        this.#releaseAll(ticket);
        throw new BudgetStoreError(check.key.budgetId, err);
      }
      if (!r.ok) {
        this.#releaseAll(ticket);
        this.#observeRefusal(check, r.spentNano);
        throw new BudgetExceededError({
          key: check.key,
          limitNano: limit,
          spentNano: r.spentNano,
          reservedNano: r.reservedNano,
          estimateNano: worst,
          nowMs: startMs,
        });
      }
      ticket.reservations.push({ id: r.reservationId, check });
    }
    return ticket;
  }

  /** After a call: records its event and settles its reservations to what it really cost. */
  finishCall(ticket: CallTicket, result: CallResult): UsageEvent | undefined {
    if (ticket.done) return undefined;
    ticket.done = true;
    try {
      if (!result.usage) {
        this.#releaseAll(ticket);
        if (result.status !== 'error')
          this.#onError(new Error(`${ticket.plan.endpoint} ${ticket.plan.model}: no usage in the response`));
        return undefined;
      }
      const model = result.model || ticket.plan.model;
      const provider = ticket.plan.provider;
      const cost = priceEvent(
        this.priceBook,
        model,
        provider,
        ticket.startMs,
        result.usage,
        ticket.plan.speed,
      );
      if (result.estimatedNote) {
        cost.estimated = true;
        cost.note = [cost.note, result.estimatedNote].filter(Boolean).join('; ');
      }
      const attribution = { ...ticket.attribution };
      if (result.status && result.status !== 'ok') attribution.status = result.status;
      const event: UsageEvent = {
        id: meterEventId(ticket.startMs, result.responseId ? `${provider}:${result.responseId}` : undefined),
        ts: ticket.startMs,
        source: 'meter',
        provider,
        model,
        usage: result.usage,
        cost,
        attribution,
      };
      if (ticket.plan.speed) event.speed = ticket.plan.speed;
      this.#enqueue(event);
      this.#settle(ticket, chargeOf(event));
      return event;
    } catch (err) {
      this.#onError(err);
      // The call happened but could not be priced or recorded: budgets keep its worst case.
      this.#settle(ticket, ticket.worstNano);
      return undefined;
    }
  }

  /** A call that failed before it produced usage: its reservations are released. */
  failCall(ticket: CallTicket, _err: unknown): void {
    if (ticket.done) return;
    ticket.done = true;
    try {
      this.#releaseAll(ticket);
    } catch (err) {
      this.#onError(err);
    }
  }

  /** Reports a metering failure (never thrown to the user). */
  reportError(err: unknown): void {
    this.#onError(err);
  }

  /** The cache settings, when the cache is on. */
  get cache(): (MeterCacheOptions & { store: ResponseCacheStore }) | undefined {
    return this.#cache;
  }

  /** The cache partition of the current scope: the configured dimensions' values. */
  cacheScope(attribution: Attribution): string {
    const dims = this.#cache?.scope ?? ['project', 'user'];
    return JSON.stringify(dims.map((d) => (d === 'agent' ? attribution.agentName : attribution[d]) ?? null));
  }

  /** Records a cache hit: no tokens, no cost, and the dollars the original call cost as saved. */
  recordCacheHit(plan: CallPlan, hit: CachedResponse): void {
    try {
      const attribution = this.#attributionFor(this.current());
      attribution.tags = {
        ...attribution.tags,
        cache: 'hit',
        ...(hit.costNano !== null ? { cacheSavedNanoUsd: String(hit.costNano) } : {}),
      };
      this.#enqueue({
        id: meterEventId(this.#now()),
        ts: this.#now(),
        source: 'meter',
        provider: plan.provider,
        model: hit.model || plan.model,
        usage: emptyUsage(),
        cost: {
          nanoUsd: 0,
          priceSource: 'cache',
          estimated: false,
          note: 'served from the identical-call cache',
        },
        attribution,
      });
    } catch (err) {
      this.#onError(err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // record / track
  // -------------------------------------------------------------------------------------------

  /**
   * Records usage the meter did not see (another SDK, a batch result, a tool's own bill). It is
   * attributed to the current scope, priced, counted against budgets (never refused: it is
   * already spent) and written to the ledger. Returns the event, or `undefined` if recording failed.
   *
   * @example
   * meter.record({ model: 'gpt-4.1-mini', provider: 'openai', usage: { inputTokens: 1200, outputTokens: 300 } });
   */
  record(input: RecordInput): UsageEvent | undefined {
    try {
      const build = () => {
        const usage = emptyUsage();
        for (const k of Object.keys(usage) as (keyof UsageBuckets)[])
          usage[k] = tokenCount(input.usage?.[k]) ?? 0;
        if (typeof input.model !== 'string' || input.model === '')
          throw new TypeError('record: model is required');
        const provider = input.provider ?? providerOfModel(input.model);
        const ts = input.ts ?? this.#now();
        const attribution = this.#attributionFor(this.current());
        if (input.status) attribution.status = input.status;
        const event: UsageEvent = {
          id: input.id ?? meterEventId(ts),
          ts,
          source: 'meter',
          provider,
          model: input.model,
          usage,
          cost: priceEvent(this.priceBook, input.model, provider, ts, usage, input.speed),
          attribution,
        };
        if (input.speed) event.speed = input.speed;
        return event;
      };
      const event = input.attrs ? this.context.run(input.attrs, build) : build();
      this.#enqueue(event);
      this.#chargeUnchecked(event);
      return event;
    } catch (err) {
      this.#onError(err);
      return undefined;
    }
  }

  /**
   * Runs an agent or graph-node function as an agent node named `name` and records the usage its
   * result reports — unless metered calls inside it already recorded it (then nothing is added, so
   * nothing is counted twice). `usageOf` reads the usage from the result; by default a result's
   * `usage` in AI SDK, Anthropic or OpenAI shape is understood (see `trackedUsageOf`).
   *
   * @example
   * const answer = await meter.track('retriever', () => myAgent.invoke(q), {
   *   usageOf: (r) => ({ model: r.model, usage: { inputTokens: r.tokensIn, outputTokens: r.tokensOut } }),
   * });
   */
  track<T>(
    name: string,
    fn: () => T | Promise<T>,
    options: { usageOf?: (result: T) => TrackedUsage | null | undefined; attrs?: MeterAttrs } = {},
  ): Promise<T> {
    const frame: TrackFrame = { parent: this.#tracks.getStore(), calls: 0 };
    return this.context.run({ ...options.attrs, agent: name }, () =>
      this.#tracks.run(frame, async () => {
        const result = await fn();
        if (frame.calls === 0) {
          let tracked: TrackedUsage | null | undefined;
          try {
            tracked = options.usageOf ? options.usageOf(result) : trackedUsageOf(result);
          } catch (err) {
            this.#onError(err);
          }
          if (tracked) {
            const input: RecordInput = { model: tracked.model, usage: tracked.usage };
            if (tracked.provider) input.provider = tracked.provider;
            this.record(input);
          }
        }
        return result;
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Outcomes
  // -------------------------------------------------------------------------------------------

  /**
   * Records how a run ended, for the cost per success, per unit and ROI of `tokenledger insights`.
   * One verdict per run: a later one for the same run replaces it. Written to the ledger at once.
   * Throws a `TypeError` for invalid arguments (a developer error); a storage failure is never
   * thrown: it goes to `onError` and `undefined` is returned.
   *
   * @example
   * await meter.run({ run: 'ticket-812', agent: 'triage' }, () => triage(ticket));
   * meter.outcome('ticket-812', { success: true, units: 1, valueUsd: 4 });
   */
  outcome(run: string, result: OutcomeInput): Outcome | undefined {
    if (typeof run !== 'string' || run.trim() === '')
      throw new TypeError('outcome: run must be a non-empty string (the run id the calls were made under)');
    if (result === null || typeof result !== 'object')
      throw new TypeError('outcome: the second argument must be { success, score?, units?, valueUsd? }');
    if (typeof result.success !== 'boolean') throw new TypeError('outcome: success must be true or false');
    const finite = (name: string, v: unknown, min?: number) => {
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isFinite(v) || (min !== undefined && v < min))
        throw new TypeError(
          `outcome: ${name} must be a finite number${min !== undefined ? ` ≥ ${min}` : ''}, got ${String(v)}`,
        );
    };
    finite('score', result.score);
    finite('units', result.units, 0);
    finite('valueUsd', result.valueUsd);
    const o: Outcome = { run, success: result.success, ts: this.#now(), source: 'meter' };
    if (result.score !== undefined) o.score = result.score;
    if (result.units !== undefined) o.units = result.units;
    if (result.valueUsd !== undefined) o.valueUsd = result.valueUsd;
    try {
      this.ledger.putOutcomes([o]);
      return o;
    } catch (err) {
      this.#onError(err);
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ledger writes
  // -------------------------------------------------------------------------------------------

  /** Writes every waiting event to the ledger now. Never throws (failures go to `onError`; the events wait for the next flush). */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const events = this.#pending;
    this.#pending = [];
    try {
      this.ledger.commit({ events, files: [], resetProblemsFor: [], problems: [], links: [] });
    } catch (err) {
      this.#onError(err);
      // Kept for the next flush (idempotent: ids are unique), within a bound so memory cannot grow without end.
      this.#pending = events.concat(this.#pending).slice(-MAX_PENDING);
    }
  }

  /** Flushes, waits for alert deliveries, and closes what the meter opened. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    openMeters.delete(this);
    if (openMeters.size === 0) process.off('exit', flushOpenMeters);
    this.flush();
    try {
      await this.#alerts?.close();
    } catch (err) {
      this.#onError(err);
    }
    const closeQuietly = (c: { close?: () => void } | undefined) => {
      try {
        c?.close?.();
      } catch (err) {
        this.#onError(err);
      }
    };
    if (this.#ownsAlertStore) closeQuietly(this.#alertStore);
    if (this.#ownsBudgetStore) closeQuietly(this.#budgetStore);
    if (this.#ownsLedger) closeQuietly(this.ledger);
  }

  /** Resolves when queued alert deliveries have finished. */
  async flushAlerts(): Promise<void> {
    await this.#alerts?.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  #attributionFor(scope: MeterScope | undefined): Attribution {
    const a = attributionOf(scope);
    if (this.#project !== undefined && a.project === undefined) a.project = this.#project;
    return a;
  }

  #worstCase(plan: CallPlan, nowMs: number): NanoUsd {
    let size: RequestSize;
    try {
      size = plan.size();
    } catch (err) {
      // Cannot read the request: reserve as if it were empty but capped at the default output.
      this.#onError(err);
      size = {
        inputTokens: 0,
        maxOutputTokens: this.estimateOptions.defaultMaxOutputTokens ?? 32_000,
        outputCapKnown: false,
        cacheWrite: 'none',
      };
    }
    const call = {
      provider: plan.provider,
      model: plan.model,
      nowMs,
      ...(plan.speed ? { speed: plan.speed } : {}),
    };
    return Math.max(1, worstCaseNano(this.priceBook, call, size).nanoUsd);
  }

  #settle(ticket: CallTicket, chargeNano: NanoUsd): void {
    const store = this.#budgetStore;
    if (!store) return;
    for (const r of ticket.reservations) {
      try {
        store.settle(r.id, chargeNano);
        this.#observe(r.check);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Spend that already happened: counted against every matching budget, never refused. */
  #chargeUnchecked(event: UsageEvent): void {
    const store = this.#budgetStore;
    if (!store || this.#budgets.length === 0) return;
    const charge = chargeOf(event);
    for (const check of budgetChecks(this.#budgets, event.attribution, event.ts)) {
      try {
        const r = store.reserve(check.key.key, Number.MAX_SAFE_INTEGER, 0, event.ts);
        if (r.ok) store.settle(r.reservationId, charge);
        this.#observe(check);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #releaseAll(ticket: CallTicket): void {
    const store = this.#budgetStore;
    if (!store) return;
    for (const r of ticket.reservations.splice(0)) store.release(r.id);
  }

  #observe(check: BudgetCheck): void {
    if (!this.#alerts || !this.#budgetStore) return;
    const { spentNano } = this.#budgetStore.usage(check.key.key);
    for (const spec of check.specs)
      this.#alerts.observe({ key: check.key, spec, limitNano: budgetLimitNano(spec), spentNano });
  }

  #observeRefusal(check: BudgetCheck, spentNano: NanoUsd): void {
    if (!this.#alerts) return;
    try {
      for (const spec of check.specs)
        if ((spec.mode ?? 'enforce') === 'enforce')
          this.#alerts.observeRefusal({ key: check.key, spec, limitNano: budgetLimitNano(spec), spentNano });
    } catch (err) {
      this.#onError(err);
    }
  }

  #countTracked(): void {
    for (let f = this.#tracks.getStore(); f; f = f.parent) f.calls++;
  }

  #enqueue(event: UsageEvent): void {
    this.#countTracked();
    this.#pending.push({ event, origin: { rank: 0, firstTs: null, file: '', line: 0 } });
    if (this.#closed || this.#pending.length >= this.#flushEvery) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), this.#flushIntervalMs);
      this.#timer.unref();
    }
  }
}

/**
 * What a call is charged against budgets: its price, or for an unpriced model its tokens at the
 * conservative card (a budget must never see an unknown model as free).
 */
function chargeOf(event: UsageEvent): NanoUsd {
  return event.cost.nanoUsd ?? costOf(event.usage, CONSERVATIVE_UNKNOWN_CARD);
}

/**
 * A meter event's id: time first (`m:` + the epoch ms in base 36, fixed width), then the provider's
 * response id or a random UUID. Time-ordered keys land at the end of the ledger's primary-key
 * B-tree instead of on random pages: with random keys a batch of 1,000 inserts dirties hundreds of
 * index pages and the ledger writes 2–3× slower (see bench/meter.mjs). The response id keeps the
 * key traceable to the provider's logs.
 *
 * @example meterEventId(Date.UTC(2026, 10, 23), 'anthropic:msg_01X') // 'm:00mwsi1hc0:anthropic:msg_01X'
 */
export function meterEventId(ts: number, suffix?: string): string {
  const ms = Math.max(0, Math.floor(ts));
  // Calls come in bursts within the same millisecond: the prefix is kept for the last one.
  if (ms !== lastIdMs) {
    lastIdMs = ms;
    lastIdPrefix = `m:${ms.toString(36).padStart(10, '0')}:`;
  }
  return lastIdPrefix + (suffix ?? randomUUID());
}
let lastIdMs = -1;
let lastIdPrefix = '';

/** Best guess of the provider from a model name, for `record()` without one. */
export function providerOfModel(model: string): string {
  const m = model.toLowerCase();
  if (m.startsWith('claude')) return 'anthropic';
  if (/^(gpt|o\d|chatgpt|text-embedding|davinci|babbage)/.test(m)) return 'openai';
  if (m.startsWith('gemini')) return 'google';
  return 'unknown';
}

function guardHook(fn: (err: unknown) => void): (err: unknown) => void {
  return (err) => {
    try {
      fn(err);
    } catch {
      // The error hook failing must not break the user's call either.
    }
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates the live meter.
 *
 * @example
 * import Anthropic from '@anthropic-ai/sdk';
 * import { createMeter } from 'tokenledger';
 * const meter = createMeter();                      // ~/.tokenledger/ledger.db
 * const anthropic = meter.wrap(new Anthropic());
 * meter.budget({ scope: { run: '*' }, limitUsd: 2, window: 'run' });
 * await meter.run({ run: 'nightly-42', agent: 'planner' }, () => anthropic.messages.create(req));
 * await meter.close();
 */
export function createMeter(options: MeterOptions = {}): Meter {
  return new Meter(options);
}
