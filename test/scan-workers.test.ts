import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ClaudeFileScan } from '../src/sources/claude-code.js';
import type * as Discover from '../src/sources/claude-discover.js';
import type * as Scan from '../src/sources/claude-scan.js';

// Worker threads run the COMPILED worker (dist/sources/claude-scan-worker.js; the test setup builds
// dist), so this suite imports the compiled scanner: from src it would fall back to the main thread.
const dist = (p: string) => new URL(`../dist/${p}`, import.meta.url).href;
const { scanClaudeFiles, fullScanJobs } = (await import(dist('sources/claude-scan.js'))) as typeof Scan;
const { discoverClaudeFiles } = (await import(dist('sources/claude-discover.js'))) as typeof Discover;
const fixtures = fileURLToPath(new URL('./fixtures/claude-code', import.meta.url));

async function scanAll(workers: number): Promise<{ scans: ClaudeFileScan[]; hooks: number }> {
  const jobs = fullScanJobs(discoverClaudeFiles([fixtures]).transcripts);
  const scans: ClaudeFileScan[] = [];
  let hooks = 0;
  await scanClaudeFiles(jobs, {
    workers,
    onScan: (scan) => scans.push(scan),
    whileWorkersParse: () => hooks++,
  });
  scans.sort((a, b) => a.file.localeCompare(b.file));
  return { scans, hooks };
}

describe('scanning transcripts on worker threads', () => {
  it('gives every file the same scan as the main thread alone', async () => {
    const alone = await scanAll(0);
    const shared = await scanAll(2);
    expect(alone.scans.length).toBe(11);
    expect(shared.scans).toEqual(alone.scans);
    expect(alone.scans.reduce((n, s) => n + s.calls.length, 0)).toBeGreaterThan(20);
  });

  it('lets the main thread do its own work once while workers parse, and only then', async () => {
    expect((await scanAll(0)).hooks).toBe(0);
    expect((await scanAll(1)).hooks).toBe(1);
  });
});
