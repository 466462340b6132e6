#!/usr/bin/env node
// tokenledger's benchmark: times tokenledger against ccusage on a synthetic Claude Code corpus and
// cross-checks their token totals against the generator's exact answer.
//
//   npm run bench                      (builds first, so dist/cli/main.js exists)
//   BENCH_MB=20 BENCH_RUNS=3 npm run bench
//
// Environment:
//   BENCH_MB (500)          corpus size; BENCH_SEED (11) generator seed
//   BENCH_RUNS (5)          timed repetitions after one untimed warm-up
//   BENCH_ORDER (rounds)    rounds: the commands take turns (warm-ups, then one run of each per round,
//                           each round starting one command further on);
//                           sequential: each command's runs back to back
//   BENCH_RUNS_SLOW (2)     repetitions of ccusage 18 (no warm-up: it takes ~20 s at 500 MB)
//   BENCH_ONLY              comma-separated command names to run (default: all)
//   BENCH_TIMEOUT_S (900)   per-run time limit
//   BENCH_CLI               tokenledger entry point (default dist/cli/main.js), e.g. another build
//   BENCH_KEEP_NODE_ENV=1   keep NODE_EXTRA_CA_CERTS / NODE_OPTIONS in the timed commands' environment
//
// Everything it makes lives in .bench/ (git-ignored): the corpus and its expected totals, the peers'
// npm prefixes, scratch output, and results-<timestamp>.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGnuTime, measure, measureInterleaved, runOnce, slug, tail } from './lib/measure.mjs';
import {
  byModelMatches,
  COLD,
  ccusageByModel,
  compare,
  computeRatios,
  computeTargets,
  fromCcusage,
  fromExpected,
  fromTokenledger,
  INGEST,
  NATIVE,
  printRatiosAndTargets,
  printTable,
  printTotals,
  readJson,
  summarize,
  TS18,
  WARM,
} from './lib/report.mjs';
import { ensureCorpus, ensurePeer, nativeCcusagePackage } from './lib/setup.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH_DIR = path.join(ROOT, '.bench');
const rel = (p) => path.relative(ROOT, p) || '.';

function readConfig(env) {
  const num = (name, fallback) => {
    const v = Number(env[name] ?? fallback);
    if (!(v > 0)) throw new Error(`${name} must be a positive number, got ${env[name]}`);
    return v;
  };
  return {
    mb: num('BENCH_MB', 500),
    seed: num('BENCH_SEED', 11),
    runs: num('BENCH_RUNS', 5),
    slowRuns: num('BENCH_RUNS_SLOW', 2),
    timeoutMs: num('BENCH_TIMEOUT_S', 900) * 1000,
    cli: path.resolve(ROOT, env.BENCH_CLI ?? path.join('dist', 'cli', 'main.js')),
    only: env.BENCH_ONLY ? env.BENCH_ONLY.split(',').map((s) => s.trim()) : null,
    order: readOrder(env.BENCH_ORDER),
  };
}

function readOrder(value = 'rounds') {
  if (value !== 'rounds' && value !== 'sequential')
    throw new Error(`BENCH_ORDER must be rounds or sequential, got ${value}`);
  return value;
}

function reportGnuTime() {
  const gnuTime = findGnuTime();
  if (!gnuTime) {
    console.log(
      'note: GNU time (/usr/bin/time) is missing, so CPU time and peak RSS are n/a and wall time comes\n' +
        '      from process.hrtime alone. Install it with: apt-get install -y time',
    );
  }
  return gnuTime;
}

function installPeers() {
  const peersDir = path.join(BENCH_DIR, 'peers');
  const nativePkg = nativeCcusagePackage();
  const native = nativePkg
    ? ensurePeer({
        label: 'peers/ccusage20',
        prefix: path.join(peersDir, 'ccusage20'),
        packages: ['ccusage@20.0.24', `${nativePkg}@20.0.24`],
        version: '20.0.24',
      })
    : null;
  if (!nativePkg)
    console.log(`peers: ccusage 20 has no native binary for ${process.platform}-${process.arch}`);
  const ts18 = ensurePeer({
    label: 'peers/ccusage18',
    prefix: path.join(peersDir, 'ccusage18'),
    packages: ['ccusage@18.0.11'],
    version: '18.0.11',
  });
  return { native, ts18 };
}

function removeLedger(dbFile) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${dbFile}${suffix}`, { force: true });
}

// Node start-up settings that cost every Node process the same fixed time and say nothing about the
// programs measured: NODE_EXTRA_CA_CERTS makes Node parse a CA bundle before running any code (~50 ms
// on the reference VM, which sets it), NODE_OPTIONS may add anything. Both Node-based commands
// (tokenledger and ccusage 18) run without them; the native ccusage never reads them.
const NODE_STARTUP_ENV = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];

/** The environment the timed commands run in, and the variables it left out (printed). */
function benchEnv(env, keep = env.BENCH_KEEP_NODE_ENV === '1') {
  const out = { ...env };
  const removed = [];
  if (!keep) {
    for (const name of NODE_STARTUP_ENV) {
      if (out[name] !== undefined) {
        delete out[name];
        removed.push(name);
      }
    }
  }
  return { env: out, removed };
}

/** The commands to time, in order. A spec with `skipped` set is reported but not run. */
function commandSpecs({ corpusDir, peers, workDir, cfg, env }) {
  const peerEnv = { ...env, CLAUDE_CONFIG_DIR: corpusDir };
  // tokenledger gets the corpus as an argument; a CLAUDE_CONFIG_DIR left in the caller's shell
  // must not add other roots to what it reads.
  const { CLAUDE_CONFIG_DIR: _ignored, ...cliEnv } = env;
  const cli = cfg.cli;
  const cliMissing = fs.existsSync(cli) ? null : `${rel(cli)} not built`;
  const ingestDb = path.join(workDir, 'ingest', 'ledger.db');
  const warmDb = path.join(workDir, 'warm', 'ledger.db');
  const node = process.execPath;
  const common = { warmup: true, runs: cfg.runs };
  return [
    {
      ...common,
      name: NATIVE,
      cmd: peers.native,
      args: ['claude', 'daily', '--offline', '--json'],
      env: peerEnv,
      skipped: peers.native ? null : 'not installed',
    },
    {
      name: TS18,
      warmup: false,
      runs: cfg.slowRuns,
      cmd: peers.ts18,
      args: ['daily', '--offline', '--json'],
      env: peerEnv,
      skipped: peers.ts18 ? null : 'not installed',
    },
    {
      ...common,
      name: COLD,
      cmd: node,
      args: [cli, 'report', corpusDir, '--no-ledger', '--json'],
      env: cliEnv,
      skipped: cliMissing,
    },
    {
      ...common,
      name: INGEST,
      cmd: node,
      args: [cli, 'ingest', corpusDir, '--ledger', ingestDb],
      env: cliEnv,
      skipped: cliMissing,
      beforeAll: () => fs.mkdirSync(path.dirname(ingestDb), { recursive: true }),
      beforeEach: () => removeLedger(ingestDb), // every repetition is a first ingest
    },
    {
      ...common,
      name: WARM,
      cmd: node,
      args: [cli, 'report', corpusDir, '--ledger', warmDb, '--json'],
      env: cliEnv,
      skipped: cliMissing,
      // The warm report reads a ledger that already holds the whole (unchanged) corpus.
      setup: { cmd: node, args: [cli, 'ingest', corpusDir, '--ledger', warmDb], env: cliEnv },
      beforeAll: () => {
        fs.mkdirSync(path.dirname(warmDb), { recursive: true });
        removeLedger(warmDb);
      },
    },
  ];
}

/** Applies BENCH_ONLY, and says so when it names a command that does not exist. */
function selectSpecs(specs, only) {
  if (!only) return specs;
  const unknown = only.filter((name) => !specs.some((s) => s.name === name));
  if (unknown.length) {
    console.log(`BENCH_ONLY: unknown ${unknown.join(', ')}; known: ${specs.map((s) => s.name).join(', ')}`);
  }
  return specs.filter((s) => only.includes(s.name));
}

function commandLine(spec) {
  const env = spec.env.CLAUDE_CONFIG_DIR ? `CLAUDE_CONFIG_DIR=${rel(spec.env.CLAUDE_CONFIG_DIR)} ` : '';
  const shown = (a) => (path.isAbsolute(a) && a.startsWith(ROOT) ? rel(a) : a);
  const cmd = spec.cmd === process.execPath ? 'node' : shown(spec.cmd ?? '?');
  return `${env}${cmd} ${spec.args.map(shown).join(' ')}`;
}

function printFailure(name, error) {
  console.log(`  ${name} FAILED (${error.why}); its stderr:`);
  console.log(error.stderrTail ? error.stderrTail.replace(/^/gm, '    | ') : '    | (empty)');
}

/** Runs the untimed setup step of a spec (e.g. the ingest before a warm report). */
async function runSetup(spec, opts) {
  const run = await runOnce({ ...spec.setup, ...opts, label: `setup-${slug(spec.name)}` });
  if (run.ok) return null;
  return {
    why: `setup step failed: ${run.timedOut ? 'timed out' : `status ${run.code}`}`,
    stderrTail: tail(run.stderrFile, 40),
  };
}

/** Prints a spec's command and runs its one-off preparation; an error when its setup step failed. */
async function prepareSpec(spec, opts) {
  console.log(`\n${spec.name}: ${commandLine(spec)}`);
  spec.beforeAll?.();
  const setupError = spec.setup ? await runSetup(spec, opts) : null;
  if (setupError) printFailure(spec.name, setupError);
  return setupError;
}

function baseResult(spec) {
  return { name: spec.name, commandLine: commandLine(spec), runs: [], error: null, skipped: null };
}

async function runSpec(spec, opts) {
  const base = baseResult(spec);
  if (spec.skipped) return { ...base, skipped: spec.skipped };
  const setupError = await prepareSpec(spec, opts);
  if (setupError) return { ...base, error: setupError };
  const result = await measure(spec, opts);
  if (result.error) printFailure(spec.name, result.error);
  return { ...base, ...result };
}

/**
 * The commands in rounds (BENCH_ORDER=rounds, the default), else each on its own. A command with
 * fewer runs (ccusage 18: 2, no warm-up, ~20 s a run) takes part in the first rounds only. Results
 * keep the specs' order.
 */
async function runSpecs(specs, opts, order) {
  const byName = new Map();
  const together = [];
  for (const spec of specs) {
    if (spec.skipped || order === 'sequential') continue;
    const setupError = await prepareSpec(spec, opts);
    if (setupError) byName.set(spec.name, { ...baseResult(spec), error: setupError });
    else together.push(spec);
  }
  if (together.length) {
    console.log(`\nin rounds: ${together.map((s) => s.name).join(', ')}`);
    const measured = await measureInterleaved(together, { ...opts, onFailure: printFailure });
    for (const [k, spec] of together.entries())
      byName.set(spec.name, { ...baseResult(spec), ...measured[k] });
  }
  for (const spec of specs) if (!byName.has(spec.name)) byName.set(spec.name, await runSpec(spec, opts));
  return specs.map((spec) => byName.get(spec.name));
}

function onRun(run, timed, name) {
  const cpu = run.cpuS == null ? '' : `, cpu ${run.cpuS.toFixed(2)} s`;
  const rss = run.rssMiB == null ? '' : `, ${run.rssMiB.toFixed(0)} MiB`;
  const who = name ? `${name.padEnd(24)} ` : '';
  console.log(`  ${who}${timed ? 'run   ' : 'warmup'} ${run.wallS.toFixed(3)} s${cpu}${rss}`);
}

/** Why a verdict is what it is, when that is not obvious from the numbers. */
function explain(source, verdict, result) {
  if (!source.totals && result?.runs.length > 0)
    return '  [it ran, but its stdout has no JSON `totals` object]';
  if (source.name === TS18 && verdict === 'MISMATCH') {
    return '  [known: ccusage 18 keeps the first streamed snapshot of each call]';
  }
  return '';
}

/** Token totals from each source, compared with the generator's exact answer. */
function crossCheck(expected, byName) {
  const reference = fromExpected(expected);
  const nativeJson = readJson(byName[NATIVE]?.stdoutFile);
  const sources = [
    { name: 'generator', totals: reference },
    { name: NATIVE, totals: fromCcusage(nativeJson) },
    { name: COLD, totals: fromTokenledger(readJson(byName[COLD]?.stdoutFile)) },
    { name: WARM, totals: fromTokenledger(readJson(byName[WARM]?.stdoutFile)) },
    { name: TS18, totals: fromCcusage(readJson(byName[TS18]?.stdoutFile)) },
  ];
  printTotals(sources);
  const checks = [];
  const check = (label, verdict, differs, note = '') => {
    checks.push({ label, verdict, differs });
    const detail = differs.length ? ` (differs: ${differs.join(', ')})` : '';
    console.log(`  ${verdict.padEnd(8)}  ${label}${detail}${note}`);
  };
  console.log('');
  for (const s of sources.slice(1)) {
    const { verdict, differs } = compare(reference, s.totals);
    check(`${s.name} vs generator`, verdict, differs, explain(s, verdict, byName[s.name]));
  }
  const native = sources[1].totals;
  if (native) {
    const { verdict, differs } = compare(native, sources[2].totals);
    check(`${COLD} vs ${NATIVE}`, verdict, differs);
    const perModel = byModelMatches(expected.byModel, ccusageByModel(nativeJson));
    check(`${NATIVE} per-model totals vs generator`, perModel ? 'MATCH' : 'MISMATCH', []);
  }
  return { sources, checks };
}

function writeResults(payload) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(BENCH_DIR, `results-${stamp}.json`);
  fs.writeFileSync(file, `${JSON.stringify(payload, null, 2)}\n`);
  console.log(`\nresults: ${rel(file)}`);
}

function machine() {
  const cpus = os.cpus();
  return {
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  };
}

async function main() {
  const cfg = readConfig(process.env);
  fs.mkdirSync(BENCH_DIR, { recursive: true });
  const gnuTime = reportGnuTime();
  const corpus = ensureCorpus({
    benchDir: BENCH_DIR,
    generator: fileURLToPath(new URL('./gen-corpus.mjs', import.meta.url)),
    mb: cfg.mb,
    seed: cfg.seed,
  });
  const peers = installPeers();
  const workDir = path.join(BENCH_DIR, 'work');
  fs.rmSync(workDir, { recursive: true, force: true });
  const opts = { gnuTime, cwd: ROOT, outDir: path.join(workDir, 'out'), timeoutMs: cfg.timeoutMs, onRun };

  const { env, removed } = benchEnv(process.env);
  if (removed.length) {
    console.log(
      `note: timed commands run without ${removed.join(', ')} (Node start-up settings, not part of what is\n` +
        '      measured; NODE_EXTRA_CA_CERTS alone adds ~50 ms to every Node start here). BENCH_KEEP_NODE_ENV=1 keeps them.',
    );
  }
  const specs = selectSpecs(commandSpecs({ corpusDir: corpus.dir, peers, workDir, cfg, env }), cfg.only);
  const results = (await runSpecs(specs, opts, cfg.order)).map((r) => ({ ...r, median: summarize(r) }));

  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  const medians = Object.fromEntries(results.map((r) => [r.name, r.median]));
  const { files, bytes } = corpus.expected;
  console.log(`\ncorpus ${rel(corpus.dir)}: ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(`machine: ${machine().cpus} cpus, node ${process.version}\n`);
  printTable(results);
  const ratios = computeRatios(medians);
  const targets = computeTargets(medians, ratios);
  printRatiosAndTargets(ratios, targets);
  const totals = crossCheck(corpus.expected, byName);

  writeResults({
    date: new Date().toISOString(),
    machine: machine(),
    config: { ...cfg, cli: rel(cfg.cli), gnuTime: Boolean(gnuTime), envRemoved: removed },
    corpus: { dir: rel(corpus.dir), expected: corpus.expected },
    commands: results.map(({ stdoutFile: _out, ...r }) => r),
    ratios,
    targets,
    totals,
  });
  fs.rmSync(path.join(workDir, 'ingest'), { recursive: true, force: true });
  fs.rmSync(path.join(workDir, 'warm'), { recursive: true, force: true });
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  process.exit(1);
});
