import { describe, expect, it } from 'vitest';
import { buildDelegationTree, type DelegationNode } from './delegation.js';
import type { Attribution, UsageEvent } from './event.js';
import { emptyUsage } from './usage.js';

let seq = 0;
function ev(
  nano: number | null,
  output: number,
  attribution: Attribution,
  ts = 1_700_000_000_000,
): UsageEvent {
  return {
    id: `e${++seq}`,
    ts,
    source: 'claude-code',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    usage: { ...emptyUsage(), outputTokens: output },
    cost: { nanoUsd: nano, priceSource: 'test', estimated: false },
    attribution,
  };
}

const child = (n: DelegationNode, id: string) => {
  const c = n.children.find((x) => x.id === id);
  if (!c) throw new Error(`no child ${id} under ${n.path}`);
  return c;
};

describe('buildDelegationTree', () => {
  // main ─┬─ c (general-purpose): 200
  //       └─ a (Explore): 30 ── b (Plan): 500
  // c's events come first so that sorting, not insertion order, must put a first.
  const events = [
    ev(200, 2, { agentPath: 'main/c', agentName: 'general-purpose' }),
    ev(60, 6, { agentPath: 'main', agentName: 'main' }),
    ev(500, 50, { agentPath: 'main/a/b', agentName: 'Plan', agentDescription: 'Draft the plan' }),
    ev(30, 3, { agentPath: 'main/a', agentName: 'Explore', agentDescription: 'Map the repo' }),
    ev(40, 4, { agentPath: 'main', agentName: 'main' }),
    // no agentPath: hangs under the root
    ev(7, 1, {}),
    // unpriced sub-agent call: counted as an event, adds no cost
    ev(null, 9, { agentPath: 'main/c', agentName: 'general-purpose' }),
  ];
  const root = buildDelegationTree(events);

  it('gives the root its own spend and the whole subtree', () => {
    expect(root.id).toBe('main');
    expect(root.path).toBe('main');
    // own: 60 + 40 + 7 = 107 nano, 3 events, output 6 + 4 + 1 = 11
    expect(root.own.costNano).toBe(107);
    expect(root.own.events).toBe(3);
    expect(root.own.usage.outputTokens).toBe(11);
    // subtree: 107 + 30 + 500 + 200 = 837 nano, 7 events, output 11 + 3 + 50 + 2 + 9 = 75
    expect(root.subtree.costNano).toBe(837);
    expect(root.subtree.events).toBe(7);
    expect(root.subtree.usage.outputTokens).toBe(75);
    expect(root.subtree.unpricedEvents).toBe(1);
  });

  it('keeps own and subtree figures apart on the middle level', () => {
    const a = child(root, 'a');
    expect(a.path).toBe('main/a');
    expect(a.name).toBe('Explore');
    expect(a.description).toBe('Map the repo');
    expect(a.own.costNano).toBe(30);
    expect(a.own.events).toBe(1);
    // 30 + 500
    expect(a.subtree.costNano).toBe(530);
    expect(a.subtree.events).toBe(2);
    expect(a.subtree.usage.outputTokens).toBe(53); // 3 + 50

    const b = child(a, 'b');
    expect(b.path).toBe('main/a/b');
    expect(b.name).toBe('Plan');
    expect(b.description).toBe('Draft the plan');
    expect(b.own.costNano).toBe(500);
    expect(b.subtree.costNano).toBe(500);
    expect(b.children).toEqual([]);
  });

  it('sorts children by subtree cost, not own cost or insertion order', () => {
    // a: own 30 but subtree 530 ; c: own = subtree = 200
    expect(root.children.map((c) => [c.id, c.subtree.costNano])).toEqual([
      ['a', 530],
      ['c', 200],
    ]);
    const c = child(root, 'c');
    expect(c.own.events).toBe(2);
    expect(c.own.unpricedEvents).toBe(1);
    expect(c.own.unpricedModels).toEqual(['claude-sonnet-4-5']);
  });

  it('creates intermediate nodes that have no events of their own', () => {
    const t = buildDelegationTree([ev(9, 1, { agentPath: 'main/x/y', agentName: 'Leaf' })]);
    const x = child(t, 'x');
    expect(x.own.events).toBe(0);
    expect(x.own.costNano).toBe(0);
    expect(x.subtree.costNano).toBe(9);
    // an intermediate node is named by its id until an event names it
    expect(x.name).toBe('x');
    expect(child(x, 'y').name).toBe('Leaf');
    expect(t.subtree.costNano).toBe(9);
    expect(t.own.events).toBe(0);
  });

  it('breaks subtree-cost ties by path', () => {
    const t = buildDelegationTree([
      ev(5, 1, { agentPath: 'main/zz' }),
      ev(5, 1, { agentPath: 'main/aa' }),
      ev(5, 1, { agentPath: 'main/mm' }),
    ]);
    expect(t.children.map((c) => c.path)).toEqual(['main/aa', 'main/mm', 'main/zz']);
  });
});
