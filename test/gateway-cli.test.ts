import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteShared } from '../src/store/shared.js';
import { runCli } from './helpers/cli.js';
import { type FakeProviders, startFakeProviders } from './helpers/fake-providers.js';
import { dirBytes, rawRequest } from './helpers/gateway.js';
import { CLI_MAIN } from './helpers/paths.js';
import { removeTempDirs, tempDir } from './helpers/tmp.js';

const PROVIDER_KEY = 'sk-ant-api03-cli-held-key-never-logged';

let fake: FakeProviders;
beforeAll(async () => {
  fake = await startFakeProviders();
});
afterAll(() => fake.close());
afterEach(() => removeTempDirs());

describe('tokenledger keys', () => {
  it('creates a key shown once, lists it without its secret, revokes it', async () => {
    const home = tempDir();
    const created = await runCli(
      ['keys', 'create', '--tenant', 'acme', '--budget', '100/30d', '--label', 'ci'],
      {
        home,
      },
    );
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^tlk_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/^key_[0-9a-f]{12} · tenant acme · budget \$100 per 30d · label "ci"/);
    expect(created.stderr).toMatch(/only time the key is shown/);
    const id = /^(key_[0-9a-f]{12})/.exec(created.stderr)![1]!;

    const listed = await runCli(['keys', 'list', '--json'], { home });
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        id,
        tenant: 'acme',
        createdAt: expect.any(String),
        label: 'ci',
        budget: { limitUsd: 100, window: '30d' },
        budgetSpentUsd: 0,
      },
    ]);
    const table = await runCli(['keys', 'list'], { home });
    expect(table.stdout).toMatch(
      new RegExp(`${id}\\s+acme\\s+\\S+ \\S+\\s+active\\s+\\$100 per 30d\\s+\\$0.00\\s+ci`),
    );
    expect(dirBytes(home)).not.toContain(key);

    expect((await runCli(['keys', 'revoke', id], { home })).stdout).toMatch(`revoked ${id}`);
    const again = await runCli(['keys', 'revoke', id], { home });
    expect([again.code, again.stderr]).toEqual([
      1,
      `tokenledger: no active key ${id} (unknown or already revoked)\n`,
    ]);
    expect(
      JSON.parse((await runCli(['keys', 'list', '--json'], { home })).stdout)[0].revokedAt,
    ).toBeDefined();
  });

  it('usage errors exit 2', async () => {
    const home = tempDir();
    for (const args of [
      ['keys', 'create'],
      ['keys', 'create', '--tenant', 'acme', '--budget', 'lots'],
      ['keys', 'create', '--tenant', 'two words'],
      ['keys', 'frobnicate'],
      ['gateway', '--budget', 'colour=red:1/1d'],
      ['gateway', '--port', 'eighty'],
    ]) {
      const r = await runCli(args, { home });
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
    }
  });
});

describe('tokenledger gateway', () => {
  it('serves, meters a call with a key from `keys create`, and writes the ledger on SIGTERM', async () => {
    const home = tempDir();
    const key = (await runCli(['keys', 'create', '--tenant', 'acme'], { home })).stdout.trim();
    const child = spawn(
      process.execPath,
      [CLI_MAIN, 'gateway', '--port', '0', '--anthropic-upstream', fake.url, '--openai-upstream', fake.url],
      {
        cwd: home,
        env: {
          ...process.env,
          TOKENLEDGER_HOME: home,
          HOME: home,
          ANTHROPIC_API_KEY: PROVIDER_KEY,
          OPENAI_API_KEY: '',
          TOKENLEDGER_ADMIN_TOKEN: 'cli-admin',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 15_000);
        child.stdout.on('data', () => {
          const m = /listening on (http:\/\/\S+)/.exec(stdout);
          if (m && stdout.includes('spend API')) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      expect(stdout).toMatch(
        /anthropic {2}http:\/\/127\.0\.0\.1:\d+ \(key held \(\$ANTHROPIC_API_KEY\); client keys refused\)/,
      );
      expect(stdout).toMatch(/openai {5}http:\/\/127\.0\.0\.1:\d+ \(no key held; client keys forwarded\)/);
      const msg = await new Anthropic({ apiKey: key, baseURL: url, maxRetries: 0 }).messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hello through the CLI gateway' }],
      });
      expect(msg.id).toMatch(/^msg_fake/);
      const spend = await rawRequest(url, '/v1/spend?by=model', {
        method: 'GET',
        headers: { authorization: 'Bearer cli-admin' },
      });
      expect(JSON.parse(spend.body.toString()).totals.events).toBe(1);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"path":"\/v1\/messages","status":200/);
    expect(stderr).toMatch(/shutting down/);
    expect(stderr + stdout).not.toContain(PROVIDER_KEY);
    const store = openSqliteShared(join(home, 'ledger.db'));
    try {
      const events = await store.events();
      expect(events.map((e) => [e.source, e.model, e.attribution.tags?.tenant])).toEqual([
        ['gateway', 'claude-haiku-4-5', 'acme'],
      ]);
    } finally {
      await store.close();
    }
  });
});
