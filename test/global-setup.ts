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
 * Runs a `.ci/*.sh` provisioning script and returns what it prints (a URL or a path). The tests
 * test real parts — a PostgreSQL server, Debian's chromium — so `npm test` sets them up (with apt
 * when missing, as `.ci/run` does) and fails with the script's message when it cannot; nothing is
 * skipped. TOKENLEDGER_TEST_PG / CHROMIUM_PATH point at ones you already have.
 */
function provision(script: string, envName: string, what: string): void {
  try {
    const out = execFileSync('bash', [join(root, '.ci', script)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    }).trim();
    if (!out) throw new Error(`${script} printed nothing`);
    process.env[envName] = out;
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
    throw new Error(
      `the tests need ${what} (.ci/${script} could not provide one; set ${envName}): ${detail}`,
    );
  }
}

/** The CLI tests run the BUILT CLI: build it once when dist is missing or older than src. */
export default function setup(): void {
  provision('postgres.sh', 'TOKENLEDGER_TEST_PG', 'a PostgreSQL server');
  provision('chromium.sh', 'CHROMIUM_PATH', "Debian's chromium");
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
