import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Attribution } from '../core/event.js';

/** What a caller can say about the calls made inside a scope. Unset (or `undefined`) fields are inherited. */
export interface MeterAttrs {
  run?: string;
  /** Names an agent: the scope becomes a new node of the delegation tree. */
  agent?: string;
  task?: string;
  stage?: string;
  user?: string;
  session?: string;
  feature?: string;
  project?: string;
  /** Prompt template id; recorded as `tags.template`. */
  template?: string;
  /** Merged with the enclosing scope's tags; on a clash the inner value wins. */
  tags?: Record<string, string>;
}

/** One `run()` scope: the enclosing scope's fields with this scope's own laid over them. Immutable. */
export interface MeterScope {
  /** Every field in effect here. `run` is always set; `agent` is the innermost agent node's name. */
  readonly attrs: Readonly<MeterAttrs> & { readonly run: string };
  /** `main`, then one segment per enclosing scope that names an agent, e.g. `main/planner#1/summarizer#2`. */
  readonly agentPath: string;
  /** The innermost agent node's segment (`summarizer#2`): unique within its run. Absent at the root. */
  readonly agentId?: string;
}

// Sibling numbering needs one counter per run, shared by every scope of the run.
interface Scope extends MeterScope {
  readonly counts: Map<string, number>;
}

const STRING_FIELDS = ['run', 'task', 'stage', 'user', 'session', 'feature', 'project', 'template'] as const;
const ATTRIBUTION_FIELDS = ['session', 'user', 'feature', 'project', 'task', 'stage'] as const;

/**
 * The attribution context of a live meter: who is spending, kept across `await`s, timers and
 * parallel branches by `AsyncLocalStorage`, so concurrent fan-out never mixes attributions.
 *
 * Tree rule: a scope naming an `agent` is a new node whose segment is `<agent>#<n>`, `n` counting
 * the nodes of that name in the run in the order they start (`/` in a name becomes `_`). Siblings
 * are therefore always distinct nodes, and `agentId` (the segment) is unique within the run. A scope
 * with no enclosing scope, or one setting a different `run`, starts a new tree at `main`; with no
 * `run` given it gets a `randomUUID()` run id, so every event belongs to a run. Counters live per
 * top-level scope: two separate top-level scopes given the same run id number their nodes afresh.
 *
 * Never throws for a metering reason: if a scope cannot be built (a bad attribute, no entropy…),
 * the error goes to `onError` (default: a process warning) and `fn` still runs, exactly once, in the
 * enclosing scope. Whatever `fn` returns or throws reaches the caller unchanged.
 *
 * @example
 * ```ts
 * const ctx = new MeterContext();
 * await ctx.run({ run: 'nightly-42', agent: 'planner', user: 'u1' }, async () => {
 *   await ctx.run({ agent: 'summarizer', tags: { lang: 'en' } }, async () => {
 *     attributionOf(ctx.current());
 *     // { run: 'nightly-42', user: 'u1', agentName: 'summarizer', agentId: 'summarizer#1',
 *     //   agentPath: 'main/planner#1/summarizer#1', tags: { lang: 'en' } }
 *   });
 * });
 * ```
 */
export class MeterContext {
  readonly #als = new AsyncLocalStorage<Scope>();
  readonly #onError: (err: unknown) => void;

  constructor(options: { onError?: (err: unknown) => void } = {}) {
    this.#onError =
      options.onError ?? ((err) => process.emitWarning(`tokenledger: no metering scope: ${String(err)}`));
  }

  /** Runs `fn` in a scope that inherits the enclosing one and overrides the given fields. */
  run<T>(attrs: MeterAttrs, fn: () => T): T {
    let scope: Scope | undefined;
    try {
      scope = enter(this.#als.getStore(), attrs ?? {});
    } catch (err) {
      try {
        this.#onError(err);
      } catch {
        // The error hook failing is not a reason to break the user's call either.
      }
    }
    // Outside the try: fn must run exactly once, and its own errors are the caller's, not ours.
    return scope ? this.#als.run(scope, fn) : fn();
  }

  /** The scope the caller is running in, or `undefined` outside any `run()`. */
  current(): MeterScope | undefined {
    return this.#als.getStore();
  }

  /**
   * Ties `fn` to the scope it is bound in. Timers and promises need nothing; an `EventEmitter`
   * listener otherwise runs in the scope of whoever calls `emit()`.
   */
  bind<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return AsyncResource.bind(fn);
  }
}

function enter(outer: Scope | undefined, attrs: MeterAttrs): Scope {
  const merged: Record<string, string> = {};
  for (const k of STRING_FIELDS) {
    const v = attrs[k] ?? outer?.attrs[k];
    if (v != null) merged[k] = String(v);
  }
  const newRun = !outer || (attrs.run != null && merged.run !== outer.attrs.run);
  merged.run ??= randomUUID();
  const counts = newRun ? new Map<string, number>() : outer.counts;
  // A new run is a new tree: the outer agent is not a node of it.
  let agent = newRun ? undefined : outer.attrs.agent;
  let agentPath = newRun ? 'main' : outer.agentPath;
  let agentId = newRun ? undefined : outer.agentId;
  if (attrs.agent != null) {
    agent = String(attrs.agent);
    const n = (counts.get(agent) ?? 0) + 1;
    counts.set(agent, n);
    // '/' separates path segments (buildDelegationTree splits on it): a name must not contain one.
    agentId = `${agent.replaceAll('/', '_')}#${n}`;
    agentPath = `${agentPath}/${agentId}`;
  }
  if (agent !== undefined) merged.agent = agent;
  // Copied and frozen: a caller mutating its tags object later must not rewrite past attributions.
  const tags = Object.freeze({ ...outer?.attrs.tags, ...attrs.tags });
  const all = Object.freeze({ ...merged, tags }) as MeterScope['attrs'];
  return Object.freeze({ attrs: all, agentPath, counts, ...(agentId ? { agentId } : {}) });
}

/**
 * Maps a scope to the event model's `Attribution` (fresh objects, safe to mutate). Outside any
 * scope (`undefined`) it is `{}`: nothing is invented. The root's `agentName` is `main`, as for a
 * Claude Code main thread.
 */
export function attributionOf(scope: MeterScope | undefined): Attribution {
  if (!scope) return {};
  // Scopes are immutable: map each once, hand out copies (every call of a scope needs one).
  let cached = ATTRIBUTIONS.get(scope);
  if (!cached) {
    cached = mapScope(scope);
    ATTRIBUTIONS.set(scope, cached);
  }
  const a = { ...cached };
  if (cached.tags) a.tags = { ...cached.tags };
  return a;
}

const ATTRIBUTIONS = new WeakMap<MeterScope, Attribution>();

function mapScope(scope: MeterScope): Attribution {
  const { attrs } = scope;
  const a: Attribution = { run: attrs.run, agentPath: scope.agentPath, agentName: attrs.agent ?? 'main' };
  if (scope.agentId) a.agentId = scope.agentId;
  for (const k of ATTRIBUTION_FIELDS) {
    const v = attrs[k];
    if (v !== undefined) a[k] = v;
  }
  const tags = { ...attrs.tags, ...(attrs.template !== undefined ? { template: attrs.template } : {}) };
  if (Object.keys(tags).length > 0) a.tags = tags;
  return a;
}
