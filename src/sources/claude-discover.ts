import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Problem } from '../core/event.js';
import type { ClaudeFileInfo } from './claude-code.js';
import { looksLikeOtlp } from './otlp-detect.js';

/** `agent-<id>.meta.json`, written beside sub-agent transcripts by newer Claude Code versions. */
export interface ClaudeAgentMeta {
  agentId: string;
  session?: string;
  agentType?: string;
  description?: string;
  toolUseId?: string;
}

export interface ClaudeDiscovery {
  transcripts: ClaudeFileInfo[];
  /** `agent-<id>.meta.json` files (read them with `readClaudeAgentMeta`). */
  metaFiles: string[];
  /** Workflow telemetry files (`wf_*.json`) seen on the way, for the workflow source. */
  workflowFiles: string[];
  /** OTLP/JSON files (traces, logs): `.jsonl`/`.json` outside `projects/` whose first object says so. */
  otlpFiles: string[];
  problems: Problem[];
}

export class PathNotFoundError extends Error {
  override readonly name = 'PathNotFoundError';
  readonly code = 'PATH_NOT_FOUND';
}

/**
 * Claude Code's data roots: each entry of `$CLAUDE_CONFIG_DIR` (comma-separated), else
 * `~/.config/claude` and `~/.claude`. Only roots that exist are returned.
 */
export function defaultClaudeRoots(env: NodeJS.ProcessEnv = process.env, home = homedir()): string[] {
  const configured = env.CLAUDE_CONFIG_DIR?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const candidates = configured?.length
    ? configured
    : [join(home, '.config', 'claude'), join(home, '.claude')];
  return candidates.filter((p) => existsSync(p));
}

const AGENT_FILE = /^agent-(.+)\.jsonl$/;
const META_FILE = /^agent-(.+)\.meta\.json$/;
const WORKFLOW_FILE = /^wf_.*\.json$/;

/** True when the file's first object is OTLP/JSON (`resourceSpans`/`resourceLogs`/`resourceMetrics`). */
function isOtlp(file: string): boolean {
  const buf = Buffer.alloc(4096);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, buf, 0, buf.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return looksLikeOtlp(buf.toString('utf8', 0, n));
}

/** Describes a transcript from its path alone: project, session and sub-agent id. */
export function describeClaudeFile(file: string, root: string): ClaudeFileInfo {
  const info: ClaudeFileInfo = { file };
  const parts = file.split(sep);
  const name = parts[parts.length - 1] ?? '';
  const projectsAt = parts.lastIndexOf('projects', parts.length - 2);
  if (projectsAt >= 0 && projectsAt + 1 < parts.length - 1) info.project = parts[projectsAt + 1];
  else info.project = basename(statSync(root).isDirectory() ? root : dirname(root));
  const agent = AGENT_FILE.exec(name);
  if (agent && parts[parts.length - 2] === 'subagents') {
    info.agentId = agent[1];
    const session = parts[parts.length - 3];
    if (session) info.session = session;
  } else if (projectsAt >= 0 && projectsAt + 2 === parts.length - 1) {
    info.session = name.replace(/\.jsonl$/, '');
  }
  return info;
}

/** Reads an `agent-<id>.meta.json`; an unreadable one is a problem, not an error. */
export function readClaudeAgentMeta(file: string, problems: Problem[]): ClaudeAgentMeta | null {
  const agentId = META_FILE.exec(basename(file))?.[1];
  if (!agentId) return null;
  try {
    const doc: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object');
    const d = doc as Record<string, unknown>;
    const meta: ClaudeAgentMeta = { agentId };
    const session = basename(dirname(dirname(file)));
    if (session) meta.session = session;
    if (typeof d.agentType === 'string') meta.agentType = d.agentType;
    if (typeof d.description === 'string') meta.description = d.description;
    if (typeof d.toolUseId === 'string') meta.toolUseId = d.toolUseId;
    return meta;
  } catch (err) {
    problems.push({ file, line: 0, reason: `unreadable agent meta: ${(err as Error).message}` });
    return null;
  }
}

/**
 * Finds every transcript under the given paths (files or folders; a folder with a `projects/`
 * inside is read from there). A path that does not exist is an error; an unreadable folder inside
 * one is a problem, and the rest go on.
 */
export function discoverClaudeFiles(paths: string[]): ClaudeDiscovery {
  const out: ClaudeDiscovery = {
    transcripts: [],
    metaFiles: [],
    workflowFiles: [],
    otlpFiles: [],
    problems: [],
  };
  const seen = new Set<string>();
  for (const raw of paths) {
    const root = resolve(raw);
    if (!existsSync(root)) throw new PathNotFoundError(`no such file or folder: ${raw}`);
    const st = statSync(root);
    if (st.isFile()) {
      if (isOtlp(root)) out.otlpFiles.push(root);
      else if (root.endsWith('.jsonl')) add(root, root);
      else if (root.endsWith('.json')) out.workflowFiles.push(root);
      else out.problems.push({ file: root, line: 0, reason: 'not a .jsonl or .json file; skipped' });
      continue;
    }
    const projects = join(root, 'projects');
    walk(existsSync(projects) ? projects : root, root);
  }
  return out;

  function add(file: string, root: string): void {
    if (seen.has(file)) return;
    seen.add(file);
    out.transcripts.push(describeClaudeFile(file, root));
  }

  function walk(dir: string, root: string): void {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      out.problems.push({ file: dir, line: 0, reason: `cannot read folder: ${(err as Error).message}` });
      return;
    }
    for (const e of entries) {
      // Plain concatenation: path.join normalises every time, and this runs once per file.
      const full = dir + sep + e.name;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(full, root);
      } else if (e.isFile()) {
        // Claude Code keeps transcripts under projects/; anything else is sniffed for OTLP first.
        if (e.name.endsWith('.jsonl')) {
          if (!full.includes(`${sep}projects${sep}`) && isOtlp(full)) out.otlpFiles.push(full);
          else add(full, root);
        } else if (
          e.name.endsWith('.json') &&
          !WORKFLOW_FILE.test(e.name) &&
          !META_FILE.test(e.name) &&
          isOtlp(full)
        ) {
          out.otlpFiles.push(full);
        }
        if (WORKFLOW_FILE.test(e.name)) out.workflowFiles.push(full);
        else if (META_FILE.test(e.name)) out.metaFiles.push(full);
      }
    }
  }
}
