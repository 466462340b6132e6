/**
 * Watching an SDK stream without taking it from its reader. The SDKs' `Stream` is an async
 * iterable whose `[Symbol.asyncIterator]()` and `tee()` both call its `iterator` property, so
 * replacing that one function observes every way of reading it (`for await`, `tee()`,
 * `toReadableStream()`, the `MessageStream` / `ChatCompletionStream` helpers).
 */

/** How a stream ended for the meter. */
export type StreamEnd = 'complete' | 'error' | 'aborted';

export interface StreamObserver<E> {
  /** Called with every item, in order. Must not throw (the wrapper guards it anyway). */
  onItem(item: E): void;
  /** Items the caller did not ask for and must not see (e.g. an injected usage chunk). */
  hide?(item: E): boolean;
  /** Called once: the stream ran out, failed, or its reader stopped early. */
  onEnd(end: StreamEnd, err?: unknown): void;
}

type IteratorFn<E> = () => AsyncIterator<E>;

/**
 * Makes `stream` report its items to `observer`. Returns the same object. When the object has no
 * `iterator` function (not an SDK `Stream`), its `[Symbol.asyncIterator]` is wrapped instead.
 */
export function observeStream<S extends object, E>(
  stream: S,
  observer: StreamObserver<E>,
  onObserverError: (err: unknown) => void,
): S {
  const s = stream as S & { iterator?: IteratorFn<E>; [Symbol.asyncIterator]?: IteratorFn<E> };
  let ended = false;
  const end = (how: StreamEnd, err?: unknown) => {
    if (ended) return;
    ended = true;
    try {
      observer.onEnd(how, err);
    } catch (e) {
      onObserverError(e);
    }
  };
  const watch = (inner: AsyncIterator<E>) => watched(inner, observer, end, onObserverError);
  if (typeof s.iterator === 'function') {
    const original = s.iterator;
    s.iterator = function (this: unknown) {
      return watch(original.call(this));
    };
  } else if (typeof s[Symbol.asyncIterator] === 'function') {
    const original = s[Symbol.asyncIterator]!;
    s[Symbol.asyncIterator] = function (this: unknown) {
      return watch(original.call(this));
    };
  }
  return stream;
}

async function* watched<E>(
  inner: AsyncIterator<E>,
  observer: StreamObserver<E>,
  end: (how: StreamEnd, err?: unknown) => void,
  onObserverError: (err: unknown) => void,
): AsyncGenerator<E> {
  let finished = false;
  try {
    while (true) {
      const r = await inner.next();
      if (r.done) {
        finished = true;
        end('complete');
        return;
      }
      let hidden = false;
      try {
        observer.onItem(r.value);
        hidden = observer.hide?.(r.value) ?? false;
      } catch (e) {
        onObserverError(e);
      }
      if (!hidden) yield r.value;
    }
  } catch (err) {
    finished = true;
    end('error', err);
    throw err;
  } finally {
    if (!finished) {
      // The reader stopped early (`break`, `return`): what was generated so far is still billed.
      end('aborted');
      await inner.return?.();
    }
  }
}
