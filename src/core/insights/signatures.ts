import { intTag } from './common.js';
import { totalInputTokens, type UsageEvent } from './deps.js';

/**
 * "Mechanical" signatures of a slice of calls: the work a cheaper model (routing) or a small
 * fine-tuned one (distillation) is likely to do as well. Each signal says whether the data could
 * show it at all (`available`): workflow telemetry has no input/output split, and only some sources
 * record tool calls, so a missing signal is reported as unavailable, never as "not mechanical".
 *
 * | signal             | value                                              | fires when (default)  |
 * | ------------------ | -------------------------------------------------- | --------------------- |
 * | `many-calls`       | number of calls                                    | ≥ 20                  |
 * | `low-output-ratio` | Σ output / Σ input (uncached + cache) of split calls | < 0.1               |
 * | `short-outputs`    | mean output tokens per split call                  | < 400                 |
 * | `tool-heavy`       | mean `tags.toolCalls` over the calls that carry it | ≥ 1                   |
 *
 * A "split" call is one whose tokens are split into input and output (`unsplitTokens` is 0); the
 * two token signals are unavailable when no call is split. `tags.toolCalls` is what workflow
 * telemetry records per agent (`src/core/run.ts`) and what a meter may set per call.
 */

export const SIGNAL_NAMES = ['many-calls', 'low-output-ratio', 'short-outputs', 'tool-heavy'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export interface SignatureThresholds {
  manyCalls: number;
  lowOutputRatio: number;
  shortOutputTokens: number;
  toolCallsPerCall: number;
}

export const DEFAULT_SIGNATURE: SignatureThresholds = {
  manyCalls: 20,
  lowOutputRatio: 0.1,
  shortOutputTokens: 400,
  toolCallsPerCall: 1,
};

export interface Signal {
  name: SignalName;
  /** The data could show this signal. */
  available: boolean;
  fired: boolean;
  /** The measured value; `null` when unavailable. */
  value: number | null;
  threshold: number;
}

export interface Signature {
  calls: number;
  /** Calls with an input/output split (the token signals are measured on these). */
  splitCalls: number;
  /** Calls carrying `tags.toolCalls`. */
  toolTaggedCalls: number;
  /** In `SIGNAL_NAMES` order. */
  signals: Signal[];
  /** How many signals fired. */
  score: number;
}

/**
 * Measures a slice's signature.
 *
 * @example
 * const s = signatureOf(classifierEvents);
 * s.signals.filter((x) => x.fired).map((x) => x.name); // ['many-calls', 'low-output-ratio', …]
 */
export function signatureOf(
  events: readonly UsageEvent[],
  thresholds: Partial<SignatureThresholds> = {},
): Signature {
  const t = { ...DEFAULT_SIGNATURE, ...thresholds };
  let splitCalls = 0;
  let input = 0;
  let output = 0;
  let toolTagged = 0;
  let tools = 0;
  for (const e of events) {
    if (e.usage.unsplitTokens === 0) {
      splitCalls++;
      input += totalInputTokens(e.usage);
      output += e.usage.outputTokens;
    }
    const n = intTag(e, 'toolCalls');
    if (n !== undefined) {
      toolTagged++;
      tools += n;
    }
  }
  const ratio = splitCalls > 0 && input > 0 ? output / input : null;
  const meanOut = splitCalls > 0 ? output / splitCalls : null;
  const perCall = toolTagged > 0 ? tools / toolTagged : null;
  const signal = (
    name: SignalName,
    value: number | null,
    threshold: number,
    fires: (v: number) => boolean,
  ) => ({
    name,
    available: value !== null,
    fired: value !== null && fires(value),
    value,
    threshold,
  });
  const signals: Signal[] = [
    signal('many-calls', events.length, t.manyCalls, (v) => v >= t.manyCalls),
    signal('low-output-ratio', ratio, t.lowOutputRatio, (v) => v < t.lowOutputRatio),
    signal('short-outputs', meanOut, t.shortOutputTokens, (v) => v < t.shortOutputTokens),
    signal('tool-heavy', perCall, t.toolCallsPerCall, (v) => v >= t.toolCallsPerCall),
  ];
  return {
    calls: events.length,
    splitCalls,
    toolTaggedCalls: toolTagged,
    signals,
    score: signals.filter((s) => s.fired).length,
  };
}
