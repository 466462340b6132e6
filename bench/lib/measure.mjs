// Runs a command as a separate process and measures it: wall time, CPU time (user+sys) and peak RSS.
// CPU and RSS come from GNU time, which reads the child's rusage from wait4(); Node cannot see a
// child's rusage itself. Wall time comes from process.hrtime, which is finer than GNU time's %e
// (10 ms steps matter for a ~60 ms warm run).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';

/** The GNU time binary if present (the shell's `time` keyword cannot report peak RSS). */
export function findGnuTime() {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return GNU_TIME;
  } catch {
    return null;
  }
}

/**
 * One run. stdout and stderr go to files (not through a pipe into this process) so the bench
 * harness adds no work to the measured child and large outputs cost nothing here.
 * Resolves { ok, code, signal, timedOut, wallS, cpuS, rssMiB, stdoutFile, stderrFile }.
 */
export function runOnce({ cmd, args, env, cwd, gnuTime, outDir, label, timeoutMs }) {
  fs.mkdirSync(outDir, { recursive: true });
  const stdoutFile = path.join(outDir, `${label}.stdout`);
  const stderrFile = path.join(outDir, `${label}.stderr`);
  const timeFile = path.join(outDir, `${label}.time`);
  fs.rmSync(timeFile, { force: true });
  const outFd = fs.openSync(stdoutFile, 'w');
  const errFd = fs.openSync(stderrFile, 'w');
  const [file, argv] = gnuTime ? [gnuTime, ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args]] : [cmd, args];

  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    // detached: its own process group, so a timeout can kill the command's children too.
    const child = spawn(file, argv, { cwd, env, stdio: ['ignore', outFd, errFd], detached: true });
    let timedOut = false;
    let done = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, timeoutMs);
    const finish = (code, signal, spawnError) => {
      if (done) return; // 'error' and 'exit' can both fire for one child
      done = true;
      const wallS = Number(process.hrtime.bigint() - started) / 1e9;
      clearTimeout(timer);
      fs.closeSync(outFd);
      fs.closeSync(errFd);
      if (spawnError) fs.appendFileSync(stderrFile, `${spawnError.message}\n`);
      const usage = gnuTime ? readGnuTime(timeFile) : { cpuS: null, rssMiB: null };
      const ok = !spawnError && !timedOut && code === 0;
      resolve({ ok, code, signal, timedOut, wallS, ...usage, stdoutFile, stderrFile });
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('exit', (code, signal) => finish(code, signal, null));
  });
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** GNU time writes "Command exited with non-zero status N" before the format line on failure. */
function readGnuTime(timeFile) {
  let text = '';
  try {
    text = fs.readFileSync(timeFile, 'utf8');
  } catch {
    return { cpuS: null, rssMiB: null };
  }
  const last = text.trim().split('\n').at(-1) ?? '';
  const [, user, sys, maxRssKiB] = last.split(/\s+/).map(Number);
  if (![user, sys, maxRssKiB].every(Number.isFinite)) return { cpuS: null, rssMiB: null };
  return { cpuS: user + sys, rssMiB: maxRssKiB / 1024 };
}

/**
 * A benchmark: optional untimed warm-up, then `runs` timed repetitions. `beforeEach` runs before
 * every execution (warm-up included), e.g. to delete a ledger. Stops at the first failure and
 * keeps its stderr, so one broken command never stops the others. (One command in rounds.)
 */
export async function measure(spec, opts) {
  const onRun = opts.onRun && ((run, timed) => opts.onRun(run, timed));
  const [result] = await measureInterleaved([spec], { ...opts, onRun, onFailure: undefined });
  return result;
}

/**
 * Several benchmarks in rounds: every command's warm-up, then one timed run of each command per
 * round. The machine's state drifts (other load, the page cache, CPU frequency) over the minutes a
 * benchmark takes; in rounds, the drift falls on every command alike, so ratios taken within one
 * benchmark compare like with like. Each round starts one command further on, so no command always
 * follows the same one (e.g. a report always right after an ingest has written its ledger).
 * A failed command drops out (reported through `opts.onFailure` at once); the others go on.
 */
export async function measureInterleaved(specs, opts) {
  const results = specs.map((spec) => ({ name: spec.name, runs: [], error: null, stdoutFile: null }));
  const rounds = Math.max(0, ...specs.map((s) => (s.warmup ? 1 : 0) + s.runs));
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < specs.length; j++) {
      const k = (i + j) % specs.length;
      const spec = specs[k];
      const result = results[k];
      if (result.error || i >= (spec.warmup ? 1 : 0) + spec.runs) continue;
      const timed = !spec.warmup || i > 0;
      spec.beforeEach?.();
      const run = await runOnce({ ...spec, ...opts, label: slug(spec.name) });
      if (!run.ok) {
        result.error = describeFailure(run);
        result.stdoutFile = null; // the failed run overwrote it: no totals are read from it
        opts.onFailure?.(spec.name, result.error);
        continue;
      }
      if (timed) result.runs.push({ wallS: run.wallS, cpuS: run.cpuS, rssMiB: run.rssMiB });
      result.stdoutFile = run.stdoutFile;
      opts.onRun?.(run, timed, spec.name);
    }
  }
  return results;
}

function describeFailure(run) {
  const why = run.timedOut
    ? 'timed out'
    : run.signal
      ? `killed by ${run.signal}`
      : `exited with status ${run.code}`;
  return { why, stderrTail: tail(run.stderrFile, 40) };
}

export function tail(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function slug(name) {
  return name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}
