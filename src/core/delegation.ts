import { addEvent, emptyTally, mergeTally, type Tally } from './aggregate.js';
import type { UsageEvent } from './event.js';

/** One agent in a delegation tree, with its own spend and its subtree's (itself + descendants). */
export interface DelegationNode {
  /** Path segment: `main`, a sub-agent id, `?` for an unknown one. */
  id: string;
  path: string;
  name: string;
  description?: string;
  own: Tally;
  subtree: Tally;
  children: DelegationNode[];
}

/**
 * Builds the delegation tree of a set of events (usually one session or run) from their
 * `agentPath`s. Events without a path hang under the root. Children are sorted by subtree cost.
 */
export function buildDelegationTree(events: Iterable<UsageEvent>, rootId = 'main'): DelegationNode {
  const root = node(rootId, rootId, rootId);
  const byPath = new Map<string, DelegationNode>([[rootId, root]]);
  for (const e of events) {
    const path = e.attribution.agentPath ?? rootId;
    const segments = path.split('/');
    let cur = root;
    let curPath = segments[0] === rootId ? rootId : '';
    for (const seg of segments[0] === rootId ? segments.slice(1) : segments) {
      curPath = curPath ? `${curPath}/${seg}` : seg;
      let next = byPath.get(curPath);
      if (!next) {
        next = node(seg, curPath, seg);
        byPath.set(curPath, next);
        cur.children.push(next);
      }
      cur = next;
    }
    if (cur !== root) {
      cur.name = e.attribution.agentName ?? cur.name;
      if (e.attribution.agentDescription) cur.description = e.attribution.agentDescription;
    }
    addEvent(cur.own, e);
  }
  rollUp(root);
  return root;
}

function node(id: string, path: string, name: string): DelegationNode {
  return { id, path, name, own: emptyTally(path), subtree: emptyTally(path), children: [] };
}

function rollUp(n: DelegationNode): void {
  mergeTally(n.subtree, n.own);
  for (const c of n.children) {
    rollUp(c);
    mergeTally(n.subtree, c.subtree);
  }
  n.children.sort((a, b) => b.subtree.costNano - a.subtree.costNano || (a.path < b.path ? -1 : 1));
}
