// What the benchmark needs before it can time anything: the synthetic corpus (with its expected
// totals) and the peer tools, each installed into its own scratch prefix under .bench/peers/ so
// they never enter the project's dependencies.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Generates the corpus once per (size, seed, generator source). It is written to a `.partial`
 * directory and renamed only when the generator succeeded, so an interrupted run never leaves a
 * corpus that looks whole. The saved expected totals carry the generator's hash, so editing the
 * generator regenerates the corpus instead of reusing a stale one.
 */
export function ensureCorpus({ benchDir, generator, mb, seed }) {
  const name = `corpus-${mb}mb-seed${seed}`;
  const dir = path.join(benchDir, name);
  const expectedFile = path.join(benchDir, `${name}.expected.json`);
  const generatorSha256 = createHash('sha256').update(fs.readFileSync(generator)).digest('hex');
  const saved = readJsonFile(expectedFile);
  if (fs.existsSync(dir) && saved?.generatorSha256 === generatorSha256) {
    console.log(`corpus: reusing ${name}`);
    return { dir, expectedFile, expected: saved };
  }
  const partial = `${dir}.partial`;
  fs.rmSync(partial, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`corpus: generating ${name} (${mb} MB, seed ${seed}) ...`);
  const started = Date.now();
  const gen = spawnSync(process.execPath, [generator, partial, String(mb), String(seed)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (gen.status !== 0) throw new Error(`corpus generator failed (status ${gen.status})`);
  const expected = { ...JSON.parse(gen.stdout.trim().split('\n').at(-1)), generatorSha256 };
  fs.writeFileSync(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
  fs.renameSync(partial, dir);
  const mib = (expected.bytes / 2 ** 20).toFixed(0);
  console.log(
    `corpus: ${expected.files} files, ${mib} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { dir, expectedFile, expected };
}

/** ccusage 20 ships its native binary as a per-platform optional package. */
export function nativeCcusagePackage() {
  const supported =
    ['linux', 'darwin', 'win32'].includes(process.platform) && ['x64', 'arm64'].includes(process.arch);
  return supported ? `@ccusage/ccusage-${process.platform}-${process.arch}` : null;
}

/**
 * Installs `packages` into `prefix` unless the wanted ccusage version is already there. Returns the
 * path of its `ccusage` bin, or null (after saying why) if it cannot be installed, e.g. offline.
 */
export function ensurePeer({ label, prefix, packages, version }) {
  const bin = path.join(
    prefix,
    'node_modules',
    '.bin',
    process.platform === 'win32' ? 'ccusage.cmd' : 'ccusage',
  );
  if (installedVersion(prefix) === version && packages.every((p) => isInstalled(prefix, p))) return bin;
  console.log(`peers: installing ${packages.join(' ')} into ${label} ...`);
  fs.mkdirSync(prefix, { recursive: true });
  const npm = spawnSync(
    'npm',
    ['i', '--prefix', prefix, '--no-audit', '--no-fund', '--fetch-retries=1', ...packages],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 5 * 60_000,
      shell: process.platform === 'win32',
    },
  );
  if (npm.status === 0 && fs.existsSync(bin)) return bin;
  const why = npm.error?.message ?? npm.stderr.trim().split('\n').slice(-5).join('\n');
  console.log(`peers: could not install ${label} (no network?); skipping it.\n${why}`);
  return null;
}

function readJsonFile(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function installedVersion(prefix) {
  return readJsonFile(path.join(prefix, 'node_modules', 'ccusage', 'package.json'))?.version ?? null;
}

/** `name@version` -> is node_modules/name present? */
function isInstalled(prefix, spec) {
  const name = spec.slice(0, spec.lastIndexOf('@'));
  return fs.existsSync(path.join(prefix, 'node_modules', name, 'package.json'));
}
