import { setTimeout as sleep } from 'node:timers/promises';
import { type BudgetKey, type BudgetSpec, windowLabel } from '../core/budget.js';
import { formatUsd, type NanoUsd, nanoToUsd } from '../core/money.js';

/**
 * Budget alerts: when a budget's spend crosses a threshold (50/80/100% by default) or an enforce
 * budget refuses a call, post one message to each webhook, in Slack-, Discord- or generic JSON.
 *
 * Each alert is sent once per budget key (which includes the window start) and threshold, across
 * processes and restarts: an {@link AlertStore} claim decides who sends it. Delivery happens in
 * the background with retries, so metering a call never waits for, or fails because of, a webhook.
 */

/** Default thresholds, in percent of the budget's limit. */
export const DEFAULT_THRESHOLDS: readonly number[] = [50, 80, 100];

/**
 * Who sends which alert. SQLite today (`SqliteAlertStore`), PostgreSQL for the gateway.
 *
 * Delivery is at most once: a process that claims an alert and then dies before posting it loses
 * that alert, which beats every process (or every restart) posting it again.
 *
 * A store may answer asynchronously (a network database, the gateway's `SharedLedger`): the
 * dispatcher then finishes the claim in the background, still without delaying the caller.
 */
export interface AlertStore {
  /** Atomically records that this alert is being sent; true only for the first claimant ever (across processes and restarts). */
  claim(alertKey: string, nowMs: number): boolean | Promise<boolean>;
  /** Undo a claim whose delivery finally failed, so a later crossing can try again. */
  unclaim(alertKey: string): void | Promise<void>;
  close(): void;
}

/** One alert as it is delivered (the generic payload adds the amounts in dollars). */
export interface BudgetAlert {
  /** `'refused'`: an enforce budget refused a call (sent once per budget key and window too). */
  kind: 'threshold' | 'refused';
  budgetId: string;
  /** The scope's concrete values (the run that crossed, not `'*'`). */
  scope: Record<string, string>;
  /** {@link windowLabel} of the budget's window: `'run'`, `'1d'`, `'5000ms'` … */
  window: string;
  windowStartMs: number | null;
  windowEndMs: number | null;
  /** The threshold crossed, in percent; 100 for `'refused'`. */
  thresholdPct: number;
  limitNano: NanoUsd;
  spentNano: NanoUsd;
  atMs: number;
  mode: 'enforce' | 'alert';
}

export type WebhookFormat = 'slack' | 'discord' | 'generic';

/** A webhook; without `format` it is inferred from the URL (see {@link inferWebhookFormat}). */
export interface WebhookTarget {
  url: string;
  format?: WebhookFormat;
}

/** A budget's state after a call settled (or at a refusal): what {@link AlertDispatcher} observes. */
export interface BudgetObservation {
  key: BudgetKey;
  spec: BudgetSpec;
  limitNano: NanoUsd;
  spentNano: NanoUsd;
}

export interface AlertDispatcherOptions {
  webhooks: (string | WebhookTarget)[];
  /** Percentages of the limit, default `[50, 80, 100]`; above 100 is allowed (alert-mode budgets overrun). */
  thresholds?: number[];
  store: AlertStore;
  /** `attempts` counts the first try. Defaults: 5 attempts, 500 ms base delay, 30 s max delay. */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Per POST, default 10 s. */
  timeoutMs?: number;
  /** Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Failed deliveries and store errors; default `process.emitWarning`. Whatever it throws is ignored. */
  onError?: (err: unknown) => void;
  /** Called once per claimed alert, before it is posted (logs, tests). Whatever it throws is ignored. */
  onAlert?: (alert: BudgetAlert) => void;
  now?: () => number;
}

/**
 * A delivery that finally failed, as passed to `onError`. `target` is the webhook's origin and
 * first path segment only: webhook URLs carry their secret in the path (and sometimes the query).
 */
export class AlertDeliveryError extends Error {
  override readonly name = 'AlertDeliveryError';
  readonly target: string;
  readonly attempts: number;
  /** The last HTTP status, when the webhook answered at all. */
  declare readonly status?: number;
  readonly alert: BudgetAlert;

  constructor(message: string, f: { target: string; attempts: number; status?: number; alert: BudgetAlert }) {
    super(message);
    this.target = f.target;
    this.attempts = f.attempts;
    if (f.status !== undefined) this.status = f.status;
    this.alert = f.alert;
  }
}

/** Discord refuses longer `content`; Slack shows about this much before folding a message away. */
const DISCORD_MAX_CHARS = 2000;
const SLACK_MAX_CHARS = 4000;
/** Thresholds are compared as integer millionths of a percent, so 33.3% is exact too. */
const PCT_SCALE = 1_000_000;
/** Bounds the per-process memory of alert keys already claimed (by anyone). */
const KNOWN_KEYS_MAX = 10_000;
/** Bounds what a dead webhook can pile up; beyond it new alerts fail at once instead of queueing. */
const QUEUE_MAX = 1000;

interface Target {
  url: string;
  format: WebhookFormat;
  /** Safe to log: origin and first path segment. */
  label: string;
  /** Posts to one webhook run one after another, so 80% never arrives after 100%. */
  tail: Promise<unknown>;
  queued: number;
}

interface Threshold {
  pct: number;
  scaled: bigint;
}

/**
 * Posts budget alerts to webhooks, once per threshold per budget window across processes and restarts.
 *
 * `observe` is meant to be called after every metered call: it is synchronous, never throws, and
 * touches the store only the first time this process sees each (key, threshold) crossed. When one
 * observation crosses several thresholds at once (0 → 85%), ONE message is sent, for the highest
 * (80%), and the lower ones are claimed with it so they are never sent late. With several webhooks,
 * a claim is released (so a later observation retries) only when no webhook accepted the alert.
 *
 * @example
 * const alerts = new AlertDispatcher({
 *   webhooks: [process.env.SLACK_WEBHOOK_URL!, { url: 'https://ops.example.com/hooks/budget', format: 'generic' }],
 *   store: new SqliteAlertStore(join(homedir(), '.tokenledger', 'ledger.db')),
 * });
 * for (const check of budgetChecks(specs, attribution, Date.now())) {
 *   const { spentNano } = budgetStore.usage(check.key.key);
 *   for (const spec of check.specs) alerts.observe({ key: check.key, spec, limitNano: budgetLimitNano(spec), spentNano });
 * }
 * await alerts.close(); // at shutdown: waits for the posts still in flight
 */
export class AlertDispatcher {
  private readonly targets: Target[];
  private readonly thresholds: Threshold[];
  private readonly store: AlertStore;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly onError: (err: unknown) => void;
  private readonly onAlert: ((alert: BudgetAlert) => void) | undefined;
  private readonly now: () => number;
  /**
   * Alert keys known to be claimed by someone: saves a write to the store on every later call. A
   * claim that another process releases after a failed post is retried by that process, not this one.
   */
  private readonly known = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  /** Throws (RangeError/TypeError) on bad options: a misconfigured webhook should fail at startup. */
  constructor(opts: AlertDispatcherOptions) {
    this.targets = opts.webhooks.map((w) => {
      const t = typeof w === 'string' ? { url: w } : w;
      let url: URL;
      try {
        url = new URL(t.url);
      } catch {
        throw new TypeError('webhook URL is not a valid URL');
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        throw new TypeError(`webhook URL must be http(s): ${redactUrl(t.url)}`);
      if (t.format !== undefined && !['slack', 'discord', 'generic'].includes(t.format))
        throw new TypeError(`unknown webhook format: ${String(t.format)}`);
      const format = t.format ?? inferWebhookFormat(t.url);
      return { url: t.url, format, label: redactUrl(t.url), tail: Promise.resolve(), queued: 0 };
    });
    this.thresholds = [...new Set(opts.thresholds ?? DEFAULT_THRESHOLDS)]
      .map((pct) => {
        if (typeof pct !== 'number' || !Number.isFinite(pct) || pct <= 0 || pct > 1e6)
          throw new RangeError(`alert threshold must be a percentage above 0: ${pct}`);
        const scaled = Math.round(pct * PCT_SCALE);
        if (scaled < 1) throw new RangeError(`alert threshold too small: ${pct}`);
        return { pct, scaled: BigInt(scaled) };
      })
      .sort((a, b) => a.pct - b.pct);
    this.store = opts.store;
    this.attempts = opts.retry?.attempts ?? 5;
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 500;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 30_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    if (!Number.isSafeInteger(this.attempts) || this.attempts < 1)
      throw new RangeError('retry.attempts must be an integer ≥ 1');
    for (const [name, v] of [
      ['retry.baseDelayMs', this.baseDelayMs],
      ['retry.maxDelayMs', this.maxDelayMs],
    ] as const)
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a number ≥ 0`);
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0)
      throw new RangeError('timeoutMs must be a number > 0');
    // Looked up at call time, so a fetch replaced after construction (mocks, instrumentation) is used.
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onError = opts.onError ?? defaultOnError;
    this.onAlert = opts.onAlert;
    this.now = opts.now ?? Date.now;
  }

  /**
   * After a call settles: the budget's current spend. Claims every threshold reached
   * (`spentNano × 100 ≥ limitNano × pct`, in exact integers) and posts one message for the highest
   * newly claimed one — none when a higher threshold was already sent. Returns at once, never
   * throws; ignored after {@link close}.
   *
   * Store keys: `JSON.stringify([key.key, limitNano, pct])` for thresholds (`key.key` holds the
   * window start), `JSON.stringify([key.key, 'refused'])` for refusals.
   *
   * @example
   * alerts.observe({ key, spec, limitNano: 2_000_000_000, spentNano: 1_620_000_000 }); // 81%: the 80% alert
   */
  observe(input: BudgetObservation): void {
    this.guard(() => this.handle('threshold', input));
  }

  /**
   * When an enforce budget refused a call: one `'refused'` alert per budget key (and so per window).
   *
   * @example
   * catch (e) { if (e instanceof BudgetExceededError) alerts.observeRefusal({ key, spec, limitNano, spentNano }); }
   */
  observeRefusal(input: BudgetObservation): void {
    this.guard(() => this.handle('refused', input));
  }

  /** Resolves when every queued delivery has finished (succeeded or given up). Never rejects. */
  async flush(): Promise<void> {
    // Loop: observe may queue more while we wait, and flush promises that all of it is done.
    while (this.inflight.size > 0) await Promise.all(this.inflight);
  }

  /** Stops accepting observations, then waits for the deliveries in flight. Leaves the store open (the caller owns it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(err);
    }
  }

  private handle(kind: BudgetAlert['kind'], input: BudgetObservation): void {
    if (this.closed) return;
    const { key, limitNano, spentNano } = input;
    if (!isNano(limitNano) || !isNano(spentNano))
      throw new RangeError(
        `budget alert for "${key.budgetId}": limitNano and spentNano must be non-negative integers ` +
          `(got ${limitNano}, ${spentNano})`,
      );

    // Ascending; the last one is the highest reached.
    let reached: { pct: number; alertKey: string }[];
    if (kind === 'refused') reached = [{ pct: 100, alertKey: JSON.stringify([key.key, 'refused']) }];
    else {
      // A $0 budget is "reached" by nothing spent; wait for a real cent before alerting on it.
      if (spentNano === 0) return;
      const spent = BigInt(spentNano) * BigInt(100 * PCT_SCALE);
      const limit = BigInt(limitNano);
      reached = this.thresholds
        .filter((t) => spent >= limit * t.scaled)
        // The limit is part of the key: budgets sharing a ledger row (same scope and window) but with
        // different limits each get their own alerts, and a changed limit re-arms the thresholds.
        .map((t) => ({ pct: t.pct, alertKey: JSON.stringify([key.key, limitNano, t.pct]) }));
    }
    if (reached.length === 0) return;
    const highest = reached[reached.length - 1]!;
    if (this.known.has(highest.alertKey)) return; // the common case once over a threshold: no I/O

    const nowMs = this.now();
    const won: typeof reached = [];
    const took = (r: (typeof reached)[number], claimed: boolean) => {
      if (claimed) won.push(r);
      this.remember(r.alertKey);
    };
    // Claims in order; synchronous while the store answers synchronously, else the rest is chained.
    const claimFrom = (from: number): void | Promise<void> => {
      for (let i = from; i < reached.length; i++) {
        const r = reached[i]!;
        if (this.known.has(r.alertKey)) continue;
        const claimed = this.store.claim(r.alertKey, Math.trunc(nowMs));
        if (typeof claimed !== 'boolean')
          return Promise.resolve(claimed).then((c) => {
            took(r, c === true);
            return claimFrom(i + 1);
          });
        took(r, claimed);
      }
    };
    // Without all its claims the message could be sent twice; give back what was taken.
    const giveBack = () => this.release(won.map((r) => r.alertKey));
    const send = () => this.sendClaimed(kind, input, highest, won, nowMs);
    let pending: void | Promise<void>;
    try {
      pending = claimFrom(0);
    } catch (err) {
      giveBack();
      throw err;
    }
    if (pending === undefined) {
      send();
      return;
    }
    const tracked: Promise<void> = pending
      .then(
        () => this.guard(send),
        (err: unknown) => {
          giveBack();
          this.report(err);
        },
      )
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private sendClaimed(
    kind: BudgetAlert['kind'],
    input: BudgetObservation,
    highest: { pct: number },
    won: { pct: number; alertKey: string }[],
    nowMs: number,
  ): void {
    const { key, spec, limitNano, spentNano } = input;
    if (won.length === 0) return;
    // Someone already sent a higher threshold: "reached 80%" after "reached 100%" would mislead.
    if (won[won.length - 1] !== highest) return;

    const alert: BudgetAlert = {
      kind,
      budgetId: key.budgetId,
      scope: { ...key.scope } as Record<string, string>,
      window: windowLabel(key.window),
      windowStartMs: key.windowStartMs,
      windowEndMs: key.windowEndMs,
      thresholdPct: highest.pct,
      limitNano,
      spentNano,
      atMs: nowMs,
      mode: spec.mode ?? 'enforce',
    };
    if (this.onAlert) this.guard(() => this.onAlert!(alert));
    this.dispatch(
      alert,
      won.map((r) => r.alertKey),
    );
  }

  private dispatch(alert: BudgetAlert, alertKeys: string[]): void {
    if (this.targets.length === 0) return;
    const job = Promise.all(this.targets.map((t) => this.enqueue(t, alert))).then((ok) => {
      // Released only when nobody got it: retrying would duplicate it on the webhooks that did.
      if (!ok.includes(true)) this.release(alertKeys);
    });
    const tracked = job.catch((err) => this.report(err)).finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private enqueue(target: Target, alert: BudgetAlert): Promise<boolean> {
    if (target.queued >= QUEUE_MAX) {
      this.report(
        new AlertDeliveryError(
          `tokenledger: budget alert for "${alert.budgetId}" not sent to ${target.label}: ` +
            `${QUEUE_MAX} alerts already waiting for it`,
          { target: target.label, attempts: 0, alert },
        ),
      );
      return Promise.resolve(false);
    }
    target.queued++;
    const run = target.tail
      .then(() => this.post(target, alert))
      .finally(() => {
        target.queued--;
      });
    target.tail = run.catch(() => undefined);
    return run;
  }

  /** True when the webhook accepted the alert; false (after reporting why) when it finally did not. */
  private async post(target: Target, alert: BudgetAlert): Promise<boolean> {
    const body = JSON.stringify(webhookPayload(target.format, alert));
    let problem = '';
    let status: number | undefined;
    let attempt = 0;
    while (attempt < this.attempts) {
      attempt++;
      let serverDelayMs: number | null = null;
      try {
        const res = await this.fetchFn(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'tokenledger' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        // Read to the end: an unread body keeps the connection from being reused.
        const text = await res.text().catch(() => '');
        if (res.ok) return true;
        status = res.status;
        problem = `HTTP ${res.status}${text.trim() ? ` (${scrub(oneLine(text), target.url)})` : ''}`;
        if (!retryableStatus(res.status)) break;
        if (res.status === 429 || res.status === 503)
          serverDelayMs = retryAfterMs(res.headers.get('retry-after'), Date.now(), this.maxDelayMs);
      } catch (err) {
        status = undefined;
        problem = scrub(describeFetchError(err, this.timeoutMs), target.url);
      }
      if (attempt < this.attempts) await sleep(serverDelayMs ?? this.backoffMs(attempt));
    }
    const tries = `${attempt} attempt${attempt === 1 ? '' : 's'}`;
    const message =
      `tokenledger: budget alert for "${alert.budgetId}" (${alert.kind} ${alert.thresholdPct}%) not delivered ` +
      `to ${target.label} after ${tries}: ${problem}`;
    this.report(
      new AlertDeliveryError(message, {
        target: target.label,
        attempts: attempt,
        ...(status === undefined ? {} : { status }),
        alert,
      }),
    );
    return false;
  }

  /** Exponential, with "equal jitter": at least half the step, so retries never bunch up near zero. */
  private backoffMs(attempt: number): number {
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return step / 2 + Math.random() * (step / 2);
  }

  private remember(alertKey: string): void {
    this.known.add(alertKey);
    if (this.known.size > KNOWN_KEYS_MAX) this.known.delete(this.known.values().next().value!);
  }

  private release(alertKeys: string[]): void {
    for (const k of alertKeys) {
      this.known.delete(k);
      this.guard(() => {
        const done = this.store.unclaim(k);
        if (done instanceof Promise) done.catch((err: unknown) => this.report(err));
      });
    }
  }

  private report(err: unknown): void {
    try {
      this.onError(err);
    } catch {
      // onError is the last resort; an alert must never take the metered call down with it.
    }
  }
}

function defaultOnError(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : String(err));
}

/**
 * The payload format a webhook URL most likely wants: Slack incoming webhooks (`hooks.slack.com`),
 * Discord webhooks (`discord.com`/`discordapp.com` under `/api/webhooks`), otherwise generic.
 *
 * @example
 * inferWebhookFormat('https://hooks.slack.com/services/T0/B0/XXXX'); // 'slack'
 * inferWebhookFormat('https://discord.com/api/webhooks/123/abc'); // 'discord'
 */
export function inferWebhookFormat(url: string): WebhookFormat {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'generic';
  }
  const host = u.hostname.toLowerCase();
  if (host === 'hooks.slack.com') return 'slack';
  const discordHost = /^((ptb|canary)\.)?discord(app)?\.com$/.test(host);
  if (discordHost && /^\/api(\/v\d+)?\/webhooks\//.test(u.pathname)) return 'discord';
  return 'generic';
}

/**
 * The alert as one line of plain text, amounts in dollars.
 *
 * @example
 * // 'tokenledger: budget "run=*&window=run" (run=nightly-42) reached 80% — $1.62 of $2.00 spent (window run)'
 */
export function alertText(a: BudgetAlert): string {
  const scope = Object.entries(a.scope).map(([d, v]) => `${d}=${v}`);
  const what = a.kind === 'refused' ? 'refused a call' : `reached ${a.thresholdPct}%`;
  const digits = dollarDigits(a.limitNano);
  const money = `${formatUsd(a.spentNano, digits)} of ${formatUsd(a.limitNano, digits)} spent`;
  const window =
    a.windowStartMs === null ? `window ${a.window}` : `window ${a.window} from ${utcMinute(a.windowStartMs)}`;
  return (
    `tokenledger: budget "${a.budgetId}" (${scope.length ? scope.join(', ') : 'all calls'}) ${what} — ` +
    `${money} (${window})`
  );
}

/**
 * The JSON body posted for an alert:
 * - `slack`: `{ text, mrkdwn: false }` — `&`, `<`, `>` escaped as Slack requires, formatting off so
 *   a `*` in a budget id stays a `*`;
 * - `discord`: `{ content, allowed_mentions: { parse: [] } }` — markdown escaped, at most 2000
 *   characters, and no `@everyone` ping even if a scope value says so;
 * - `generic`: `{ text, content, alert }`, `alert` with `limitUsd`/`spentUsd` added.
 */
export function webhookPayload(format: WebhookFormat, alert: BudgetAlert): Record<string, unknown> {
  const text = alertText(alert);
  switch (format) {
    case 'slack':
      return { text: truncate(escapeSlack(text), SLACK_MAX_CHARS), mrkdwn: false };
    case 'discord':
      return { content: truncate(escapeDiscord(text), DISCORD_MAX_CHARS), allowed_mentions: { parse: [] } };
    default:
      return {
        text,
        content: truncate(text, DISCORD_MAX_CHARS),
        alert: { ...alert, limitUsd: nanoToUsd(alert.limitNano), spentUsd: nanoToUsd(alert.spentNano) },
      };
  }
}

/** Fewest decimals (at least cents) that show the limit exactly: "$0.004 of $0.005", not "$0.00 of $0.01". */
function dollarDigits(limitNano: NanoUsd): number {
  for (let digits = 2; digits < 9; digits++) if (limitNano % 10 ** (9 - digits) === 0) return digits;
  return 9;
}

function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Backslash-escapes inline markdown; `#` and `>` only act at a line start, and the text starts with "tokenledger". */
function escapeDiscord(s: string): string {
  return s.replace(/[\\*_~`|]/g, (c) => `\\${c}`);
}

/** Cuts by code points so an emoji is never split into a lone surrogate. */
function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Origin and first path segment: `https://hooks.slack.com/services/…`. Webhook URLs are bearer
 * secrets (Slack and Discord keep the token in the path), so the rest never reaches a log.
 */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const segments = u.pathname.split('/').filter(Boolean);
    const first = segments[0] === undefined ? '' : `/${segments[0]}`;
    return `${u.origin}${first}${segments.length > 1 || u.search || u.hash ? '/…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Belt and braces: a server's error text or a fetch error could quote the URL, or its path, back. */
function scrub(text: string, url: string): string {
  let out = text;
  const u = new URL(url);
  // Short paths are skipped: replacing "/a" everywhere would garble the text and hide no secret.
  for (const secret of [url, u.href, `${u.pathname}${u.search}`])
    if (secret.length >= 8) out = out.split(secret).join('…');
  return out;
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` as seconds or an HTTP date, capped at `maxMs`; null when absent or unreadable. */
function retryAfterMs(header: string | null, nowMs: number, maxMs: number): number | null {
  if (header === null || header.trim() === '') return null;
  const value = header.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(value)) ms = Number(value) * 1000;
  else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(maxMs, Math.max(0, ms));
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  if (!(err instanceof Error)) return String(err);
  // undici says "fetch failed" and puts the useful part (ECONNREFUSED …) in `cause`.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

function isNano(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
}
