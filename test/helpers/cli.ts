import { spawn } from 'node:child_process';
import { CLI_MAIN } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** `TOKENLEDGER_HOME` (required: no test may touch the real ~/.tokenledger). */
  home: string;
  cwd?: string;
  /** Extra variables; `undefined` removes one. */
  env?: Record<string, string | undefined>;
}

/**
 * Runs the BUILT CLI (`node dist/cli/main.js …`) as a child process. HOME points at the temp home too
 * and CLAUDE_CONFIG_DIR is removed unless given, so default roots never reach the real machine.
 */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    TOKENLEDGER_HOME: opts.home,
    HOME: opts.home,
    CLAUDE_CONFIG_DIR: undefined,
    NO_COLOR: undefined,
    TOKENLEDGER_DEBUG: undefined,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      cwd: opts.cwd ?? opts.home,
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI and parses its stdout as JSON, failing loudly with stderr when it did not exit 0. */
export async function runCliJson<T = unknown>(args: string[], opts: CliOptions): Promise<T> {
  const r = await runCli(args, opts);
  if (r.code !== 0) throw new Error(`tokenledger ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
