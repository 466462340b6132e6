import { EventEmitter } from 'node:events';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { buildDelegationTree, type DelegationNode } from '../core/delegation.js';
import type { Attribution, UsageEvent } from '../core/event.js';
import { emptyUsage } from '../core/usage.js';
import { attributionOf, type MeterAttrs, MeterContext } from './context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('MeterContext nesting', () => {
  it('builds path, name, id and tags three levels deep', () => {
    const ctx = new MeterContext();
    const seen: Attribution[] = [];
    const here = () => seen.push(attributionOf(ctx.current()));
    ctx.run(
      { run: 'r1', agent: 'planner', user: 'u1', feature: 'digest', tags: { env: 'prod', tier: 'a' } },
      () => {
        here();
        ctx.run({ agent: 'researcher', stage: 'search', template: 'tpl-7', tags: { tier: 'b' } }, () => {
          here();
          ctx.run({ agent: 'reader', task: 't9', tags: { lang: 'en' } }, here);
        });
      },
    );
    expect(seen).toEqual([
      {
        run: 'r1',
        user: 'u1',
        feature: 'digest',
        agentName: 'planner',
        agentId: 'planner#1',
        agentPath: 'main/planner#1',
        tags: { env: 'prod', tier: 'a' },
      },
      {
        run: 'r1',
        user: 'u1',
        feature: 'digest',
        stage: 'search',
        agentName: 'researcher',
        agentId: 'researcher#1',
        agentPath: 'main/planner#1/researcher#1',
        tags: { env: 'prod', tier: 'b', template: 'tpl-7' },
      },
      {
        run: 'r1',
        user: 'u1',
        feature: 'digest',
        stage: 'search',
        task: 't9',
        agentName: 'reader',
        agentId: 'reader#1',
        agentPath: 'main/planner#1/researcher#1/reader#1',
        tags: { env: 'prod', tier: 'b', lang: 'en', template: 'tpl-7' },
      },
    ]);
  });

  it('gives a top-level scope with no agent the root node `main`', () => {
    const ctx = new MeterContext();
    const a = ctx.run({ run: 'r', session: 's' }, () => attributionOf(ctx.current()));
    expect(a).toEqual({ run: 'r', session: 's', agentName: 'main', agentPath: 'main' });
  });

  it('overrides each field alone and inherits every other one', () => {
    const ctx = new MeterContext();
    const fields = ['run', 'task', 'stage', 'user', 'session', 'feature', 'project', 'template'] as const;
    const outer: MeterAttrs = { agent: 'outer-agent', tags: { k: 'outer' } };
    for (const f of fields) outer[f] = `outer-${f}`;
    for (const f of fields) {
      ctx.run(outer, () => {
        const before = ctx.current();
        ctx.run({ [f]: 'inner' }, () => {
          const s = ctx.current()!;
          for (const g of fields)
            expect(s.attrs[g], `${f} set, ${g} read`).toBe(g === f ? 'inner' : `outer-${g}`);
          // a different run is a new tree: the outer agent is no node of it
          expect(s.attrs.agent).toBe(f === 'run' ? undefined : 'outer-agent');
          expect(s.attrs.tags).toEqual({ k: 'outer' });
        });
        // leaving the inner scope restores the outer one
        expect(ctx.current()).toBe(before);
      });
    }
  });

  it('merges tags with the inner value winning, and treats `undefined` as not given', () => {
    const ctx = new MeterContext();
    ctx.run({ run: 'r', user: 'u', tags: { a: '1', b: '1' } }, () => {
      ctx.run({ user: undefined, tags: { b: '2', c: '2' } }, () => {
        ctx.run({ tags: { c: '3' } }, () => {
          const a = attributionOf(ctx.current());
          expect(a.user).toBe('u');
          expect(a.tags).toEqual({ a: '1', b: '2', c: '3' });
        });
        expect(ctx.current()!.attrs.tags).toEqual({ a: '1', b: '2', c: '2' });
      });
      expect(ctx.current()!.attrs.tags).toEqual({ a: '1', b: '1' });
    });
  });

  it('adds no path segment for a scope without an agent, but keeps the agent name', () => {
    const ctx = new MeterContext();
    ctx.run({ run: 'r', agent: 'planner' }, () => {
      ctx.run({ stage: 'draft' }, () => {
        const a = attributionOf(ctx.current());
        expect(a.agentPath).toBe('main/planner#1');
        expect(a.agentName).toBe('planner');
        expect(a.agentId).toBe('planner#1');
        expect(a.stage).toBe('draft');
      });
    });
  });

  it('keeps a later mutation of the caller’s tags out of the scope and the attributions apart', () => {
    const ctx = new MeterContext();
    const tags = { k: 'v' };
    ctx.run({ run: 'r', tags }, () => {
      tags.k = 'changed';
      const a = attributionOf(ctx.current());
      expect(a.tags).toEqual({ k: 'v' });
      a.tags!.k = 'mutated';
      expect(attributionOf(ctx.current()).tags).toEqual({ k: 'v' });
    });
  });

  it('replaces `/` in an agent name so the path keeps one segment per node', () => {
    const ctx = new MeterContext();
    const a = ctx.run({ run: 'r', agent: 'team/writer' }, () => attributionOf(ctx.current()));
    expect(a.agentPath).toBe('main/team_writer#1');
    expect(a.agentName).toBe('team/writer');
  });
});

describe('MeterContext siblings', () => {
  it('makes two sibling agents of the same name two distinct nodes', async () => {
    const ctx = new MeterContext();
    const [a, b] = await ctx.run({ run: 'r', agent: 'planner' }, () =>
      Promise.all(
        [1, 2].map(() =>
          ctx.run({ agent: 'summarizer' }, async () => {
            await immediate();
            return attributionOf(ctx.current());
          }),
        ),
      ),
    );
    expect(a!.agentPath).toBe('main/planner#1/summarizer#1');
    expect(b!.agentPath).toBe('main/planner#1/summarizer#2');
    expect(a!.agentId).not.toBe(b!.agentId);
    expect(a!.agentName).toBe('summarizer');
    expect(b!.agentName).toBe('summarizer');
  });

  it('numbers per run across parents and across scopes without an agent', () => {
    const ctx = new MeterContext();
    const paths: string[] = [];
    const path = () => paths.push(ctx.current()!.agentPath);
    ctx.run({ run: 'r' }, () => {
      ctx.run({ agent: 'worker' }, path);
      ctx.run({ stage: 'x' }, () => ctx.run({ agent: 'worker' }, path));
      ctx.run({ agent: 'boss' }, () => ctx.run({ agent: 'worker' }, path));
      ctx.run({ agent: 'worker' }, path);
    });
    expect(paths).toEqual(['main/worker#1', 'main/worker#2', 'main/boss#1/worker#3', 'main/worker#4']);
  });
});

describe('MeterContext run ids', () => {
  it('shares one generated run id across a top-level run and differs between two', async () => {
    const ctx = new MeterContext();
    const collect = () =>
      ctx.run({ agent: 'a' }, async () => {
        const ids = [ctx.current()!.attrs.run];
        await ctx.run({ agent: 'b' }, async () => {
          await sleep(1);
          ids.push(ctx.current()!.attrs.run);
          await ctx.run({ stage: 's' }, async () => {
            await immediate();
            ids.push(attributionOf(ctx.current()).run!);
          });
        });
        await new Promise<void>((done) => setTimeout(() => done(void ids.push(ctx.current()!.attrs.run)), 1));
        return ids;
      });
    const [first, second] = await Promise.all([collect(), collect()]);
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(4);
    expect(first![0]).toMatch(UUID);
    expect(new Set(first)).toEqual(new Set([first![0]]));
    expect(new Set(second)).toEqual(new Set([second![0]]));
    expect(first![0]).not.toBe(second![0]);
  });

  it('keeps a given run id, and starts a new tree when a scope sets a different run', () => {
    const ctx = new MeterContext();
    ctx.run({ run: 'outer', agent: 'planner', user: 'u' }, () => {
      ctx.run({ run: 'outer', agent: 'x' }, () => {
        expect(ctx.current()!.agentPath).toBe('main/planner#1/x#1');
      });
      ctx.run({ run: 'inner' }, () => {
        const a = attributionOf(ctx.current());
        expect(a).toEqual({ run: 'inner', user: 'u', agentName: 'main', agentPath: 'main' });
        ctx.run({ agent: 'x' }, () => expect(ctx.current()!.agentPath).toBe('main/x#1'));
      });
    });
  });
});

describe('MeterContext concurrency', () => {
  it('keeps 100 parallel branches with random delays each on its own attributes', async () => {
    const ctx = new MeterContext();
    const bad: string[] = [];
    const check = (i: number, where: string) => {
      const s = ctx.current();
      const a = attributionOf(s);
      const ok =
        a.user === `u${i}` &&
        a.tags?.branch === String(i) &&
        a.agentName === `w${i}` &&
        s?.attrs.run === 'fan';
      if (!ok) bad.push(`branch ${i} at ${where}: ${JSON.stringify(a)}`);
    };
    const jitter = () => Math.floor(Math.random() * 5);
    async function* ticks(i: number) {
      for (let k = 0; k < 3; k++) {
        await sleep(jitter());
        check(i, 'generator body');
        yield k;
      }
    }
    const emitter = new EventEmitter();
    emitter.on('ping', (i: number) => check(i, 'emitter listener'));

    const paths = await ctx.run({ run: 'fan' }, () =>
      Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          ctx.run({ agent: `w${i}`, user: `u${i}`, tags: { branch: String(i) } }, async () => {
            check(i, 'start');
            await sleep(jitter());
            check(i, 'after setTimeout');
            await immediate();
            check(i, 'after setImmediate');
            await new Promise<void>((done) => queueMicrotask(() => done(check(i, 'microtask'))));
            await new Promise<void>((done) => setTimeout(() => done(check(i, 'timer callback')), jitter()));
            await new Promise<void>((done) => setImmediate(() => done(check(i, 'immediate callback'))));
            emitter.emit('ping', i);
            for await (const _k of ticks(i)) check(i, 'for await');
            const inner = await ctx.run({ stage: `s${i}` }, async () => {
              await sleep(jitter());
              check(i, 'nested');
              return ctx.current()!.attrs.stage;
            });
            if (inner !== `s${i}`) bad.push(`branch ${i}: nested stage ${inner}`);
            check(i, 'end');
            return ctx.current()!.agentPath;
          }),
        ),
      ),
    );
    expect(bad).toEqual([]);
    expect(new Set(paths).size).toBe(100);
    expect(paths[42]).toBe('main/w42#1');
  });

  it('lets a timer started in a scope see that scope after the scope has returned', async () => {
    const ctx = new MeterContext();
    let fired: (a: Attribution) => void = () => {};
    const later = new Promise<Attribution>((resolve) => {
      fired = resolve;
    });
    const returned = ctx.run({ run: 'r', agent: 'bg', stage: 'flush' }, () => {
      setTimeout(() => fired(attributionOf(ctx.current())), 20);
      return 'returned';
    });
    expect(returned).toBe('returned');
    expect(ctx.current()).toBeUndefined();
    const a = await later;
    expect(a).toEqual({ run: 'r', stage: 'flush', agentName: 'bg', agentId: 'bg#1', agentPath: 'main/bg#1' });
  });

  it('runs a bound emitter listener in the scope it was bound in, not the emitter’s', () => {
    const ctx = new MeterContext();
    const emitter = new EventEmitter();
    const seen: (string | undefined)[] = [];
    ctx.run({ run: 'r', agent: 'owner' }, () => {
      emitter.on(
        'e',
        ctx.bind(() => seen.push(ctx.current()?.attrs.agent)),
      );
      emitter.on('e', () => seen.push(ctx.current()?.attrs.agent));
    });
    ctx.run({ run: 'r2', agent: 'emitter' }, () => emitter.emit('e'));
    expect(seen).toEqual(['owner', 'emitter']);
  });

  it('keeps two MeterContext instances apart', () => {
    const a = new MeterContext();
    const b = new MeterContext();
    a.run({ run: 'ra' }, () => {
      expect(b.current()).toBeUndefined();
      b.run({ run: 'rb' }, () => expect(a.current()!.attrs.run).toBe('ra'));
    });
  });
});

describe('MeterContext never breaks the call', () => {
  it('runs fn once in the enclosing scope when a scope cannot be built, and reports it', () => {
    const errors: unknown[] = [];
    const ctx = new MeterContext({ onError: (e) => errors.push(e) });
    const hostile = {
      get agent(): string {
        throw new Error('bad attrs');
      },
    } as MeterAttrs;
    let calls = 0;
    const out = ctx.run({ run: 'r', user: 'u' }, () =>
      ctx.run(hostile, () => {
        calls++;
        return ctx.current()!.attrs.user;
      }),
    );
    expect(out).toBe('u');
    expect(calls).toBe(1);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('bad attrs');
  });

  it('survives a throwing onError hook and missing attrs', () => {
    const ctx = new MeterContext({
      onError: () => {
        throw new Error('hook broke');
      },
    });
    const hostile = {
      get run(): string {
        throw new Error('bad');
      },
    } as MeterAttrs;
    expect(ctx.run(hostile, () => 7)).toBe(7);
    const noAttrs = undefined as unknown as MeterAttrs;
    expect(ctx.run(noAttrs, () => ctx.current()!.attrs.run)).toMatch(UUID);
  });

  it('passes fn’s own result, rejection and throw through unchanged', async () => {
    const ctx = new MeterContext();
    const boom = new Error('user error');
    expect(() =>
      ctx.run({ run: 'r' }, () => {
        throw boom;
      }),
    ).toThrow(boom);
    await expect(ctx.run({ run: 'r' }, () => Promise.reject(boom))).rejects.toBe(boom);
    const value = { x: 1 };
    expect(ctx.run({ run: 'r' }, () => value)).toBe(value);
    expect(ctx.current()).toBeUndefined();
  });

  it('maps no scope to an empty attribution', () => {
    expect(new MeterContext().current()).toBeUndefined();
    expect(attributionOf(undefined)).toEqual({});
  });
});

describe('attributionOf feeds buildDelegationTree', () => {
  let seq = 0;
  const ev = (nano: number, attribution: Attribution): UsageEvent => ({
    id: `m${++seq}`,
    ts: 1_700_000_000_000 + seq,
    source: 'meter',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    usage: { ...emptyUsage(), outputTokens: 1 },
    cost: { nanoUsd: nano, priceSource: 'test', estimated: false },
    attribution,
  });
  const child = (n: DelegationNode, id: string) => {
    const c = n.children.find((x) => x.id === id);
    if (!c) throw new Error(`no child ${id} under ${n.path}`);
    return c;
  };

  it('gives each node of a 3-level parallel fan-out its own and subtree spend', async () => {
    const ctx = new MeterContext();
    const events: UsageEvent[] = [];
    const record = (nano: number) => events.push(ev(nano, attributionOf(ctx.current())));
    const jitter = () => sleep(Math.floor(Math.random() * 5));

    // main ─┬─ researcher#1 ─┬─ reader#1 ── checker#1
    //       │                └─ reader#2 ── checker#2
    //       └─ researcher#2 ─┬─ reader#3 ── checker#3
    //                        └─ reader#4 ── checker#4
    // Children are started before any await, so the numbering is the depth-first start order
    // whatever the random delays; reader k spends 100k (in a stage scope, no node of its own),
    // checker k spends 1000k in two events, researcher i spends 10i, main 1.
    let readers = 0;
    await ctx.run({ run: 'fan' }, async () => {
      const researchers = [1, 2].map((i) =>
        ctx.run({ agent: 'researcher' }, async () => {
          const reads = [1, 2].map(() => {
            const k = ++readers;
            return ctx.run({ agent: 'reader' }, async () => {
              const check = ctx.run({ agent: 'checker' }, async () => {
                await jitter();
                record(500 * k);
                await jitter();
                record(500 * k);
              });
              await jitter();
              await ctx.run({ stage: 'read' }, async () => record(100 * k));
              await check;
            });
          });
          await jitter();
          record(10 * i);
          await Promise.all(reads);
        }),
      );
      record(1);
      await Promise.all(researchers);
    });

    expect(events).toHaveLength(15);
    expect(new Set(events.map((e) => e.attribution.run))).toEqual(new Set(['fan']));
    const root = buildDelegationTree(events);
    expect(root.own.costNano).toBe(1);
    expect(root.own.events).toBe(1);
    // 1 + 10 + 20 + (100 + 200 + 300 + 400) + (1000 + 2000 + 3000 + 4000)
    expect(root.subtree.costNano).toBe(11_031);
    expect(root.subtree.events).toBe(15);
    // sorted by subtree cost: researcher#2 (7,720) before researcher#1 (3,310)
    expect(root.children.map((c) => c.id)).toEqual(['researcher#2', 'researcher#1']);

    const r1 = child(root, 'researcher#1');
    expect(r1.name).toBe('researcher');
    expect(r1.own.costNano).toBe(10);
    expect(r1.own.events).toBe(1);
    expect(r1.subtree.costNano).toBe(3_310); // 10 + 100 + 1000 + 200 + 2000
    expect(r1.subtree.events).toBe(7);
    const r2 = child(root, 'researcher#2');
    expect(r2.own.costNano).toBe(20);
    expect(r2.subtree.costNano).toBe(7_720); // 20 + 300 + 3000 + 400 + 4000
    expect(r2.subtree.events).toBe(7);

    const expected: [DelegationNode, number, number][] = [
      [r1, 1, 2],
      [r2, 3, 4],
    ];
    for (const [parent, ...ks] of expected) {
      for (const k of ks) {
        const reader = child(parent, `reader#${k}`);
        expect(reader.path).toBe(`${parent.path}/reader#${k}`);
        expect(reader.name).toBe('reader');
        expect(reader.own.costNano).toBe(100 * k);
        expect(reader.own.events).toBe(1);
        expect(reader.subtree.costNano).toBe(1100 * k);
        expect(reader.subtree.events).toBe(3);
        const checker = child(reader, `checker#${k}`);
        expect(checker.path).toBe(`main/${parent.id}/reader#${k}/checker#${k}`);
        expect(checker.name).toBe('checker');
        expect(checker.own.costNano).toBe(1000 * k);
        expect(checker.own.events).toBe(2);
        expect(checker.subtree.costNano).toBe(1000 * k);
        expect(checker.children).toEqual([]);
      }
    }
  });
});
