import { isObj } from '../core/json.js';
import { emptyUsage, type UsageBuckets } from '../core/usage.js';
import { GeneratedText } from './endpoints.js';
import { sizeAiSdkCall } from './estimate.js';
import type { CallPlan, CallResult, CallTicket, Meter } from './meter.js';
import { usageFromAiSdk } from './usage.js';

/**
 * A Vercel AI SDK (v6, `ai@6`) language-model middleware, for `wrapLanguageModel`:
 *
 * ```ts
 * import { wrapLanguageModel, generateText } from 'ai';
 * const model = wrapLanguageModel({ model: anthropic('claude-sonnet-4-5'), middleware: meter.aiSdkMiddleware() });
 * await meter.run({ agent: 'writer' }, () => generateText({ model, prompt }));
 * ```
 *
 * The types are structural (this package does not depend on `ai`): the object is a
 * `LanguageModelV3Middleware`. Each `doGenerate`/`doStream` is one metered call: budgets are
 * checked before it, its usage is read from the result (or the stream's `finish` part) and
 * recorded with the model's provider (`anthropic.messages` → `anthropic`) and the answering model id.
 */
export interface AiSdkMiddleware {
  readonly specificationVersion: 'v3';
  // Generic so the AI SDK's own result types flow through (this package does not import them).
  wrapGenerate<R extends AiSdkGenerateResult>(options: {
    doGenerate: () => PromiseLike<R>;
    params: unknown;
    model: AiSdkModel;
  }): Promise<R>;
  wrapStream<S extends AiSdkStreamResult>(options: {
    doStream: () => PromiseLike<S>;
    params: unknown;
    model: AiSdkModel;
  }): Promise<S>;
}

interface AiSdkModel {
  readonly provider: string;
  readonly modelId: string;
}

interface AiSdkGenerateResult {
  usage?: unknown;
  providerMetadata?: Record<string, unknown> | undefined;
  response?: { id?: string | undefined; modelId?: string | undefined } | undefined;
}

interface AiSdkStreamResult {
  stream: ReadableStream<unknown>;
}

/** `anthropic.messages` → `anthropic`, `openai.responses` → `openai`, `google.generative-ai` → `google`. */
export function providerOfAiSdk(provider: string): string {
  const p = provider.split('.')[0] ?? provider;
  return p === 'google-vertex' || p === 'vertex' ? 'google' : p;
}

export function createAiSdkMiddleware(meter: Meter): AiSdkMiddleware {
  const plan = (model: AiSdkModel, params: unknown, endpoint: string): CallPlan => ({
    provider: providerOfAiSdk(model.provider),
    model: model.modelId,
    endpoint,
    size: () =>
      sizeAiSdkCall(params, { ...meter.estimateOptions, provider: model.provider, modelId: model.modelId }),
  });

  return {
    specificationVersion: 'v3',
    async wrapGenerate<R extends AiSdkGenerateResult>({
      doGenerate,
      params,
      model,
    }: {
      doGenerate: () => PromiseLike<R>;
      params: unknown;
      model: AiSdkModel;
    }): Promise<R> {
      const ticket = meter.beginCall(plan(model, params, 'ai-sdk.generate'));
      let result: R;
      try {
        result = await doGenerate();
      } catch (err) {
        meter.failCall(ticket, err);
        throw err;
      }
      try {
        const usage = usageFromAiSdk(result.usage as never, {
          provider: model.provider,
          providerMetadata: result.providerMetadata ?? null,
        });
        const r: CallResult = { usage, status: 'ok', model: result.response?.modelId || model.modelId };
        if (result.response?.id) r.responseId = result.response.id;
        meter.finishCall(ticket, r);
      } catch (err) {
        meter.reportError(err);
      }
      return result;
    },
    async wrapStream<S extends AiSdkStreamResult>({
      doStream,
      params,
      model,
    }: {
      doStream: () => PromiseLike<S>;
      params: unknown;
      model: AiSdkModel;
    }): Promise<S> {
      const ticket = meter.beginCall(plan(model, params, 'ai-sdk.stream'));
      let result: S;
      try {
        result = await doStream();
      } catch (err) {
        meter.failCall(ticket, err);
        throw err;
      }
      return { ...result, stream: meteredStream(meter, ticket, model, result.stream) };
    },
  };
}

/**
 * Passes every part through unchanged while reading `response-metadata`, `finish` and the text
 * deltas. A `ReadableStream` with a `cancel` hook (not a `TransformStream`, which cannot see a
 * reader's cancel on Node 20) so a caller who stops reading still settles what was generated.
 */
function meteredStream(
  meter: Meter,
  ticket: CallTicket,
  model: AiSdkModel,
  source: ReadableStream<unknown>,
): ReadableStream<unknown> {
  const reader = source.getReader();
  let usage: UsageBuckets | null = null;
  let modelId: string | undefined;
  let responseId: string | undefined;
  const text = new GeneratedText();
  let errored = false;
  const finish = (status: 'ok' | 'error' | 'aborted') => {
    try {
      const r: CallResult = { usage, status, model: modelId || model.modelId };
      if (responseId) r.responseId = responseId;
      const seen = usage ? 0 : text.tokens(1);
      if (seen > 0) {
        // Stopped before `finish`: only the output seen can be counted, as an estimate.
        r.usage = { ...emptyUsage(), outputTokens: seen };
        r.estimatedNote = 'stream ended before its usage: output estimated from the text received';
      }
      meter.finishCall(ticket, r);
    } catch (err) {
      meter.reportError(err);
    }
  };
  const observe = (part: unknown) => {
    if (!isObj(part)) return;
    switch (part.type) {
      case 'response-metadata':
        if (typeof part.modelId === 'string') modelId = part.modelId;
        if (typeof part.id === 'string') responseId = part.id;
        break;
      case 'finish':
        usage = usageFromAiSdk(part.usage as never, {
          provider: model.provider,
          providerMetadata: isObj(part.providerMetadata) ? part.providerMetadata : null,
        });
        break;
      case 'text-delta':
      case 'reasoning-delta':
      case 'tool-input-delta':
        text.add(part.delta);
        break;
      case 'error':
        errored = true;
        break;
    }
  };
  return new ReadableStream<unknown>({
    async pull(controller) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        finish('error');
        controller.error(err);
        return;
      }
      if (next.done) {
        finish(errored && !usage ? 'error' : 'ok');
        controller.close();
        return;
      }
      try {
        observe(next.value);
      } catch (err) {
        meter.reportError(err);
      }
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      finish('aborted');
      await reader.cancel(reason);
    },
  });
}
