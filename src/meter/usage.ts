import { isObj, type Rec } from '../core/json.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';

/**
 * Pure converters from provider responses (as the SDKs return them) to the disjoint
 * `UsageBuckets` of `src/core/usage.ts`. No I/O, and no import of any SDK: the shapes below are
 * structural, so an `@anthropic-ai/sdk` `Message`, an `openai` `ChatCompletion`/`Response` or a
 * Vercel AI SDK usage object is accepted as it is, and the meter works without the SDKs installed.
 *
 * Every converter returns `null` when the object carries no usage (no `usage` object, or one with
 * no token count in it). Zeros are never invented for a missing usage: a caller that gets `null`
 * knows the provider said nothing and must estimate, not record a free call.
 *
 * Bad numbers, the same rules everywhere (see `tokenCount`):
 * - absent, `null`, `NaN`, ±Infinity or not a number → the field is absent;
 * - negative → 0 (a count cannot be below zero);
 * - non-integer → rounded to the nearest integer (a proxy's float arithmetic, e.g. 12.000001);
 * - above `Number.MAX_SAFE_INTEGER` → clamped to it (sums must stay exact).
 * Impossible combinations are clamped where they are met (cached > prompt, reasoning > output,
 * a TTL split larger than the cache-write total); each rule is documented at its converter.
 */

// ---------------------------------------------------------------------------------------------
// Structural shapes (the fields read here; everything else on the SDK objects is ignored)
// ---------------------------------------------------------------------------------------------

type Num = number | null | undefined;

/** Anthropic Messages `usage` (also `message_delta.usage`, whose input/cache fields may be null). */
export interface AnthropicUsageLike {
  input_tokens?: Num;
  output_tokens?: Num;
  cache_creation_input_tokens?: Num;
  cache_read_input_tokens?: Num;
  cache_creation?: { ephemeral_5m_input_tokens?: Num; ephemeral_1h_input_tokens?: Num } | null;
  output_tokens_details?: { thinking_tokens?: Num } | null;
  server_tool_use?: { web_search_requests?: Num } | null;
}

export interface AnthropicMessageLike {
  usage?: AnthropicUsageLike | null;
}

/** One Anthropic stream event (`RawMessageStreamEvent` and the beta variants fit). */
export interface AnthropicStreamEventLike {
  type: string;
  message?: AnthropicMessageLike | null;
  usage?: AnthropicUsageLike | null;
}

/** OpenAI Chat Completions `usage` (`CompletionUsage`). */
export interface OpenAIChatUsageLike {
  prompt_tokens?: Num;
  completion_tokens?: Num;
  total_tokens?: Num;
  prompt_tokens_details?: { cached_tokens?: Num } | null;
  completion_tokens_details?: { reasoning_tokens?: Num } | null;
}

/** A `ChatCompletion` or a `ChatCompletionChunk`. */
export interface OpenAIChatLike {
  usage?: OpenAIChatUsageLike | null;
}

/** OpenAI Responses `usage` (`ResponseUsage`). */
export interface OpenAIResponseUsageLike {
  input_tokens?: Num;
  output_tokens?: Num;
  total_tokens?: Num;
  input_tokens_details?: { cached_tokens?: Num } | null;
  output_tokens_details?: { reasoning_tokens?: Num } | null;
}

export interface OpenAIResponseLike {
  usage?: OpenAIResponseUsageLike | null;
}

/** One OpenAI Responses stream event (`ResponseStreamEvent` fits). */
export interface OpenAIResponseEventLike {
  type: string;
  response?: OpenAIResponseLike | null;
}

/** Vercel AI SDK v5 `LanguageModelV2Usage` (= `ai@5` `LanguageModelUsage`): flat numbers. */
export interface AiSdkV2UsageLike {
  inputTokens?: Num;
  outputTokens?: Num;
  totalTokens?: Num;
  reasoningTokens?: Num;
  cachedInputTokens?: Num;
}

/** Vercel AI SDK v6 provider-level `LanguageModelV3Usage`: nested input/output objects. */
export interface AiSdkV3UsageLike {
  inputTokens: { total?: Num; noCache?: Num; cacheRead?: Num; cacheWrite?: Num } | null | undefined;
  outputTokens?: { total?: Num; text?: Num; reasoning?: Num } | null;
}

/** Vercel AI SDK v6 `ai` `LanguageModelUsage`: flat totals plus detail objects. */
export interface AiSdkV6UsageLike extends AiSdkV2UsageLike {
  inputTokenDetails?: { noCacheTokens?: Num; cacheReadTokens?: Num; cacheWriteTokens?: Num } | null;
  outputTokenDetails?: { textTokens?: Num; reasoningTokens?: Num } | null;
}

export type AiSdkUsageLike = AiSdkV2UsageLike | AiSdkV3UsageLike | AiSdkV6UsageLike;

export interface AiSdkUsageOptions {
  /**
   * The model's `provider` id (`LanguageModelV2.provider`, e.g. `anthropic.messages`). AI SDK v5's
   * Anthropic provider reports `inputTokens` EXCLUSIVE of cache reads (Anthropic's own
   * convention) while the other providers include them; the flat v2 shape cannot say which, so a
   * provider starting with `anthropic` is read as exclusive.
   */
  provider?: string;
  /**
   * The call's `providerMetadata`. With the v5 Anthropic provider, cache writes are only there
   * (`anthropic.cacheCreationInputTokens`); they are added to the 5-minute bucket (no TTL split).
   */
  providerMetadata?: Record<string, unknown> | null;
}

// ---------------------------------------------------------------------------------------------
// Number guards
// ---------------------------------------------------------------------------------------------

/** `isObj` without narrowing, so a typed argument keeps its type. */
const isObject = (x: unknown): boolean => isObj(x);

/**
 * A token count as reported, or `undefined` when the field says nothing. Rules (module doc):
 * not a finite number → absent; negative → 0; fractional → rounded; > MAX_SAFE_INTEGER → clamped.
 */
export function tokenCount(x: unknown): number | undefined {
  if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
  if (x <= 0) return 0;
  return Math.min(Math.round(x), Number.MAX_SAFE_INTEGER);
}

const field = (o: unknown, key: string): number | undefined => (isObj(o) ? tokenCount(o[key]) : undefined);

const anyDefined = (...xs: (number | undefined)[]): boolean => xs.some((x) => x !== undefined);

/**
 * Input that includes its cache reads (OpenAI, Gemini, AI SDK) → uncached input.
 * Rule (the OTLP rule of `src/sources/otlp.ts`): when cached > prompt, the prompt cannot include
 * the cache, so it is taken as exclusive (uncached = prompt) rather than going negative; the
 * cached count is kept as reported. Otherwise uncached = prompt − cached.
 */
function uncachedOf(inclusive: number, cached: number): number {
  return cached > inclusive ? inclusive : inclusive - cached;
}

/** Reasoning is a display-only subset of output: clamped so it never exceeds what it is part of. */
const subset = (reasoning: number | undefined, output: number): number => Math.min(reasoning ?? 0, output);

// ---------------------------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------------------------

/**
 * Anthropic `usage` → buckets; `null` when no token count is present.
 *
 * `input_tokens` is uncached input only. `cache_creation_input_tokens` is every cache write; the
 * `cache_creation` split says which part is 1-hour. The total is what was billed, so it wins:
 * 1h = min(split 1h, total), 5m = total − 1h (a split that does not add up never changes the
 * total). With no total, the total is the split's sum. `output_tokens` includes thinking;
 * `output_tokens_details.thinking_tokens` becomes the display-only `reasoningTokens`.
 */
export function usageFromAnthropicUsage(u: AnthropicUsageLike | null | undefined): UsageBuckets | null {
  if (!isObj(u)) return null;
  const input = tokenCount(u.input_tokens);
  const output = tokenCount(u.output_tokens);
  const read = tokenCount(u.cache_read_input_tokens);
  const writeTotal = tokenCount(u.cache_creation_input_tokens);
  const split = u.cache_creation;
  const w5 = field(split, 'ephemeral_5m_input_tokens');
  const w1 = field(split, 'ephemeral_1h_input_tokens');
  if (!anyDefined(input, output, read, writeTotal, w5, w1)) return null;
  const usage = emptyUsage();
  usage.inputTokens = input ?? 0;
  usage.outputTokens = output ?? 0;
  usage.cacheReadTokens = read ?? 0;
  const write = writeTotal ?? (w5 ?? 0) + (w1 ?? 0);
  usage.cacheWrite1hTokens = Math.min(w1 ?? 0, write);
  usage.cacheWrite5mTokens = write - usage.cacheWrite1hTokens;
  usage.reasoningTokens = subset(field(u.output_tokens_details, 'thinking_tokens'), usage.outputTokens);
  usage.webSearchRequests = field(u.server_tool_use, 'web_search_requests') ?? 0;
  return usage;
}

/** An Anthropic `Message` (Messages API response) → buckets; `null` without usage. */
export function usageFromAnthropicMessage(
  message: AnthropicMessageLike | null | undefined,
): UsageBuckets | null {
  return message && isObject(message) ? usageFromAnthropicUsage(message.usage) : null;
}

/**
 * Folds an Anthropic Messages stream, fed its events in order, into what was billed so far.
 *
 * - `message_start` carries `message.usage`: input, cache reads/writes (with the TTL split) and an
 *   initial `output_tokens`.
 * - `message_delta.usage.output_tokens` is CUMULATIVE: each value replaces the previous one
 *   (never added to it).
 * - Newer APIs also put input/cache fields on `message_delta` (cumulative too; `null` when not
 *   sent): a present value is taken the same way.
 * - A cumulative count cannot shrink: a later value below the current one (some compatible
 *   servers send input 0 on `message_delta`; a bad number clamps to 0) is not taken, so it never
 *   erases tokens already billed.
 * - Every other event (content blocks, `ping`, `error`, `message_stop`) carries no usage.
 *
 * `usage()` is the usage billed up to the last event fed, so an aborted stream still yields the
 * input and the output generated before the abort. It is `null` until an event with usage arrives.
 */
export class AnthropicStreamUsage {
  private state: AnthropicUsageLike | undefined;
  private stopped = false;

  /** Feeds one event; returns `this` so events can be chained or folded with `reduce`. */
  push(event: AnthropicStreamEventLike | null | undefined): this {
    if (!isObj(event)) return this;
    if (event.type === 'message_start') {
      const u = isObj(event.message) ? event.message.usage : undefined;
      if (isObj(u)) this.state = { ...u };
    } else if (event.type === 'message_delta') {
      const u = event.usage;
      if (isObj(u)) this.applyDelta(u);
    } else if (event.type === 'message_stop') {
      this.stopped = true;
    }
    return this;
  }

  private applyDelta(u: AnthropicUsageLike): void {
    const s: AnthropicUsageLike = this.state ?? {};
    this.state = s;
    for (const k of [
      'output_tokens',
      'input_tokens',
      'cache_read_input_tokens',
      'cache_creation_input_tokens',
    ] as const) {
      const v = tokenCount(u[k]);
      if (v !== undefined) s[k] = Math.max(v, tokenCount(s[k]) ?? 0);
    }
    if (isObj(u.cache_creation)) s.cache_creation = u.cache_creation;
    if (isObj(u.server_tool_use)) s.server_tool_use = u.server_tool_use;
    if (isObj(u.output_tokens_details)) s.output_tokens_details = u.output_tokens_details;
  }

  /** What was billed so far; `null` when no event has carried usage yet. */
  usage(): UsageBuckets | null {
    return this.state ? usageFromAnthropicUsage(this.state) : null;
  }

  /** True once `message_stop` was seen: the stream ran to its end, `usage()` is final. */
  get complete(): boolean {
    return this.stopped;
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI
// ---------------------------------------------------------------------------------------------

/**
 * OpenAI Chat Completions `usage` → buckets; `null` when no token count is present.
 *
 * `prompt_tokens` INCLUDES `prompt_tokens_details.cached_tokens`: uncached = prompt − cached,
 * cacheRead = cached (cached > prompt: prompt taken as exclusive, see `uncachedOf`).
 * `completion_tokens` includes reasoning; `reasoning_tokens` is the display-only subset.
 * `prompt_tokens_details.cache_write_tokens` is deliberately NOT split out: OpenAI documents it as
 * "unadjusted", and no OpenAI price has a cache-write rate, so it stays in uncached input, which
 * is how it is billed. With no prompt/completion split but a `total_tokens`, the total is kept as
 * unsplit tokens rather than dropped.
 */
export function usageFromOpenAIChatUsage(u: OpenAIChatUsageLike | null | undefined): UsageBuckets | null {
  if (!isObj(u)) return null;
  return openAIBuckets(
    tokenCount(u.prompt_tokens),
    field(u.prompt_tokens_details, 'cached_tokens'),
    tokenCount(u.completion_tokens),
    field(u.completion_tokens_details, 'reasoning_tokens'),
    tokenCount(u.total_tokens),
  );
}

/**
 * A `ChatCompletion`, or a streamed `ChatCompletionChunk` → buckets; `null` without usage. In a
 * stream, usage comes only when the request asked `stream_options: { include_usage: true }`, on
 * the final chunk (its `choices` is empty); every other chunk has `usage: null` or none → `null`.
 * A stream cut before that chunk has no usage to read: `null`, and the caller must estimate.
 */
export function usageFromOpenAIChat(completion: OpenAIChatLike | null | undefined): UsageBuckets | null {
  return completion && isObject(completion) ? usageFromOpenAIChatUsage(completion.usage) : null;
}

/** Stream helper: the usage of one Chat Completions chunk, `null` for all but the final usage chunk. */
export const usageFromOpenAIChatChunk = usageFromOpenAIChat;

/**
 * OpenAI Responses `usage` → buckets. `input_tokens` includes `input_tokens_details.cached_tokens`;
 * `output_tokens` includes `output_tokens_details.reasoning_tokens`. Same rules as Chat.
 */
export function usageFromOpenAIResponseUsage(
  u: OpenAIResponseUsageLike | null | undefined,
): UsageBuckets | null {
  if (!isObj(u)) return null;
  return openAIBuckets(
    tokenCount(u.input_tokens),
    field(u.input_tokens_details, 'cached_tokens'),
    tokenCount(u.output_tokens),
    field(u.output_tokens_details, 'reasoning_tokens'),
    tokenCount(u.total_tokens),
  );
}

/** A Responses API `Response` → buckets; `null` without usage (e.g. a response still in progress). */
export function usageFromOpenAIResponse(
  response: OpenAIResponseLike | null | undefined,
): UsageBuckets | null {
  return response && isObject(response) ? usageFromOpenAIResponseUsage(response.usage) : null;
}

/** Responses stream events that end a response and carry its final `response.usage`. */
export const OPENAI_RESPONSE_FINAL_EVENTS: ReadonlySet<string> = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
]);

/**
 * Stream helper: the usage of one Responses stream event. Only the terminal events
 * (`response.completed`, `response.incomplete` — e.g. max_output_tokens reached — and
 * `response.failed`) carry the billed usage; every other event → `null`.
 */
export function usageFromOpenAIResponseEvent(
  event: OpenAIResponseEventLike | null | undefined,
): UsageBuckets | null {
  if (!isObj(event) || !OPENAI_RESPONSE_FINAL_EVENTS.has(event.type)) return null;
  return usageFromOpenAIResponse(event.response);
}

/**
 * Stream helper for either OpenAI API: a Responses event (a `type` starting with `response.`) or
 * a Chat Completions chunk (anything else with a `usage` field).
 */
export function usageFromOpenAIStreamEvent(
  event: OpenAIResponseEventLike | OpenAIChatLike | null | undefined,
): UsageBuckets | null {
  if (!event || !isObject(event)) return null;
  const type = (event as { type?: unknown }).type;
  if (typeof type === 'string' && type.startsWith('response.'))
    return usageFromOpenAIResponseEvent(event as OpenAIResponseEventLike);
  return usageFromOpenAIChat(event as OpenAIChatLike);
}

function openAIBuckets(
  prompt: number | undefined,
  cached: number | undefined,
  completion: number | undefined,
  reasoning: number | undefined,
  total: number | undefined,
): UsageBuckets | null {
  if (!anyDefined(prompt, cached, completion, reasoning, total)) return null;
  const usage = emptyUsage();
  if (prompt === undefined && completion === undefined && total !== undefined) {
    // Only a total: its kind is unknown. Kept (priced as an estimate), never dropped.
    usage.unsplitTokens = total;
    return usage;
  }
  const read = cached ?? 0;
  usage.inputTokens = uncachedOf(prompt ?? 0, read);
  usage.cacheReadTokens = read;
  usage.outputTokens = completion ?? 0;
  usage.reasoningTokens = subset(reasoning, usage.outputTokens);
  return usage;
}

// ---------------------------------------------------------------------------------------------
// Vercel AI SDK
// ---------------------------------------------------------------------------------------------

/**
 * Vercel AI SDK usage → buckets; `null` when no token count is present. Three shapes:
 *
 * - v6 provider `LanguageModelV3Usage` (`inputTokens: { total, noCache, cacheRead, cacheWrite }`,
 *   `outputTokens: { total, text, reasoning }`), as a `wrapLanguageModel` middleware sees it;
 * - v6 `ai` `LanguageModelUsage` (flat `inputTokens` = total input, `inputTokenDetails`,
 *   `outputTokenDetails`), as `generateText`/`streamText` results give it;
 * - v5 `LanguageModelV2Usage` (flat `inputTokens`, `outputTokens`, `totalTokens`,
 *   `reasoningTokens`, `cachedInputTokens`).
 *
 * Rules:
 * - Uncached input: `noCache` when given; else total input − cache reads − cache writes, or the
 *   total itself when the cache exceeds it (taken as exclusive, the OTLP rule).
 * - v5 Anthropic (`options.provider` starting with `anthropic`) reports input exclusive of cache:
 *   taken as uncached as is; its cache writes come from `options.providerMetadata`.
 * - Cache writes have no TTL in the AI SDK: they go to the 5-minute bucket.
 * - Output includes reasoning; `reasoningTokens` is the display-only subset. One exception, v5:
 *   the Google provider reported `outputTokens` WITHOUT thoughts while `totalTokens` included
 *   them. When total = input + output + reasoning exactly (reasoning > 0), reasoning was not in
 *   output and is added to it, so the billed total is kept.
 * - Only a `totalTokens`, no split: kept as unsplit tokens.
 */
export function usageFromAiSdk(
  usage: AiSdkUsageLike | null | undefined,
  options: AiSdkUsageOptions = {},
): UsageBuckets | null {
  if (!isObj(usage)) return null;
  const u = usage as Rec;
  if (isObj(u.inputTokens) || isObj(u.outputTokens)) return aiSdkV3(u);
  if (isObj(u.inputTokenDetails) || isObj(u.outputTokenDetails)) return aiSdkV6(u);
  return aiSdkV2(u, options);
}

interface AiSdkParts {
  total?: number | undefined;
  noCache?: number | undefined;
  cacheRead?: number | undefined;
  cacheWrite?: number | undefined;
  output?: number | undefined;
  text?: number | undefined;
  reasoning?: number | undefined;
  allTokens?: number | undefined;
}

function aiSdkV3(u: Rec): UsageBuckets | null {
  const i = u.inputTokens;
  const o = u.outputTokens;
  return aiSdkBuckets({
    total: field(i, 'total'),
    noCache: field(i, 'noCache'),
    cacheRead: field(i, 'cacheRead'),
    cacheWrite: field(i, 'cacheWrite'),
    output: field(o, 'total'),
    text: field(o, 'text'),
    reasoning: field(o, 'reasoning'),
  });
}

function aiSdkV6(u: Rec): UsageBuckets | null {
  const i = u.inputTokenDetails;
  const o = u.outputTokenDetails;
  return aiSdkBuckets({
    total: tokenCount(u.inputTokens),
    noCache: field(i, 'noCacheTokens'),
    // The deprecated flat `cachedInputTokens` stands in when the details omit cache reads.
    cacheRead: field(i, 'cacheReadTokens') ?? tokenCount(u.cachedInputTokens),
    cacheWrite: field(i, 'cacheWriteTokens'),
    output: tokenCount(u.outputTokens),
    text: field(o, 'textTokens'),
    reasoning: field(o, 'reasoningTokens') ?? tokenCount(u.reasoningTokens),
    allTokens: tokenCount(u.totalTokens),
  });
}

function aiSdkV2(u: Rec, options: AiSdkUsageOptions): UsageBuckets | null {
  const input = tokenCount(u.inputTokens);
  const cached = tokenCount(u.cachedInputTokens);
  let output = tokenCount(u.outputTokens);
  const reasoning = tokenCount(u.reasoningTokens);
  const all = tokenCount(u.totalTokens);
  if (
    output !== undefined &&
    reasoning !== undefined &&
    reasoning > 0 &&
    all !== undefined &&
    all === (input ?? 0) + output + reasoning
  )
    output += reasoning; // reasoning was reported beside output, not inside it (v5 Google)
  if (options.provider?.startsWith('anthropic')) {
    const meta = options.providerMetadata?.anthropic;
    const write = field(meta, 'cacheCreationInputTokens');
    return aiSdkBuckets({
      noCache: input,
      cacheRead: cached,
      cacheWrite: write,
      output,
      reasoning,
      allTokens: all,
    });
  }
  return aiSdkBuckets({ total: input, cacheRead: cached, output, reasoning, allTokens: all });
}

function aiSdkBuckets(p: AiSdkParts): UsageBuckets | null {
  const output =
    p.output ?? (anyDefined(p.text, p.reasoning) ? (p.text ?? 0) + (p.reasoning ?? 0) : undefined);
  if (!anyDefined(p.total, p.noCache, p.cacheRead, p.cacheWrite, output, p.allTokens)) return null;
  const usage = emptyUsage();
  if (!anyDefined(p.total, p.noCache, p.cacheRead, p.cacheWrite, output) && p.allTokens !== undefined) {
    usage.unsplitTokens = p.allTokens;
    return usage;
  }
  const read = p.cacheRead ?? 0;
  const write = p.cacheWrite ?? 0;
  usage.inputTokens = p.noCache ?? uncachedOf(p.total ?? 0, read + write);
  usage.cacheReadTokens = read;
  usage.cacheWrite5mTokens = write;
  usage.outputTokens = output ?? 0;
  usage.reasoningTokens = subset(p.reasoning, usage.outputTokens);
  return usage;
}
