import { isObj } from '../core/json.js';
import type { UsageBuckets } from '../core/usage.js';
import {
  usageFromAiSdk,
  usageFromAnthropicMessage,
  usageFromOpenAIChat,
  usageFromOpenAIResponse,
} from './usage.js';

/** What a tracked function's result says it used. */
export interface ResultUsage {
  model: string;
  provider?: string;
  usage: UsageBuckets;
}

/**
 * Reads a result's own usage report, by its shape:
 * - an Anthropic `Message` (`type: 'message'`, `model`, `usage.input_tokens`);
 * - an OpenAI `ChatCompletion` (`object: 'chat.completion'`) or `Response` (`object: 'response'`);
 * - an AI SDK `generateText` result (`usage` and `response.modelId`, or `totalUsage`).
 * Anything else → `null` (the meter then records nothing rather than guess).
 *
 * @example
 * trackedUsageOf(await anthropic.messages.create(req)); // { model: 'claude-…', provider: 'anthropic', usage: {…} }
 */
export function trackedUsageOf(result: unknown): ResultUsage | null {
  if (!isObj(result)) return null;
  const model = typeof result.model === 'string' ? result.model : undefined;
  if (result.type === 'message' && model) {
    const usage = usageFromAnthropicMessage(result);
    return usage ? { model, provider: 'anthropic', usage } : null;
  }
  if ((result.object === 'chat.completion' || result.object === 'response') && model) {
    const usage =
      result.object === 'response' ? usageFromOpenAIResponse(result) : usageFromOpenAIChat(result);
    return usage ? { model, provider: 'openai', usage } : null;
  }
  const response = isObj(result.response) ? result.response : undefined;
  const aiModel = typeof response?.modelId === 'string' ? response.modelId : model;
  const raw = isObj(result.totalUsage) ? result.totalUsage : result.usage;
  if (aiModel && isObj(raw)) {
    const usage = usageFromAiSdk(raw as Parameters<typeof usageFromAiSdk>[0]);
    return usage ? { model: aiModel, usage } : null;
  }
  return null;
}
