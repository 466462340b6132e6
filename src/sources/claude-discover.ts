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
const PROJECTS_SEGMENT = `${sep}projects${sep}`;

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
  // Segments are found from the end without splitting the whole path: this runs once per file.
  const nameAt = file.lastIndexOf(sep) + 1;
  const name = file.slice(nameAt);
  const parentAt = file.lastIndexOf(sep, nameAt - 2) + 1;
  // `…/projects/<project>/…/<name>`: the last `projects` folder with a folder between it and the file.
  const projects = file.lastIndexOf(PROJECTS_SEGMENT, nameAt - 1);
  const projectAt = projects + PROJECTS_SEGMENT.length;
  const projectEnd = projects >= 0 && projectAt < nameAt ? file.indexOf(sep, projectAt) : -1;
  info.project =
    projectEnd >= 0
      ? file.slice(projectAt, projectEnd)
      : basename(statSync(root).isDirectory() ? root : dirname(root));
  const agent = AGENT_FILE.exec(name);
  if (agent && file.slice(parentAt, nameAt - 1) === 'subagents') {
    info.agentId = agent[1];
    const sessionAt = file.lastIndexOf(sep, parentAt - 2) + 1;
    const session = file.slice(sessionAt, parentAt - 1);
    if (session) info.session = session;
  } else if (projectEnd >= 0 && projectEnd === nameAt - 1) {
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
    // Under projects/ a .jsonl is a transcript; elsewhere it is sniffed for OTLP first.
    const underProjects = (dir + sep).includes(PROJECTS_SEGMENT);
    for (const e of entries) {
      const name = e.name;
      // Plain concatenation: path.join normalises every time, and this runs once per file.
      const full = dir + sep + name;
      if (e.isDirectory()) {
        if (name !== 'node_modules' && !name.startsWith('.')) walk(full, root);
      } else if (!e.isFile()) {
        // sockets, fifos, …: not ours
      } else if (name.endsWith('.jsonl')) {
        if (!underProjects && isOtlp(full)) out.otlpFiles.push(full);
        else add(full, root);
      } else if (name.endsWith('.json')) {
        if (WORKFLOW_FILE.test(name)) out.workflowFiles.push(full);
        else if (META_FILE.test(name)) out.metaFiles.push(full);
        else if (isOtlp(full)) out.otlpFiles.push(full);
      }
    }
  }
}
