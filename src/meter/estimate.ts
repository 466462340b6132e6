import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { arr, isObj, type Rec } from '../core/json.js';
import type { NanoUsd } from '../core/money.js';
import {
  type PriceBook,
  type PriceQuote,
  type RateCard,
  ratesFor,
  ratesFromPerMTok,
} from '../core/pricing.js';
import { emptyUsage } from '../core/usage.js';
import { tokenCount } from './usage.js';

/**
 * Worst-case estimates of a provider call, made BEFORE the call so a budget can reserve its
 * maximum cost atomically (and release the unused part once the real usage is known).
 *
 * The four `size…` functions read a request body as the SDKs send it (no SDK import: the shapes
 * are read structurally, like `usage.ts`) and return its {@link RequestSize}: input tokens counted
 * with the o200k tokenizer (`gpt-tokenizer`) times a per-provider margin, plus fixed counts for
 * media and per-message framing, and the output cap. `worstCaseNano` prices that size at the
 * model's rates. Estimates err high on purpose: a reservation that is too large is released after
 * the call; one that is too small lets a budget be overrun.
 *
 * Speed: at most ~8k characters are tokenized per call (see {@link EstimateOptions.exactCountChars});
 * a larger prompt is measured on evenly spread samples, so a 100 kB prompt costs ~1.5 ms, not the
 * ~13–17 ms that tokenizing all of it takes (gpt-tokenizer, Node 20). Text parts are counted as
 * they are; only tool schemas and structured parts are `JSON.stringify`-ed, each once.
 */

// ---------------------------------------------------------------------------------------------
// Public types and defaults
// ---------------------------------------------------------------------------------------------

/** What a request can cost at most, in tokens. */
export interface RequestSize {
  /** Input-side tokens (prompt, tools, media, framing), tokenizer margin included. */
  inputTokens: number;
  /** Output tokens the call may bill at most: the request's cap × choices (`n`). */
  maxOutputTokens: number;
  /** False when the request sets no cap and `maxOutputTokens` is the default. */
  outputCapKnown: boolean;
  /** The longest cache-write TTL the request asks for (`cache_control`); `none` without one. */
  cacheWrite: 'none' | '5m' | '1h';
  /** Why the estimate may be low, e.g. server-held context (`previous_response_id`) it cannot see. */
  note?: string;
}

export interface EstimateOptions {
  /**
   * Multiplier on o200k counts for providers whose tokenizer differs. Defaults: 1.35 for Anthropic
   * (Claude's tokenizer yields more tokens than o200k, newer Claude models up to ~35% more), 1.0
   * for OpenAI (o200k is its tokenizer), 1.1 for other AI SDK providers (unknown tokenizer); see
   * {@link sizeAiSdkCall} for how its provider is told.
   */
  tokenizerMargin?: number;
  /** Output cap when the request sets none (default 32_000), reported as `outputCapKnown: false`. */
  defaultMaxOutputTokens?: number;
  /**
   * Tokens per image (default 3_000). Documented maxima: Anthropic ≈ 1,600 (width × height / 750
   * after resizing to ≤ 1.15 MP); OpenAI tile models (gpt-4o) ≤ 1,445 at high detail
   * (85 + 170 × 8 tiles); patch models ≤ 1,536 patches × 1.62–1.72 (gpt-4.1-mini, o4-mini)
   * ≈ 2,640. 3,000 rounds the largest up. Exception: gpt-4o-mini bills images as 2,833 +
   * 5,667 per tile (its cheap tokens priced like gpt-4o's), so raise this for gpt-4o-mini images.
   */
  imageTokens?: number;
  /**
   * Tokens per document or file whose text cannot be read here: a PDF, a file id, a URL
   * (default 5_000). Anthropic documents 1,500–3,000 text tokens per PDF page plus the page as an
   * image (≤ ~1,600): 5,000 covers one dense page. Multi-page documents need a larger figure.
   */
  documentTokens?: number;
  /**
   * Tokens per audio clip (default 3_000): about five minutes at the ~10 tokens per second
   * (600 per minute) gpt-4o audio input is billed at. Longer recordings need a larger figure.
   */
  audioTokens?: number;
  /**
   * Up to this many characters of text (default 8_192, ~1 ms of tokenizing) are counted exactly;
   * above it, 256-character windows spread evenly over the text (as many as fit in this budget)
   * are counted and scaled to the whole, ×1.1 for the sampling error (measured within about ±7%
   * on code, prose, JSON, CJK and base64). `Infinity` counts everything exactly.
   */
  exactCountChars?: number;
}

/** Options of {@link sizeAiSdkCall}: which provider the AI SDK model is, for the tokenizer margin. */
export interface AiSdkEstimateOptions extends EstimateOptions {
  /** `LanguageModelV3.provider`, e.g. `anthropic.messages`, `openai.responses`. */
  provider?: string;
  /** `LanguageModelV3.modelId`, e.g. `claude-sonnet-4-5` (a Claude model on Bedrock or Vertex). */
  modelId?: string;
}

const DEFAULTS = {
  defaultMaxOutputTokens: 32_000,
  imageTokens: 3_000,
  documentTokens: 5_000,
  audioTokens: 3_000,
  exactCountChars: 8_192,
};

/** Claude's tokenizer yields up to ~35% more tokens than o200k on the same text. */
export const ANTHROPIC_TOKENIZER_MARGIN = 1.35;
/** AI SDK providers that are neither OpenAI nor Anthropic: tokenizer unknown, hedge by 10%. */
const OTHER_TOKENIZER_MARGIN = 1.1;

// Framing: OpenAI's cookbook counts 3 tokens per message plus its role, and 3 priming the reply.
// Anthropic does not publish its framing; the same figures are used, before any margin.
const REQUEST_OVERHEAD = 3;
const MESSAGE_OVERHEAD = 4;
// Anthropic adds a tool-use system prompt whenever tools are sent: 346 tokens for Claude 4 models
// with tool_choice auto/none (313 for any/tool), per its tool-use pricing docs.
const ANTHROPIC_TOOLS_PROMPT = 346;
// OpenAI renders function definitions into a hidden namespace: a dozen tokens plus a few per tool.
const OPENAI_TOOLS_OVERHEAD = 12;
const OPENAI_TOOL_OVERHEAD = 8;

const SAMPLE_WINDOW = 256;
const SAMPLE_SAFETY = 1.1;

/**
 * The rates used when the price book does not know the model: Claude Opus 4 list prices
 * ($15 in / $75 out / $1.50 cache read / $18.75 5-minute write / $30 1-hour write per MTok), so an
 * unknown model is reserved at a flagship's price and never bypasses a budget. A few premium
 * models cost more (o1-pro, gpt-5-pro…): give them a price override, or pass `unknownModelCard`.
 */
export const CONSERVATIVE_UNKNOWN_CARD: RateCard = Object.freeze({
  base: Object.freeze(
    ratesFromPerMTok({ input: 15, output: 75, cacheRead: 1.5, cacheWrite5m: 18.75, cacheWrite1h: 30 }),
  ),
  tiers: Object.freeze([]) as unknown as RateCard['tiers'],
});

// ---------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------

// Text sent by users may contain `<|endoftext|>` and friends: count them as text instead of the
// library's default of throwing.
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

function o200k(text: string): number {
  try {
    return countTokens(text, PLAIN_TEXT);
  } catch {
    // Never fail an estimate: one token per UTF-16 unit is more than BPE ever yields for text.
    return text.length;
  }
}

/** o200k tokens of `pieces` (exactly, or from samples above `exactChars` characters in all). */
function countPieces(pieces: readonly string[], chars: number, exactChars: number): number {
  let tokens = 0;
  if (chars <= exactChars) {
    for (const p of pieces) tokens += o200k(p);
    return tokens;
  }
  // Windows centred at (i + ½)·chars/k of the pieces laid end to end; a window running past the
  // end of a piece continues into the next one (each slice counted on its own).
  const k = Math.max(1, Math.floor(exactChars / SAMPLE_WINDOW));
  let sampled = 0;
  let piece = 0;
  let pieceStart = 0;
  for (let i = 0; i < k; i++) {
    const centre = Math.floor(((i + 0.5) * chars) / k);
    let at = Math.max(0, Math.min(centre - SAMPLE_WINDOW / 2, chars - SAMPLE_WINDOW));
    while (pieceStart + pieces[piece]!.length <= at) pieceStart += pieces[piece++]!.length;
    let need = SAMPLE_WINDOW;
    let j = piece;
    let start = pieceStart;
    while (need > 0 && j < pieces.length) {
      const p = pieces[j]!;
      const slice = p.slice(at - start, at - start + need);
      if (slice.length > 0) {
        tokens += o200k(slice);
        sampled += slice.length;
        need -= slice.length;
        at += slice.length;
      }
      start += p.length;
      j++;
    }
  }
  return sampled === 0 ? 0 : Math.ceil(((tokens * chars) / sampled) * SAMPLE_SAFETY);
}

// ---------------------------------------------------------------------------------------------
// Tally: what a walk over a request finds
// ---------------------------------------------------------------------------------------------

type Media = 'image' | 'document' | 'audio';

interface Settings {
  margin: number;
  defaultMaxOutputTokens: number;
  imageTokens: number;
  documentTokens: number;
  audioTokens: number;
  exactCountChars: number;
}

function settings(opts: EstimateOptions, margin: number): Settings {
  const pos = (x: number | undefined, d: number) => (typeof x === 'number' && x >= 0 ? x : d);
  return {
    margin:
      typeof opts.tokenizerMargin === 'number' && opts.tokenizerMargin > 0 ? opts.tokenizerMargin : margin,
    defaultMaxOutputTokens: tokenCount(opts.defaultMaxOutputTokens) ?? DEFAULTS.defaultMaxOutputTokens,
    imageTokens: tokenCount(opts.imageTokens) ?? DEFAULTS.imageTokens,
    documentTokens: tokenCount(opts.documentTokens) ?? DEFAULTS.documentTokens,
    audioTokens: tokenCount(opts.audioTokens) ?? DEFAULTS.audioTokens,
    exactCountChars: pos(opts.exactCountChars, DEFAULTS.exactCountChars),
  };
}

const mediaKind = (mediaType: unknown): Media =>
  typeof mediaType !== 'string'
    ? 'document'
    : mediaType.startsWith('image/')
      ? 'image'
      : mediaType.startsWith('audio/')
        ? 'audio'
        : 'document';

// A 512-character run of base64 characters is binary data, not words anyone would send as text.
const BASE64_HEAD = /^[A-Za-z0-9+/=_-]{512}/;

/** The media a long string holds (a data URL, raw base64), or `undefined` for text. */
function binaryKind(s: string): Media | undefined {
  if (s.length < 512) return undefined;
  if (s.startsWith('data:')) {
    const head = s.slice(5, 200);
    const comma = head.indexOf(',');
    if (comma >= 0 && head.slice(0, comma).endsWith(';base64')) return mediaKind(head.slice(0, comma));
  }
  return BASE64_HEAD.test(s) ? 'document' : undefined;
}

class Tally {
  private readonly pieces: string[] = [];
  private chars = 0;
  private cache: RequestSize['cacheWrite'] = 'none';
  private readonly notes: string[] = [];

  /** `fixed`: tokens not counted by the tokenizer (framing, media, documented prompts): no margin. */
  constructor(
    readonly s: Settings,
    private fixed = REQUEST_OVERHEAD,
  ) {}

  text(x: unknown): void {
    if (typeof x !== 'string' || x.length === 0) return;
    this.pieces.push(x);
    this.chars += x.length;
  }

  /** A schema, tool input or other structured value: its JSON is what the model reads. */
  json(x: unknown): void {
    if (x === undefined || x === null) return;
    if (typeof x === 'string') {
      this.text(x);
      return;
    }
    try {
      this.text(JSON.stringify(x));
    } catch {
      // A cycle or a BigInt: no JSON to count, and no reason to fail the call.
    }
  }

  /**
   * A part of a shape this module does not know: its JSON, except that binary payloads (data URLs,
   * long base64, byte arrays) count as media, not as hundreds of thousands of text tokens.
   */
  opaque(x: unknown): void {
    if (x === undefined || x === null) return;
    try {
      const json = JSON.stringify(x, (_key, value: unknown) => {
        if (typeof value === 'string') {
          const kind = binaryKind(value);
          if (kind === undefined) return value;
          this.media(kind);
          return '';
        }
        if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
          this.media('document');
          return '';
        }
        return value;
      });
      this.text(json);
    } catch {
      // As in `json`.
    }
  }

  media(kind: Media): void {
    const s = this.s;
    this.fixed += kind === 'image' ? s.imageTokens : kind === 'audio' ? s.audioTokens : s.documentTokens;
  }

  message(): void {
    this.fixed += MESSAGE_OVERHEAD;
  }

  add(tokens: number): void {
    this.fixed += tokens;
  }

  note(n: string): void {
    this.notes.push(n);
  }

  /** An Anthropic `cache_control` (or the AI SDK's `cacheControl`): a 1h TTL beats 5m beats none. */
  cacheControl(cc: unknown): void {
    if (!isObj(cc)) return;
    if (cc.ttl === '1h') this.cache = '1h';
    else if (this.cache === 'none') this.cache = '5m';
  }

  /** Everything counted so far: fixed tokens + tokenizer count × margin. */
  tokens(): number {
    const text = countPieces(this.pieces, this.chars, this.s.exactCountChars);
    return this.fixed + Math.ceil(text * this.s.margin);
  }

  size(cap: number | undefined, choices = 1, extraOutput = 0): RequestSize {
    const out = (cap ?? this.s.defaultMaxOutputTokens) + extraOutput;
    const size: RequestSize = {
      inputTokens: this.tokens(),
      maxOutputTokens: out * choices,
      outputCapKnown: cap !== undefined,
      cacheWrite: this.cache,
    };
    if (this.notes.length > 0) size.note = this.notes.join('; ');
    return size;
  }
}

/** A positive integer count, or `undefined` (absent, zero or not a number). */
const positive = (x: unknown): number | undefined => {
  const n = tokenCount(x);
  return n !== undefined && n > 0 ? n : undefined;
};

// ---------------------------------------------------------------------------------------------
// Anthropic Messages
// ---------------------------------------------------------------------------------------------

/**
 * The worst-case size of an Anthropic `POST /v1/messages` body (`MessageCreateParams`).
 *
 * Counts `system` (string or text blocks), every message's content (string or blocks: text,
 * thinking, tool_use input, tool_result content, search results, plain-text and content-source
 * documents; images and binary documents at their fixed counts), `tools` (their JSON plus the
 * 346-token tool-use system prompt) and an `output_config.format` schema, times the Anthropic
 * margin (1.35). Output is `max_tokens` (thinking budget included, as Anthropic bills it).
 * `cacheWrite` is the longest TTL among every `cache_control`, top-level (automatic caching)
 * included.
 *
 * @example
 * const size = sizeAnthropicMessages({
 *   model: 'claude-sonnet-4-5',
 *   max_tokens: 1024,
 *   system: [{ type: 'text', text: longPolicy, cache_control: { type: 'ephemeral', ttl: '1h' } }],
 *   messages: [{ role: 'user', content: 'Summarise the policy.' }],
 * });
 * // { inputTokens: …, maxOutputTokens: 1024, outputCapKnown: true, cacheWrite: '1h' }
 */
export function sizeAnthropicMessages(params: unknown, opts: EstimateOptions = {}): RequestSize {
  const p = isObj(params) ? params : {};
  const t = new Tally(settings(opts, ANTHROPIC_TOKENIZER_MARGIN));
  t.cacheControl(p.cache_control);
  anthropicContent(t, p.system);
  for (const m of arr(p.messages)) {
    t.message();
    if (isObj(m)) anthropicContent(t, m.content);
  }
  const tools = arr(p.tools);
  if (tools.length > 0) t.add(ANTHROPIC_TOOLS_PROMPT);
  for (const tool of tools) {
    if (isObj(tool)) t.cacheControl(tool.cache_control);
    t.json(tool);
  }
  if (isObj(p.output_config)) t.json(p.output_config.format);
  return t.size(tokenCount(p.max_tokens));
}

function anthropicContent(t: Tally, content: unknown): void {
  if (typeof content === 'string') {
    t.text(content);
    return;
  }
  if (!Array.isArray(content)) {
    t.opaque(content);
    return;
  }
  for (const block of content) anthropicBlock(t, block);
}

function anthropicBlock(t: Tally, b: unknown): void {
  if (!isObj(b)) {
    t.opaque(b);
    return;
  }
  t.cacheControl(b.cache_control);
  switch (b.type) {
    case 'text':
      t.text(b.text);
      return;
    case 'thinking':
      t.text(b.thinking);
      return;
    case 'redacted_thinking':
      // Encrypted thinking: its base64 tokenizes at more tokens than the thinking it hides.
      t.text(b.data);
      return;
    case 'image':
      t.media('image');
      return;
    case 'document': {
      t.text(b.title);
      t.text(b.context);
      const src = b.source;
      if (isObj(src) && src.type === 'text') {
        t.text(src.data);
        return;
      }
      if (isObj(src) && src.type === 'content') {
        anthropicContent(t, src.content);
        return;
      }
      t.media('document');
      return;
    }
    case 'search_result':
      t.text(b.title);
      t.text(b.source);
      anthropicContent(t, b.content);
      return;
    case 'tool_use':
    case 'server_tool_use':
    case 'mcp_tool_use':
      t.text(b.name);
      t.json(b.input);
      return;
    case 'tool_result':
    case 'mcp_tool_result':
      anthropicContent(t, b.content);
      return;
    default:
      t.opaque(b);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions
// ---------------------------------------------------------------------------------------------

/**
 * The worst-case size of an OpenAI Chat Completions body (`ChatCompletionCreateParams`).
 *
 * Counts every message (string or parts: text, refusal; `image_url`, `input_audio` and `file`
 * parts at their fixed counts), assistant `tool_calls` (names and argument JSON), `tools` /
 * `functions` (their JSON plus OpenAI's hidden framing) and a `response_format` JSON schema.
 * Output is `max_completion_tokens ?? max_tokens` (reasoning included), times `n` choices, plus a
 * `prediction`'s tokens (rejected predicted tokens are billed as output).
 *
 * @example
 * sizeOpenAIChat({
 *   model: 'gpt-4o',
 *   n: 2,
 *   max_completion_tokens: 500,
 *   messages: [{ role: 'user', content: 'Hello, world!' }],
 * });
 * // { inputTokens: 11, maxOutputTokens: 1000, outputCapKnown: true, cacheWrite: 'none' }
 */
export function sizeOpenAIChat(params: unknown, opts: EstimateOptions = {}): RequestSize {
  const p = isObj(params) ? params : {};
  const t = new Tally(settings(opts, 1));
  for (const m of arr(p.messages)) {
    t.message();
    if (!isObj(m)) continue;
    t.text(m.name);
    openAIContent(t, m.content, CHAT_PARTS);
    t.text(m.refusal);
    for (const call of arr(m.tool_calls)) openAIToolCall(t, call);
    openAIToolCall(t, m.function_call);
    if (isObj(m.audio)) t.media('audio'); // an earlier audio reply, sent back by id
  }
  openAITools(t, [...arr(p.tools), ...arr(p.functions)]);
  const format = p.response_format;
  if (isObj(format) && format.type === 'json_schema') t.json(format.json_schema);
  let predicted = 0;
  if (isObj(p.prediction)) {
    const pt = new Tally(t.s, 0);
    openAIContent(pt, p.prediction.content, CHAT_PARTS);
    predicted = pt.tokens();
  }
  const cap = tokenCount(p.max_completion_tokens) ?? tokenCount(p.max_tokens);
  return t.size(cap, positive(p.n) ?? 1, predicted);
}

/** How an OpenAI content part counts: its text field, or one media item. */
type PartRule = { text: string } | { media: Media };

const CHAT_PARTS: Record<string, PartRule> = {
  text: { text: 'text' },
  refusal: { text: 'refusal' },
  image_url: { media: 'image' },
  input_audio: { media: 'audio' },
  file: { media: 'document' },
};

const RESPONSES_PARTS: Record<string, PartRule> = {
  input_text: { text: 'text' },
  output_text: { text: 'text' },
  summary_text: { text: 'text' },
  reasoning_text: { text: 'text' },
  text: { text: 'text' },
  refusal: { text: 'refusal' },
  input_image: { media: 'image' },
  input_file: { media: 'document' },
  input_audio: { media: 'audio' },
};

/** A message's content: a string, or parts counted by `rules` (unknown parts as their JSON). */
function openAIContent(t: Tally, content: unknown, rules: Record<string, PartRule>): void {
  if (typeof content === 'string') {
    t.text(content);
    return;
  }
  if (content === null || content === undefined) return;
  if (!Array.isArray(content)) {
    t.opaque(content);
    return;
  }
  for (const part of content) {
    const rule =
      isObj(part) && typeof part.type === 'string' && Object.hasOwn(rules, part.type)
        ? rules[part.type]
        : undefined;
    if (!rule) t.opaque(part);
    else if ('text' in rule) t.text((part as Rec)[rule.text]);
    else t.media(rule.media);
  }
}

function openAIToolCall(t: Tally, call: unknown): void {
  if (!isObj(call)) return;
  const fn = isObj(call.function) ? call.function : isObj(call.custom) ? call.custom : call;
  t.text(fn.name);
  t.json(fn.arguments ?? fn.input);
}

function openAITools(t: Tally, tools: readonly unknown[]): void {
  if (tools.length === 0) return;
  t.add(OPENAI_TOOLS_OVERHEAD + OPENAI_TOOL_OVERHEAD * tools.length);
  for (const tool of tools) t.json(tool);
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses
// ---------------------------------------------------------------------------------------------

/**
 * The worst-case size of an OpenAI Responses body (`ResponseCreateParams`).
 *
 * Counts `instructions`, `input` (a string, or items: messages with input/output text, images,
 * files and audio; function and custom tool calls and their outputs; reasoning summaries and
 * encrypted reasoning; other items as their JSON, screenshots as images), `tools` and a
 * `text.format` JSON schema. Output is `max_output_tokens` (reasoning included).
 * Context held by the server — `previous_response_id`, `conversation`, a stored `prompt`, an
 * `item_reference` — cannot be seen: `note` says the estimate leaves it out.
 *
 * @example
 * sizeOpenAIResponses({ model: 'gpt-5', instructions: 'Be brief.', input: 'Hi', max_output_tokens: 256 });
 * // { inputTokens: …, maxOutputTokens: 256, outputCapKnown: true, cacheWrite: 'none' }
 */
export function sizeOpenAIResponses(params: unknown, opts: EstimateOptions = {}): RequestSize {
  const p = isObj(params) ? params : {};
  const t = new Tally(settings(opts, 1));
  if (p.instructions !== undefined && p.instructions !== null) {
    t.message();
    openAIContent(t, p.instructions, RESPONSES_PARTS);
  }
  if (typeof p.input === 'string') {
    t.message();
    t.text(p.input);
  } else {
    for (const item of arr(p.input)) responsesItem(t, item);
  }
  openAITools(t, arr(p.tools));
  if (isObj(p.text) && isObj(p.text.format) && p.text.format.type === 'json_schema') t.json(p.text.format);
  const hidden = ['previous_response_id', 'conversation', 'prompt'].filter(
    (k) => p[k] !== undefined && p[k] !== null,
  );
  if (hidden.length > 0) t.note(`input held by the server (${hidden.join(', ')}) is not counted`);
  return t.size(tokenCount(p.max_output_tokens));
}

function responsesItem(t: Tally, item: unknown): void {
  t.message();
  if (!isObj(item)) {
    t.opaque(item);
    return;
  }
  switch (item.type ?? 'message') {
    case 'message':
      openAIContent(t, item.content, RESPONSES_PARTS);
      return;
    case 'function_call':
    case 'custom_tool_call':
      t.text(item.name);
      t.json(item.arguments ?? item.input);
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      openAIContent(t, item.output, RESPONSES_PARTS);
      return;
    case 'reasoning':
      for (const s of arr(item.summary)) if (isObj(s)) t.text(s.text);
      for (const c of arr(item.content)) if (isObj(c)) t.text(c.text);
      // Reasoning sent back is billed as input; its encrypted form tokenizes at more, not fewer.
      t.text(item.encrypted_content);
      return;
    case 'item_reference':
      t.note('input held by the server (item_reference) is not counted');
      return;
    default:
      t.opaque(item);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Vercel AI SDK (LanguageModelV3CallOptions)
// ---------------------------------------------------------------------------------------------

/**
 * The worst-case size of a Vercel AI SDK v6 provider call (`LanguageModelV3CallOptions`, as a
 * `wrapLanguageModel` middleware receives it in `transformParams`/`wrapGenerate`/`wrapStream`).
 *
 * Counts the `prompt` (system strings; text, reasoning, tool-call inputs and tool-result outputs;
 * `file` parts by media type: images, audio, PDFs at their fixed counts, `text/*` files as text),
 * `tools` and a `responseFormat` JSON schema. Output is `maxOutputTokens`, plus an Anthropic
 * thinking `budgetTokens` (the AI SDK adds it to `max_tokens`). A `cacheControl` in any
 * `providerOptions` (call, message, part or tool) sets `cacheWrite`.
 *
 * The tokenizer margin (unless `opts.tokenizerMargin` is given) follows `opts.provider` /
 * `opts.modelId`: 1.35 when either names Anthropic or Claude, or when neither is given (unknown:
 * the largest margin); 1.0 for OpenAI; 1.1 for any other provider.
 *
 * @example
 * const size = sizeAiSdkCall(params, { provider: model.provider, modelId: model.modelId });
 */
export function sizeAiSdkCall(options: unknown, opts: AiSdkEstimateOptions = {}): RequestSize {
  const o = isObj(options) ? options : {};
  const who = `${opts.provider ?? ''} ${opts.modelId ?? ''}`.toLowerCase();
  const anthropic = /anthropic|claude/.test(who) || who.trim() === '';
  const openai = !anthropic && /openai|gpt|\bo\d/.test(who);
  const margin = anthropic ? ANTHROPIC_TOKENIZER_MARGIN : openai ? 1 : OTHER_TOKENIZER_MARGIN;
  const t = new Tally(settings(opts, margin));
  aiSdkCache(t, o.providerOptions);
  for (const m of arr(o.prompt)) {
    t.message();
    if (!isObj(m)) continue;
    aiSdkCache(t, m.providerOptions);
    if (typeof m.content === 'string') t.text(m.content);
    else for (const part of arr(m.content)) aiSdkPart(t, part);
  }
  const tools = arr(o.tools);
  if (tools.length > 0) t.add(anthropic ? ANTHROPIC_TOOLS_PROMPT : OPENAI_TOOLS_OVERHEAD);
  for (const tool of tools) {
    if (!isObj(tool)) continue;
    if (!anthropic) t.add(OPENAI_TOOL_OVERHEAD);
    aiSdkCache(t, tool.providerOptions);
    t.text(tool.name);
    t.text(tool.description);
    t.json(tool.type === 'provider' ? tool.args : tool.inputSchema);
    t.json(tool.inputExamples);
  }
  const rf = o.responseFormat;
  if (isObj(rf) && rf.type === 'json') {
    t.text(rf.name);
    t.text(rf.description);
    t.json(rf.schema);
  }
  return t.size(tokenCount(o.maxOutputTokens), 1, thinkingBudget(o.providerOptions));
}

/** `providerOptions.<any>.cacheControl` / `cache_control` (Anthropic), `cachePoint` (Bedrock). */
function aiSdkCache(t: Tally, providerOptions: unknown): void {
  if (!isObj(providerOptions)) return;
  for (const v of Object.values(providerOptions)) {
    if (!isObj(v)) continue;
    t.cacheControl(v.cacheControl ?? v.cache_control);
    if (isObj(v.cachePoint)) t.cacheControl(v.cachePoint);
  }
}

function thinkingBudget(providerOptions: unknown): number {
  if (!isObj(providerOptions) || !isObj(providerOptions.anthropic)) return 0;
  const thinking = providerOptions.anthropic.thinking;
  return isObj(thinking) && thinking.type === 'enabled' ? (tokenCount(thinking.budgetTokens) ?? 0) : 0;
}

function aiSdkPart(t: Tally, part: unknown): void {
  if (!isObj(part)) {
    t.opaque(part);
    return;
  }
  aiSdkCache(t, part.providerOptions);
  switch (part.type) {
    case 'text':
    case 'reasoning':
      t.text(part.text);
      return;
    case 'file':
      aiSdkFile(t, part.mediaType, part.data);
      return;
    case 'tool-call':
      t.text(part.toolName);
      t.json(part.input);
      return;
    case 'tool-result':
      t.text(part.toolName);
      aiSdkToolOutput(t, part.output);
      return;
    case 'tool-approval-response':
      t.text(part.reason);
      return;
    default:
      t.opaque(part);
      return;
  }
}

function aiSdkFile(t: Tally, mediaType: unknown, data: unknown): void {
  const kind = mediaKind(mediaType);
  const textual =
    typeof mediaType === 'string' && (mediaType.startsWith('text/') || mediaType === 'application/json');
  if (kind !== 'document' || !textual) {
    t.media(kind);
    return;
  }
  // A text file is sent as text: count its content (bytes, or base64 of them), not a flat figure.
  if (data instanceof Uint8Array) {
    t.text(new TextDecoder().decode(data));
    return;
  }
  if (typeof data === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(data)) {
    t.text(Buffer.from(data, 'base64').toString('utf8'));
    return;
  }
  t.media('document'); // a URL: fetched by the provider, size unknown
}

function aiSdkToolOutput(t: Tally, output: unknown): void {
  if (!isObj(output)) {
    t.opaque(output);
    return;
  }
  switch (output.type) {
    case 'text':
    case 'error-text':
      t.text(output.value);
      return;
    case 'json':
    case 'error-json':
      t.json(output.value);
      return;
    case 'execution-denied':
      t.text(output.reason);
      return;
    case 'content':
      for (const item of arr(output.value)) {
        if (!isObj(item)) continue;
        if (item.type === 'text') t.text(item.text);
        else if (item.type === 'image-data' || item.type === 'image-url' || item.type === 'image-file-id')
          t.media('image');
        else if (item.type === 'file-data' || item.type === 'file-url' || item.type === 'file-id')
          t.media(mediaKind(item.mediaType));
        else t.opaque(item);
      }
      return;
    default:
      t.opaque(output);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Pricing the worst case
// ---------------------------------------------------------------------------------------------

/** What {@link worstCaseNano} reserves for one call. */
export interface WorstCase {
  /** The most the call can cost, in nano-dollars; at least 1 for any call that sends anything. */
  nanoUsd: NanoUsd;
  /** False when the book has no price for the model and the conservative card was used. */
  priced: boolean;
  note?: string;
}

/**
 * The most a call of `size` can cost: every input token at the highest input-side rate that may
 * apply (the cache-write rate of the request's TTL when above the input rate: a cache write can
 * cover the whole prompt), `maxOutputTokens` at the output rate, the long-context tier chosen by
 * the estimated input (a request above 200k tokens is priced at the >200k rates as a whole), and
 * `speed` passed to the price book. Rounded UP to the nano-dollar. A model the book does not know
 * is priced at `opts.unknownModelCard` (default {@link CONSERVATIVE_UNKNOWN_CARD}), never at $0.
 *
 * @example
 * const size = sizeAnthropicMessages(params);
 * const { nanoUsd, priced, note } = worstCaseNano(
 *   createPriceBook(),
 *   { provider: 'anthropic', model: params.model, nowMs: Date.now() },
 *   size,
 * );
 * const r = budgetStore.reserve(key, limitNano, nanoUsd, Date.now());
 */
export function worstCaseNano(
  book: PriceBook,
  call: { provider: string; model: string; nowMs: number; speed?: string },
  size: RequestSize,
  opts: { unknownModelCard?: RateCard } = {},
): WorstCase {
  let quote: PriceQuote | null = null;
  try {
    quote = book.quote({
      model: call.model,
      provider: call.provider,
      time: call.nowMs,
      ...(call.speed ? { speed: call.speed } : {}),
    });
  } catch {
    quote = null; // a broken book must not let a call through unreserved: price it as unknown
  }
  const card = quote?.card ?? opts.unknownModelCard ?? CONSERVATIVE_UNKNOWN_CARD;
  const input = tokenCount(size.inputTokens) ?? 0;
  const output = tokenCount(size.maxOutputTokens) ?? 0;
  const usage = emptyUsage();
  usage.inputTokens = input;
  const r = ratesFor(card, usage);
  const write = size.cacheWrite === '1h' ? r.cacheWrite1h : size.cacheWrite === '5m' ? r.cacheWrite5m : 0;
  const pico = input * Math.max(r.input, write) + output * r.output;
  let nanoUsd = Math.ceil(pico / 1000);
  if (nanoUsd < 1 && input + output > 0) nanoUsd = 1;

  const notes: string[] = [];
  if (!quote)
    notes.push(`unpriced: no price for ${call.provider}/${call.model}; reserved at the conservative card`);
  if (quote?.note) notes.push(quote.note);
  if (!size.outputCapKnown) notes.push(`no output cap in the request: reserved for ${output} output tokens`);
  if (size.note) notes.push(size.note);
  const result: WorstCase = { nanoUsd, priced: quote !== null };
  if (notes.length > 0) result.note = notes.join('; ');
  return result;
}
