import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/** Newest modification time of the inputs of `npm run build` (sources and build config). */
function newestInput(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
        newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  walk(join(root, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json'])
    newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

/**
 * The PostgreSQL tests need a server: when TOKENLEDGER_TEST_PG is not set and this machine can run
 * one (PostgreSQL installed, root or passwordless sudo), `.ci/postgres.sh` starts it and the URL is
 * handed to the test workers, so a plain `npm test` tests PostgreSQL too. Otherwise those tests are
 * skipped locally (and fail under CI=true). TOKENLEDGER_TEST_PG=off skips the attempt.
 */
function ensurePostgres(): void {
  if (process.env.TOKENLEDGER_TEST_PG) {
    if (process.env.TOKENLEDGER_TEST_PG === 'off') delete process.env.TOKENLEDGER_TEST_PG;
    return;
  }
  const installed = ['/usr/bin/pg_ctlcluster', '/usr/lib/postgresql'].some((p) => existsSync(p));
  if (!installed) return;
  try {
    const url = execFileSync('bash', [join(root, '.ci', 'postgres.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    }).trim();
    if (url) process.env.TOKENLEDGER_TEST_PG = url;
  } catch (err) {
    console.warn(`global-setup: no PostgreSQL for the tests (${String(err).split('\n')[0]})`);
  }
}

/** The CLI tests run the BUILT CLI: build it once when dist is missing or older than src. */
export default function setup(): void {
  ensurePostgres();
  const main = join(root, 'dist', 'cli', 'main.js');
  if (existsSync(main) && statSync(main).mtimeMs >= newestInput()) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  } catch (err) {
    // tsc still emits on type errors (the type-check gate reports those); only a missing CLI is fatal.
    if (!existsSync(main)) throw err;
    console.warn(`global-setup: the build reported errors; testing the emitted dist anyway (${String(err)})`);
  }
}
