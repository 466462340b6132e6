import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/tmp.js';
import { attributionOf, type MeterAttrs, MeterContext } from '../meter/context.js';
import {
  createMessageRouter,
  createRouter,
  type RoleTable,
  RoleTableError,
  type Router,
  routeAttributes,
  UnknownRoleError,
} from './index.js';

afterEach(() => {
  removeTempDirs();
  vi.restoreAllMocks();
});

const ROLES: RoleTable = {
  fast: { model: 'claude-haiku-4-5', provider: 'anthropic' },
  deep: { model: 'claude-opus-4-1', effort: 'high', provider: 'anthropic' },
  code: { model: 'claude-sonnet-4-5', effort: 'medium' },
};

/** Writes the file and moves its mtime to `mtimeSec`, so every rewrite is seen as a change. */
let clockSec = 1_700_000_000;
function writeOverrides(file: string, content: unknown): void {
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  clockSec += 10;
  utimesSync(file, clockSec, clockSec);
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

function setup(opts: { reloadIntervalMs?: number; now?: () => number } = {}) {
  const file = join(tempDir('tl-router-'), 'roles.json');
  const warnings: string[] = [];
  const make = () =>
    createRouter({
      roles: ROLES,
      overridesPath: file,
      reloadIntervalMs: opts.reloadIntervalMs ?? 0,
      onWarning: (m) => warnings.push(m),
      ...(opts.now ? { now: opts.now } : {}),
    });
  return { file, warnings, make };
}

describe('createRouter: the role table', () => {
  it('routes a role to its table entry', () => {
    const router = createRouter({ roles: ROLES });
    expect(router.route('deep')).toEqual({
      role: 'deep',
      model: 'claude-opus-4-1',
      effort: 'high',
      provider: 'anthropic',
      source: 'table',
    });
    // no effort in the table → no effort key at all
    expect(router.route('fast')).toEqual({
      role: 'fast',
      model: 'claude-haiku-4-5',
      provider: 'anthropic',
      source: 'table',
    });
  });

  it('fails closed on an unknown role, naming the known ones (sorted)', () => {
    const router = createRouter({ roles: ROLES });
    const err = errorOf(() => router.route('fsat'));
    expect(err).toBeInstanceOf(UnknownRoleError);
    expect(err).toMatchObject({ name: 'UnknownRoleError', code: 'UNKNOWN_ROLE', role: 'fsat' });
    expect((err as UnknownRoleError).known).toEqual(['code', 'deep', 'fast']);
    expect(err.message).toBe('unknown role "fsat" (known roles: code, deep, fast)');
    // Object.prototype's keys are not roles
    for (const role of ['constructor', '__proto__', 'toString', 'hasOwnProperty', '']) {
      expect(() => router.route(role)).toThrow(UnknownRoleError);
    }
    expect(router.has('fast')).toBe(true);
    expect(router.has('constructor')).toBe(false);
  });

  it('rejects an unusable table at creation', () => {
    expect(() => createRouter({ roles: {} })).toThrow(RoleTableError);
    expect(() => createRouter({ roles: { a: { model: '' } } })).toThrow(/roles: a\.model/);
    expect(() => createRouter({ roles: { a: { model: '  ' } } })).toThrow(RoleTableError);
    expect(() => createRouter({ roles: { a: {} as never } })).toThrow(RoleTableError);
    expect(() => createRouter({ roles: { a: { model: 'm', effort: 3 as never } } })).toThrow(/a\.effort/);
  });

  it('copies the table: later changes to the caller’s object have no effect', () => {
    const roles: RoleTable = { fast: { model: 'a' } };
    const router = createRouter({ roles });
    roles.fast!.model = 'b';
    roles.extra = { model: 'c' };
    expect(router.route('fast').model).toBe('a');
    expect(() => router.route('extra')).toThrow(UnknownRoleError);
    // and the routes handed out are fresh objects
    router.route('fast').model = 'mutated';
    expect(router.route('fast').model).toBe('a');
  });
});

describe('createRouter: the overrides file', () => {
  it('changes a role live when the file is rewritten', () => {
    const { file, warnings, make } = setup();
    writeOverrides(file, { roles: { fast: { model: 'claude-sonnet-4-5' } } });
    const router = make();
    expect(router.route('fast')).toEqual({
      role: 'fast',
      model: 'claude-sonnet-4-5',
      provider: 'anthropic',
      source: 'override',
    });
    expect(router.route('deep').source).toBe('table');

    writeOverrides(file, { roles: { fast: { effort: 'low' }, deep: { model: 'claude-opus-4-5' } } });
    expect(router.route('fast')).toEqual({
      role: 'fast',
      model: 'claude-haiku-4-5',
      effort: 'low',
      provider: 'anthropic',
      source: 'override',
    });
    expect(router.route('deep')).toMatchObject({
      model: 'claude-opus-4-5',
      effort: 'high',
      source: 'override',
    });
    expect(router.roles()).toEqual({
      fast: { model: 'claude-haiku-4-5', effort: 'low', provider: 'anthropic' },
      deep: { model: 'claude-opus-4-5', effort: 'high', provider: 'anthropic' },
      code: { model: 'claude-sonnet-4-5', effort: 'medium' },
    });
    expect(warnings).toEqual([]);
  });

  it('may move a role to another provider; an empty entry changes nothing', () => {
    const { file, make } = setup();
    writeOverrides(file, {
      $schema: 'x',
      roles: { fast: { model: 'gpt-5-mini', provider: 'openai' }, deep: {} },
    });
    const router = make();
    expect(router.route('fast')).toMatchObject({
      model: 'gpt-5-mini',
      provider: 'openai',
      source: 'override',
    });
    expect(router.route('deep').source).toBe('table');
  });

  it('checks the file at most every reloadIntervalMs', () => {
    let now = 0;
    const { file, make } = setup({ reloadIntervalMs: 1000, now: () => now });
    writeOverrides(file, { roles: { fast: { model: 'one' } } });
    const router = make(); // reads the file at t=0
    writeOverrides(file, { roles: { fast: { model: 'two' } } });
    now = 999;
    expect(router.route('fast').model).toBe('one');
    now = 1000;
    expect(router.route('fast').model).toBe('two');
    // a clock that goes backwards checks at once
    writeOverrides(file, { roles: { fast: { model: 'three' } } });
    now = 10;
    expect(router.route('fast').model).toBe('three');
  });

  it('a missing file: the table alone, warned once', () => {
    const { file, warnings, make } = setup();
    const router = make();
    for (let i = 0; i < 5; i++)
      expect(router.route('fast')).toMatchObject({ model: 'claude-haiku-4-5', source: 'table' });
    router.roles();
    expect(warnings).toEqual([
      `tokenledger router: role overrides ${file} not found; using the role table only`,
    ]);

    // the file appearing later is picked up; deleting it again drops the overrides, warned again
    writeOverrides(file, { roles: { fast: { model: 'x' } } });
    expect(router.route('fast').model).toBe('x');
    rmSync(file);
    expect(router.route('fast')).toMatchObject({ model: 'claude-haiku-4-5', source: 'table' });
    expect(router.route('fast').model).toBe('claude-haiku-4-5');
    expect(warnings).toHaveLength(2);
  });

  it('a missing folder on the path is a missing file too', () => {
    const warnings: string[] = [];
    const dir = tempDir('tl-router-');
    writeFileSync(join(dir, 'plain'), '');
    const router = createRouter({
      roles: ROLES,
      overridesPath: join(dir, 'plain', 'roles.json'), // ENOTDIR
      onWarning: (m) => warnings.push(m),
    });
    expect(router.route('fast').source).toBe('table');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not found/);
  });

  it('a corrupt file after a good one: the last good overrides stay, one warning per bad content', () => {
    const { file, warnings, make } = setup();
    writeOverrides(file, { roles: { fast: { model: 'good' } } });
    const router = make();
    expect(router.route('fast').model).toBe('good');

    writeOverrides(file, '{"roles": {"fast": {"model": "half');
    for (let i = 0; i < 3; i++)
      expect(router.route('fast')).toMatchObject({ model: 'good', source: 'override' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/roles\.json: not valid JSON: .*; keeping the last good overrides$/);

    // touched, same bad content: no new warning; different bad content: one more
    writeOverrides(file, '{"roles": {"fast": {"model": "half');
    expect(router.route('fast').model).toBe('good');
    expect(warnings).toHaveLength(1);
    writeOverrides(file, { roles: { fast: { modle: 'typo' } } });
    expect(router.route('fast').model).toBe('good');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/roles\.json: roles\.fast\.modle: .*; keeping the last good overrides$/);

    // fixed: the new content applies
    writeOverrides(file, { roles: { fast: { model: 'fixed' } } });
    expect(router.route('fast').model).toBe('fixed');
    expect(warnings).toHaveLength(2);
  });

  it('a corrupt file from the start: no overrides, warned once, never throws', () => {
    const { file, warnings, make } = setup();
    writeOverrides(file, 'not json');
    const router = make();
    expect(router.route('deep')).toMatchObject({ model: 'claude-opus-4-1', source: 'table' });
    expect(router.route('deep').source).toBe('table');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no overrides in effect \(role table only\)$/);

    writeOverrides(file, { roles: [] });
    expect(router.route('deep').source).toBe('table');
    writeOverrides(file, { roles: { deep: { model: 5 } } });
    expect(router.route('deep').source).toBe('table');
    writeOverrides(file, { roles: {}, extra: true });
    expect(router.route('deep').source).toBe('table');
    expect(warnings).toHaveLength(4);
    expect(warnings[2]).toMatch(/roles\.deep\.model: /);
  });

  it('a folder where the file should be: warned once, last good kept', () => {
    const dir = tempDir('tl-router-');
    const warnings: string[] = [];
    const router = createRouter({
      roles: ROLES,
      overridesPath: dir,
      reloadIntervalMs: 0,
      onWarning: (m) => warnings.push(m),
    });
    router.route('fast');
    router.route('fast');
    expect(warnings).toEqual([
      `tokenledger router: role overrides ${dir} is not a file; no overrides in effect (role table only)`,
    ]);
  });

  it('an override for a role the table lacks is ignored with a warning (it cannot create roles)', () => {
    const { file, warnings, make } = setup();
    writeOverrides(file, { roles: { fast: { model: 'x' }, turbo: { model: 'claude-opus-4-1' } } });
    const router = make();
    expect(() => router.route('turbo')).toThrow(UnknownRoleError);
    expect(router.route('fast').model).toBe('x'); // the file's other entries apply
    expect(Object.keys(router.roles())).toEqual(['fast', 'deep', 'code']);
    expect(warnings).toEqual([
      `tokenledger router: role overrides ${file}: roles.turbo: not a role of the table ` +
        '(known roles: code, deep, fast); ignored, an override cannot create a role',
    ]);
    // touching the file (same content) does not repeat the warning
    writeOverrides(file, { roles: { fast: { model: 'x' }, turbo: { model: 'claude-opus-4-1' } } });
    router.route('fast');
    expect(warnings).toHaveLength(1);
  });

  it('warns through process.emitWarning by default, and a throwing hook does not break routing', () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const file = join(tempDir('tl-router-'), 'absent.json');
    const router = createRouter({ roles: ROLES, overridesPath: file });
    router.route('fast');
    expect(emit).toHaveBeenCalledTimes(1);
    expect(emit).toHaveBeenCalledWith(
      `tokenledger router: role overrides ${file} not found; using the role table only`,
    );

    const throwing = createRouter({
      roles: ROLES,
      overridesPath: file,
      onWarning: () => {
        throw new Error('hook broke');
      },
    });
    expect(throwing.route('fast').model).toBe('claude-haiku-4-5');
  });
});

describe('createMessageRouter', () => {
  function messages(router: Router = createRouter({ roles: ROLES })) {
    return createMessageRouter({
      router,
      defaultRole: 'fast',
      patterns: [
        { pattern: /\b(stack trace|segfault)\b/i, role: 'deep' },
        { pattern: /\bbuild\b/, role: 'code' },
        { pattern: /\bbuild failing\b/, role: 'deep' }, // never reached: the one above matches first
      ],
    });
  }

  it('a leading tag wins over patterns and the default, and is stripped', () => {
    const r = messages().routeMessage('!deep why is the build failing');
    expect(r).toEqual({
      route: {
        role: 'deep',
        model: 'claude-opus-4-1',
        effort: 'high',
        provider: 'anthropic',
        source: 'table',
      },
      text: 'why is the build failing',
      reason: 'tag',
      matched: 'deep',
    });
  });

  it('strips a tag anywhere: the tag and the whitespace after it go, the rest is kept, then trimmed', () => {
    const m = messages();
    expect(m.routeMessage('please !deep  look').text).toBe('please look');
    expect(m.routeMessage('please  !deep look').text).toBe('please  look');
    expect(m.routeMessage('fix this !deep').text).toBe('fix this');
    expect(m.routeMessage('line one\n!deep\nline two').text).toBe('line one\nline two');
    expect(m.routeMessage('  !code\t  ').text).toBe('');
    expect(m.routeMessage('  !code\t  ').route.role).toBe('code');
  });

  it('only a whitespace-delimited !name is a tag', () => {
    const m = messages();
    for (const text of [
      'a!b',
      '!!',
      '!! deep',
      '!!deep x',
      '(!deep)',
      '!deep, now',
      'wow!deep',
      '! deep',
      '!1x',
    ]) {
      const r = m.routeMessage(text);
      expect([text, r.reason, r.route.role, r.text]).toEqual([text, 'default', 'fast', text]);
    }
  });

  it('patterns in order, then the default; the text is only trimmed', () => {
    const m = messages();
    expect(m.routeMessage('  here is the Segfault  ')).toMatchObject({
      route: { role: 'deep' },
      text: 'here is the Segfault',
      reason: 'pattern',
      matched: /\b(stack trace|segfault)\b/i,
    });
    // first match wins: /\bbuild\b/ (code) comes before /\bbuild failing\b/ (deep)
    expect(m.routeMessage('the build failing again').route.role).toBe('code');
    expect(m.routeMessage('hello')).toEqual({
      route: { role: 'fast', model: 'claude-haiku-4-5', provider: 'anthropic', source: 'table' },
      text: 'hello',
      reason: 'default',
    });
  });

  it('per-call patterns come before the router’s; a per-call default replaces the router’s', () => {
    const m = messages();
    const patterns = [{ pattern: /build/, role: 'deep' }];
    expect(m.routeMessage('the build', { patterns }).route.role).toBe('deep');
    expect(m.routeMessage('!fast the build', { patterns }).route.role).toBe('fast'); // tag still wins
    expect(m.routeMessage('hi', { defaultRole: 'code' })).toMatchObject({
      route: { role: 'code' },
      reason: 'default',
    });
    expect(m.routeMessage('a build', { defaultRole: 'deep' }).route.role).toBe('code'); // pattern beats default
    expect(() => m.routeMessage('hi', { defaultRole: 'nope' })).toThrow(UnknownRoleError);
    expect(() => m.routeMessage('hi', { patterns: [{ pattern: /zzz/, role: 'nope' }] })).toThrow(
      UnknownRoleError,
    );
  });

  it('an unknown tag fails closed by default', () => {
    const err = errorOf(() => messages().routeMessage('!deeep why'));
    expect(err).toBeInstanceOf(UnknownRoleError);
    expect(err).toMatchObject({ role: 'deeep', known: ['code', 'deep', 'fast'] });
    // role names are case-sensitive
    expect(() => messages().routeMessage('!Deep why')).toThrow(UnknownRoleError);
  });

  it('unknownTag: ignore leaves an unknown tag in the text and keeps looking', () => {
    const m = createMessageRouter({
      router: createRouter({ roles: ROLES }),
      defaultRole: 'fast',
      unknownTag: 'ignore',
    });
    expect(m.routeMessage('that is !important')).toMatchObject({
      route: { role: 'fast' },
      text: 'that is !important',
      reason: 'default',
    });
    expect(m.routeMessage('!nope !deep x')).toMatchObject({
      route: { role: 'deep' },
      text: '!nope x',
      reason: 'tag',
    });
  });

  it('only the first tag counts', () => {
    expect(messages().routeMessage('!deep !fast x')).toMatchObject({
      route: { role: 'deep' },
      text: '!fast x',
    });
  });

  it('a global or sticky pattern matches the same way every time', () => {
    const m = createMessageRouter({
      router: createRouter({ roles: ROLES }),
      defaultRole: 'fast',
      patterns: [{ pattern: /build/g, role: 'code' }],
    });
    for (let i = 0; i < 3; i++) expect(m.routeMessage('a build').route.role).toBe('code');
  });

  it('checks its roles at creation', () => {
    const router = createRouter({ roles: ROLES });
    expect(() => createMessageRouter({ router, defaultRole: 'nope' })).toThrow(UnknownRoleError);
    expect(() =>
      createMessageRouter({ router, defaultRole: 'fast', patterns: [{ pattern: /x/, role: 'nope' }] }),
    ).toThrow(UnknownRoleError);
    expect(() =>
      createMessageRouter({
        router,
        defaultRole: 'fast',
        patterns: [{ pattern: 'x' as never, role: 'deep' }],
      }),
    ).toThrow(TypeError);
    expect(() => createMessageRouter({ router, defaultRole: 'fast', tagPrefix: '' })).toThrow(TypeError);
  });

  it('takes another tag prefix, escaped', () => {
    const m = createMessageRouter({
      router: createRouter({ roles: ROLES }),
      defaultRole: 'fast',
      tagPrefix: '+',
    });
    expect(m.routeMessage('+deep go')).toMatchObject({ route: { role: 'deep' }, text: 'go', reason: 'tag' });
    expect(m.routeMessage('!deep go').reason).toBe('default');
  });

  it('routes a tag through the live overrides', () => {
    const { file, make } = setup();
    writeOverrides(file, { roles: { deep: { model: 'claude-opus-4-5', effort: 'medium' } } });
    expect(messages(make()).routeMessage('!deep go').route).toEqual({
      role: 'deep',
      model: 'claude-opus-4-5',
      effort: 'medium',
      provider: 'anthropic',
      source: 'override',
    });
  });
});

describe('routeAttributes', () => {
  it('gives the meter scope tags that record role, model and effort on the events', async () => {
    const router = createRouter({ roles: ROLES });
    expect(routeAttributes(router.route('deep'))).toEqual({
      tags: { role: 'deep', model: 'claude-opus-4-1', effort: 'high' },
    });
    expect(routeAttributes(router.route('fast'))).toEqual({
      tags: { role: 'fast', model: 'claude-haiku-4-5' },
    });

    const ctx = new MeterContext();
    const attrs: MeterAttrs = { ...routeAttributes(router.route('deep')), run: 'r1', task: 'triage' };
    const seen = await ctx.run({ tags: { team: 'infra' } }, () =>
      ctx.run(attrs, async () => {
        await Promise.resolve();
        return attributionOf(ctx.current());
      }),
    );
    expect(seen).toMatchObject({
      run: 'r1',
      task: 'triage',
      tags: { team: 'infra', role: 'deep', model: 'claude-opus-4-1', effort: 'high' },
    });
  });
});
