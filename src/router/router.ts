import { createHash } from 'node:crypto';
import { readFileSync, type Stats, statSync } from 'node:fs';
import * as v from 'valibot';

/**
 * The model router: a role table (`{ role: { model, effort } }`) that code asks "which model does
 * role X use?", with a JSON overrides file an operator may edit while the process runs.
 *
 * Two rules, deliberately asymmetric:
 * - **Fail closed on roles.** A role that is not in the table throws `UnknownRoleError`; nothing
 *   falls back to a default model, and the overrides file cannot create a role.
 * - **Fail soft on the file.** A missing, unreadable or invalid overrides file never throws: it is
 *   reported through `onWarning` (once, not on every call) and routing goes on with the table (or
 *   with the last good overrides, when a good file turns bad).
 */

/** How hard the model should think. The three common levels, or any provider-specific string. */
export type Effort = 'low' | 'medium' | 'high' | (string & {});

/** What a role runs on. */
export interface RoleSpec {
  /** The provider's model id, e.g. `claude-haiku-4-5`. */
  model: string;
  effort?: Effort;
  /** e.g. `anthropic`; also used to price the model (`savingsEstimate`). */
  provider?: string;
}

/** Role name → what it runs on. Role names are case-sensitive. */
export type RoleTable = Record<string, RoleSpec>;

export interface RouterOptions {
  /** The roles. The set of roles is fixed here: overrides can change a role, never add one. */
  roles: RoleTable;
  /**
   * A JSON file that overrides roles live (see `createRouter`). Optional; when given it may be
   * missing: the table is then used as it is.
   */
  overridesPath?: string;
  /**
   * How often the overrides file is checked for a change (one `statSync`), in ms. Default 1000;
   * 0 checks on every call.
   */
  reloadIntervalMs?: number;
  /** Where file problems are reported. Default: `process.emitWarning`. Never made to throw. */
  onWarning?: (msg: string) => void;
  /** The clock for `reloadIntervalMs`. Default `Date.now`. */
  now?: () => number;
}

/** The answer for one role: what to call, and whether the table or the overrides file said so. */
export interface Route {
  role: string;
  model: string;
  effort?: string;
  provider?: string;
  /** `override` when the overrides file changed at least one field of this role. */
  source: 'table' | 'override';
}

/** A role the table does not have. Routing fails closed: no model is guessed. */
export class UnknownRoleError extends Error {
  override readonly name = 'UnknownRoleError';
  readonly code = 'UNKNOWN_ROLE';
  /** The role asked for. */
  readonly role: string;
  /** The roles the table has, sorted. */
  readonly known: string[];

  constructor(role: string, known: readonly string[]) {
    const sorted = [...known].sort();
    super(`unknown role ${JSON.stringify(role)} (known roles: ${sorted.join(', ') || 'none'})`);
    this.role = role;
    this.known = sorted;
  }
}

/** The role table given to `createRouter` is unusable (no roles, a role without a model, …). */
export class RoleTableError extends Error {
  override readonly name = 'RoleTableError';
  readonly code = 'ROLE_TABLE_INVALID';
}

export interface Router {
  /**
   * The route for a role, with the overrides file's current content applied.
   * @throws UnknownRoleError when the role is not in the table.
   */
  route(role: string): Route;
  /** Whether the table has this role (the set of roles never changes after `createRouter`). */
  has(role: string): boolean;
  /** The effective table: a fresh copy of every role with the overrides applied. */
  roles(): RoleTable;
}

const NonEmpty = v.pipe(v.string(), v.regex(/\S/, 'must be a non-empty string'));

const TableSchema = v.pipe(
  v.record(
    v.pipe(v.string(), v.nonEmpty('a role name must not be empty')),
    v.object({ model: NonEmpty, effort: v.optional(NonEmpty), provider: v.optional(NonEmpty) }),
  ),
  v.check((t) => Object.keys(t).length > 0, 'the role table has no roles'),
);

/**
 * The overrides file. Every field of a role is optional; a role absent from the file keeps its
 * table values. Unknown fields are an error (a typo such as `"modle"` must not be silently ignored).
 *
 * @example
 * { "roles": { "fast": { "model": "claude-sonnet-4-5" }, "deep": { "effort": "medium" } } }
 */
const OverrideEntrySchema = v.strictObject({
  model: v.optional(NonEmpty),
  effort: v.optional(NonEmpty),
  provider: v.optional(NonEmpty),
});
const OverridesFileSchema = v.strictObject({
  $schema: v.optional(v.string()),
  // valibot's record accepts an array; `"roles": []` is a mistake worth a warning.
  roles: v.pipe(
    v.custom<unknown>((x) => !Array.isArray(x), 'must be an object of roles'),
    v.record(v.string(), OverrideEntrySchema),
  ),
});

type OverrideEntry = v.InferOutput<typeof OverrideEntrySchema>;

function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  const issue = issues[0];
  const where = issue ? v.getDotPath(issue) : null;
  return `${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`;
}

function parseTable(roles: RoleTable): Map<string, Readonly<RoleSpec>> {
  const parsed = v.safeParse(TableSchema, roles);
  if (!parsed.success) throw new RoleTableError(`tokenledger router: roles: ${issueText(parsed.issues)}`);
  const table = new Map<string, Readonly<RoleSpec>>();
  for (const [role, s] of Object.entries(parsed.output)) {
    const spec: RoleSpec = { model: s.model };
    if (s.effort !== undefined) spec.effort = s.effort;
    if (s.provider !== undefined) spec.provider = s.provider;
    table.set(role, Object.freeze(spec));
  }
  return table;
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | null)?.code ?? 'ERROR';
}

/**
 * Keeps the overrides file's last good content. `current()` costs a clock read; at most every
 * `intervalMs` it costs one `statSync`, and only a changed stamp (mtime, ctime, size, inode) makes
 * it read the file. Content identical to what is loaded (a `touch`) is not parsed again.
 */
function overridesWatcher(
  path: string,
  table: ReadonlyMap<string, Readonly<RoleSpec>>,
  warn: (msg: string) => void,
  now: () => number,
  intervalMs: number,
): { current(): ReadonlyMap<string, OverrideEntry> } {
  const none: ReadonlyMap<string, OverrideEntry> = new Map();
  let good = none;
  let goodDigest: string | undefined;
  let badDigest: string | undefined;
  let stamp: string | undefined;
  let lastCheck: number | undefined;

  const keeping = () =>
    good.size > 0 ? 'keeping the last good overrides' : 'no overrides in effect (role table only)';

  function refresh(): void {
    const t = now();
    // A clock that went backwards checks at once rather than waiting for it to catch up.
    if (lastCheck !== undefined && t >= lastCheck && t - lastCheck < intervalMs) return;
    lastCheck = t;

    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      const code = errCode(err);
      if (code !== 'ENOTDIR') {
        if (stamp === `error:${code}`) return;
        stamp = `error:${code}`;
        warn(`tokenledger router: cannot read role overrides ${path} (${code}); ${keeping()}`);
        return;
      }
    }
    if (!st) {
      // Deleting the file is how an operator drops the overrides: back to the table.
      if (stamp === 'missing') return;
      stamp = 'missing';
      good = none;
      goodDigest = undefined;
      badDigest = undefined;
      warn(`tokenledger router: role overrides ${path} not found; using the role table only`);
      return;
    }
    if (!st.isFile()) {
      if (stamp === 'not-a-file') return;
      stamp = 'not-a-file';
      warn(`tokenledger router: role overrides ${path} is not a file; ${keeping()}`);
      return;
    }
    const next = `file:${st.mtimeMs}:${st.ctimeMs}:${st.size}:${st.ino}`;
    if (next === stamp) return;
    // The stamp is taken before the read: a write landing after it changes the stamp again.
    stamp = next;

    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      warn(`tokenledger router: cannot read role overrides ${path} (${errCode(err)}); ${keeping()}`);
      return;
    }
    const digest = createHash('sha256').update(text).digest('hex');
    if (digest === goodDigest || digest === badDigest) return;

    let problem: string;
    try {
      const parsed = v.safeParse(OverridesFileSchema, JSON.parse(text));
      if (parsed.success) {
        load(parsed.output.roles, digest);
        return;
      }
      problem = issueText(parsed.issues);
    } catch (err) {
      problem = `not valid JSON: ${(err as Error).message}`;
    }
    badDigest = digest;
    warn(`tokenledger router: role overrides ${path}: ${problem}; ${keeping()}`);
  }

  function load(roles: Record<string, OverrideEntry>, digest: string): void {
    const next = new Map<string, OverrideEntry>();
    for (const [role, entry] of Object.entries(roles)) {
      if (!table.has(role)) {
        warn(
          `tokenledger router: role overrides ${path}: roles.${role}: not a role of the table ` +
            `(known roles: ${[...table.keys()].sort().join(', ')}); ignored, an override cannot create a role`,
        );
        continue;
      }
      if (entry.model !== undefined || entry.effort !== undefined || entry.provider !== undefined) {
        next.set(role, entry);
      }
    }
    good = next;
    goodDigest = digest;
    badDigest = undefined;
  }

  return {
    current() {
      refresh();
      return good;
    },
  };
}

function buildRoute(role: string, spec: Readonly<RoleSpec>, o: OverrideEntry | undefined): Route {
  const route: Route = { role, model: o?.model ?? spec.model, source: o ? 'override' : 'table' };
  const effort = o?.effort ?? spec.effort;
  const provider = o?.provider ?? spec.provider;
  if (effort !== undefined) route.effort = effort;
  if (provider !== undefined) route.provider = provider;
  return route;
}

/**
 * Creates a router over a role table.
 *
 * The table is validated and copied (later changes to the caller's object have no effect); an
 * empty table, a role without a non-empty `model`, or a non-string `effort`/`provider` throws
 * `RoleTableError`.
 *
 * The overrides file (`overridesPath`), JSON, validated with valibot:
 * `{ "roles": { "<role>": { "model"?: string, "effort"?: string, "provider"?: string } } }`.
 * It is live: checked with one `statSync` at most every `reloadIntervalMs` (default 1000 ms, 0 =
 * every call) and re-read when its mtime, ctime, size or inode changed. It never throws:
 * - missing → the table alone; warned once each time the file goes missing, not on every call;
 * - unreadable, not JSON, or not the schema above → the last good overrides stay in effect (none
 *   if there never was a good one); warned once per distinct bad content;
 * - a role the table does not have → that entry is ignored with a warning (fail closed: the file
 *   cannot create roles); the file's other entries apply.
 * (A rewrite within the same clock tick that keeps the size and the inode may go unseen until the
 * next change.)
 *
 * @example
 * ```ts
 * const router = createRouter({
 *   roles: {
 *     fast: { model: 'claude-haiku-4-5', provider: 'anthropic' },
 *     deep: { model: 'claude-opus-4-1', effort: 'high', provider: 'anthropic' },
 *   },
 *   overridesPath: `${process.env.HOME}/.tokenledger/roles.json`,
 * });
 * router.route('fast'); // { role: 'fast', model: 'claude-haiku-4-5', provider: 'anthropic', source: 'table' }
 * router.route('fsat'); // throws UnknownRoleError (known roles: deep, fast)
 * ```
 */
export function createRouter(opts: RouterOptions): Router {
  const table = parseTable(opts.roles);
  const known = [...table.keys()];
  const onWarning = opts.onWarning ?? ((msg: string) => process.emitWarning(msg));
  const warn = (msg: string): void => {
    try {
      onWarning(msg);
    } catch {
      // A failing warning hook must not turn the fail-soft file into a failing route().
    }
  };
  const interval = Math.max(0, opts.reloadIntervalMs ?? 1000);
  const watcher =
    opts.overridesPath === undefined
      ? undefined
      : overridesWatcher(opts.overridesPath, table, warn, opts.now ?? Date.now, interval);
  // Read at creation, so a missing or broken file is reported at start-up, not on the first call.
  watcher?.current();

  return {
    route(role) {
      const spec = table.get(role);
      if (!spec) throw new UnknownRoleError(role, known);
      return buildRoute(role, spec, watcher?.current().get(role));
    },
    has(role) {
      return table.has(role);
    },
    roles() {
      const overrides = watcher?.current();
      const out: RoleTable = {};
      for (const [role, spec] of table) {
        const { role: _, source: __, ...effective } = buildRoute(role, spec, overrides?.get(role));
        out[role] = effective;
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Message routing: `!tag` > caller's patterns > default role
// ---------------------------------------------------------------------------------------------

/** A caller's rule: a message matching `pattern` goes to `role`. */
export interface RoutePattern {
  pattern: RegExp;
  role: string;
}

export interface MessageRouterOptions {
  router: Router;
  /** The role of a message that has no tag and matches no pattern. Must be a role of the table. */
  defaultRole: string;
  /** Tried in order after a tag; the first match wins. Every role must be a role of the table. */
  patterns?: RoutePattern[];
  /** What starts a tag. Default `!`. */
  tagPrefix?: string;
  /**
   * What a tag naming no role of the table does. `throw` (default): `UnknownRoleError`, fail
   * closed: a user asking for `!deeep` must not silently get the cheap model. `ignore`: the token
   * is left in the text as it is and routing goes on as if it were not a tag (for free text where
   * `!word` is common).
   */
  unknownTag?: 'throw' | 'ignore';
}

/** Per-call hints from the caller. */
export interface RouteMessageOptions {
  /** Tried before the router's own patterns (and after a tag). */
  patterns?: RoutePattern[];
  /** Replaces the router's default role for this message. */
  defaultRole?: string;
}

export interface RoutedMessage {
  route: Route;
  /** The message with the tag removed (the tag and the whitespace after it), then trimmed. */
  text: string;
  /** What decided the role. */
  reason: 'tag' | 'pattern' | 'default';
  /** The tag's role (`reason: 'tag'`) or the matching pattern (`reason: 'pattern'`). */
  matched?: string | RegExp;
}

export interface MessageRouter {
  /**
   * Routes one message.
   * @throws UnknownRoleError for a tag naming no role (unless `unknownTag: 'ignore'`) or a per-call
   * pattern/default role not in the table.
   */
  routeMessage(text: string, opts?: RouteMessageOptions): RoutedMessage;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function checkPatterns(router: Router, patterns: readonly RoutePattern[], where: string): void {
  for (const [i, p] of patterns.entries()) {
    if (!(p?.pattern instanceof RegExp)) throw new TypeError(`${where}[${i}].pattern must be a RegExp`);
    if (!router.has(p.role)) throw new UnknownRoleError(p.role, Object.keys(router.roles()));
  }
}

/**
 * Picks a role for a user message, in this order:
 * 1. a **tag**: a whitespace-delimited token `!role` anywhere in the text (`!deep why is the build
 *    failing`, `please !deep look`). The role name starts with a letter and goes on with letters,
 *    digits, `_` or `-`, and the token ends at whitespace or the end of the text: `a!b`, `!!`,
 *    `(!deep)` and `!deep,` are not tags. Role names match case-sensitively. Only the first tag
 *    counts; it is removed together with the whitespace after it, the rest of the text is kept as
 *    it is, and the result is trimmed (`'please !deep  look'` → `'please look'`);
 * 2. the caller's **patterns**: per-call ones, then the router's, in order; the first whose regular
 *    expression matches the (trimmed) text wins (`String#search`, so `g`/`y` flags and `lastIndex`
 *    do not make matching stateful);
 * 3. the **default role** (per-call, else the router's).
 *
 * Fail closed: `defaultRole` and every pattern's role are checked at creation (`UnknownRoleError`),
 * and by default a tag naming no role throws `UnknownRoleError` rather than falling through to a
 * cheaper model. The caller decides what to tell the user.
 *
 * @example
 * ```ts
 * const messages = createMessageRouter({
 *   router,
 *   defaultRole: 'fast',
 *   patterns: [{ pattern: /\b(stack trace|segfault)\b/i, role: 'deep' }],
 * });
 * messages.routeMessage('!deep why is the build failing');
 * // { route: { role: 'deep', model: 'claude-opus-4-1', … }, text: 'why is the build failing', reason: 'tag', … }
 * messages.routeMessage('here is the segfault'); // reason 'pattern', role 'deep'
 * messages.routeMessage('hello');                // reason 'default', role 'fast'
 * messages.routeMessage('!deeep hello');         // throws UnknownRoleError
 * ```
 */
export function createMessageRouter(opts: MessageRouterOptions): MessageRouter {
  const { router, defaultRole } = opts;
  const patterns = [...(opts.patterns ?? [])];
  const prefix = opts.tagPrefix ?? '!';
  const unknownTag = opts.unknownTag ?? 'throw';
  if (prefix.length === 0 || /\s/.test(prefix)) {
    throw new TypeError('tagPrefix must be a non-empty string without whitespace');
  }
  if (!router.has(defaultRole)) throw new UnknownRoleError(defaultRole, Object.keys(router.roles()));
  checkPatterns(router, patterns, 'patterns');
  // Not preceded by a non-space (start of text or whitespace); group 1: the role; then the whitespace
  // after the token, removed with it. A lookbehind, so "!a !b" finds both tokens.
  const tagRe = new RegExp(`(?<!\\S)${escapeRegExp(prefix)}(\\p{L}[\\p{L}\\p{N}_-]*)(?=\\s|$)\\s*`, 'gu');

  return {
    routeMessage(text, callOpts = {}) {
      for (const m of text.matchAll(tagRe)) {
        const role = m[1]!;
        if (!router.has(role)) {
          if (unknownTag === 'ignore') continue;
          throw new UnknownRoleError(role, Object.keys(router.roles()));
        }
        const stripped = text.slice(0, m.index) + text.slice(m.index + m[0].length);
        return { route: router.route(role), text: stripped.trim(), reason: 'tag', matched: role };
      }
      const body = text.trim();
      const callPatterns = callOpts.patterns ?? [];
      checkPatterns(router, callPatterns, 'opts.patterns');
      for (const p of [...callPatterns, ...patterns]) {
        if (body.search(p.pattern) !== -1) {
          return { route: router.route(p.role), text: body, reason: 'pattern', matched: p.pattern };
        }
      }
      return { route: router.route(callOpts.defaultRole ?? defaultRole), text: body, reason: 'default' };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Recording the route on the meter's events
// ---------------------------------------------------------------------------------------------

/** The tags a routed call carries on its events. */
export interface RouteTags extends Record<string, string> {
  role: string;
  model: string;
}

/**
 * The meter scope attributes that record a route on every event of a call: pass them to the
 * meter's `run()`, and the events recorded inside carry `attribution.tags.role`, `.model` (the
 * routed model; the event's own `model` is what the provider reports) and `.effort` when set.
 * `trafficByRole` then sums the ledger's events per role for `savingsEstimate`.
 *
 * @example
 * ```ts
 * const r = router.route('deep');
 * await meter.run({ ...routeAttributes(r), task: 'triage' }, () =>
 *   client.messages.create({ model: r.model, … }),
 * );
 * // events: attribution.tags = { role: 'deep', model: 'claude-opus-4-1', effort: 'high' }
 * ```
 */
export function routeAttributes(route: Route): { tags: RouteTags } {
  const tags: RouteTags = { role: route.role, model: route.model };
  if (route.effort !== undefined) tags.effort = route.effort;
  return { tags };
}
