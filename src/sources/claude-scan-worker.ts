import { parentPort, workerData } from 'node:worker_threads';
import { type ClaudeFileInfo, type ClaudeScanFrom, parseClaudeTranscript } from './claude-code.js';

// A scan worker: takes files from the shared counter until none are left, posting each file's scan.
const { jobs, counter } = workerData as { jobs: [ClaudeFileInfo, ClaudeScanFrom][]; counter: Int32Array };
for (let i = Atomics.add(counter, 0, 1); i < jobs.length; i = Atomics.add(counter, 0, 1)) {
  const [info, from] = jobs[i]!;
  parentPort!.postMessage({ index: i, scan: parseClaudeTranscript(info, from) });
}
