import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Problem } from '../core/event.js';
import type { ClaudeFileInfo } from './claude-code.js';

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
  const out: ClaudeDiscovery = { transcripts: [], metaFiles: [], workflowFiles: [], problems: [] };
  const seen = new Set<string>();
  for (const raw of paths) {
    const root = resolve(raw);
    if (!existsSync(root)) throw new PathNotFoundError(`no such file or folder: ${raw}`);
    const st = statSync(root);
    if (st.isFile()) {
      if (root.endsWith('.jsonl')) add(root, root);
      else if (WORKFLOW_FILE.test(basename(root)) || root.endsWith('.json')) out.workflowFiles.push(root);
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
        if (e.name.endsWith('.jsonl')) add(full, root);
        else if (WORKFLOW_FILE.test(e.name)) out.workflowFiles.push(full);
        else if (META_FILE.test(e.name)) out.metaFiles.push(full);
      }
    }
  }
}
