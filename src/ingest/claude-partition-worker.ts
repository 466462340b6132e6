import { parentPort, workerData } from 'node:worker_threads';
import { createPriceBook, type PriceBookOptions } from '../prices/price-book.js';
import type { ClaudeAgentMeta } from '../sources/claude-discover.js';
import { PartitionReducer, type PartitionTask, type ProjectGroup } from './claude-partition.js';

// A partition worker. It starts before the files are found and loads the price data meanwhile; then
// it is handed the projects and reads them (its first, then the next from the shared counter) until
// none are left, waits for the agent metas (the main thread reads them meanwhile) and posts its
// projects' sums.
const { task, recipe } = workerData as { task: PartitionTask; recipe: PriceBookOptions };
const port = parentPort!;
const inbox: unknown[] = [];
let waiting: ((msg: unknown) => void) | undefined;
const listener = (msg: unknown) => {
  const resolve = waiting;
  waiting = undefined;
  if (resolve) resolve(msg);
  else inbox.push(msg);
};
// One listener for both messages: a port with no listener drops what arrives.
port.on('message', listener);
const next = <T>() =>
  new Promise<T>((resolve) => {
    if (inbox.length) resolve(inbox.shift() as T);
    else waiting = resolve as (msg: unknown) => void;
  });

const book = createPriceBook(recipe);
book.preload?.();
const { groups, counter, first } = await next<{
  groups: ProjectGroup[];
  counter: Int32Array;
  first: number;
}>();
const reducer = new PartitionReducer();
// Progress goes out at most every 100 ms: a message per file would cost more than it tells.
let files = 0;
let bytes = 0;
let sentAt = Date.now();
const sendProgress = () => {
  port.postMessage({ kind: 'progress', files, bytes });
  files = 0;
  bytes = 0;
  sentAt = Date.now();
};
for (let i = first; i < groups.length; i = Atomics.add(counter, 0, 1)) {
  reducer.scanGroup(groups[i]!, (read) => {
    files++;
    bytes += read;
    if (Date.now() - sentAt >= 100) sendProgress();
  });
}
if (files > 0) sendProgress();
const metas = await next<ClaudeAgentMeta[]>();
port.off('message', listener);
port.postMessage({ kind: 'result', result: reducer.finish(metas, book, task) });
