import { parentPort, workerData } from 'node:worker_threads';
import { createPriceBook, type PriceBookOptions } from '../prices/price-book.js';
import type { ClaudeAgentMeta } from '../sources/claude-discover.js';
import { PartitionReducer, type PartitionTask, type ProjectGroup } from './claude-partition.js';

// A partition worker: reads whole projects (its first, then the next from the shared counter) until
// none are left, then waits for the agent metas (the main thread reads them meanwhile) and posts its
// projects' sums.
const { groups, counter, first, task, recipe } = workerData as {
  groups: ProjectGroup[];
  counter: Int32Array;
  /** The group this worker starts with; then it takes the next from the counter. */
  first: number;
  task: PartitionTask;
  recipe: PriceBookOptions;
};
const port = parentPort!;
// Loaded first: the load then counts in how many projects this thread takes, instead of keeping the
// main thread waiting at the end.
const book = createPriceBook(recipe);
book.preload?.();
const reducer = new PartitionReducer();
for (let i = first; i < groups.length; i = Atomics.add(counter, 0, 1)) {
  const group = groups[i]!;
  port.postMessage({ kind: 'progress', files: group.files.length, bytes: reducer.scanGroup(group) });
}
const metas = await new Promise<ClaudeAgentMeta[]>((resolve) => port.once('message', resolve));
port.postMessage({ kind: 'result', result: reducer.finish(metas, book, task) });
