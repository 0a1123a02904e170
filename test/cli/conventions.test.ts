/**
 * Command-line conventions operators expect: the services answer --help and
 * --version instead of starting; `mcpq` takes the `nats` command's
 * connection flags and variables (--server/-s, --user/--password, --creds;
 * NATS_URL, NATS_USER, NATS_PASSWORD, NATS_CREDS); a call's deadline
 * (`call --timeout`) and a command's wait bound (`--max-wait`) have
 * different names.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { loadConfig, provision } from '@mcpq/shared';
import { ENTRY, freePort, REPO_ROOT, startNatsServer, type NatsServer } from '@mcpq/testkit';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [script, ...args],
      {
        env: { ...process.env, MCPQ_CONFIG: '', NATS_URL: '', NATS_USER: '', NATS_PASSWORD: '', NATS_CREDS: '', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      },
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

const version = (pkg: string) => (JSON.parse(readFileSync(`${REPO_ROOT}${pkg}/package.json`, 'utf8')) as { version: string }).version;

describe('services', () => {
  for (const name of ['submitter', 'joiner', 'gateway'] as const) {
    it(`${name} --version prints its version and --help its usage, without connecting to NATS`, async () => {
      // A NATS URL where nothing listens: a service that tried to start would fail or hang, not exit 0.
      const nowhere = { NATS_URL: `nats://127.0.0.1:${await freePort()}` };
      const script = `${REPO_ROOT}services/${name}/dist/main.js`;
      const v = await node(script, ['--version'], nowhere);
      expect(v).toMatchObject({ code: 0, stdout: `${version(`services/${name}`)}\n` });
      const help = await node(script, ['--help'], nowhere);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`usage: node services/${name}/dist/main.js`));
      expect(help.stdout).toMatch(/MCPQ_CONFIG/);
    });
  }

  it('a service refuses an argument it does not know instead of ignoring it', async () => {
    const r = await node(ENTRY.joiner, ['--config', 'x.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown argument "--config" \(configuration comes from the environment\)/);
  });
});

describe('mcpq connection flags and variables, like the nats command', () => {
  let nats: NatsServer;
  const prefix = 'conv';
  beforeAll(async () => {
    nats = await startNatsServer({ args: ['--user', 'alice', '--pass', 's3cret'] });
    const nc = await connect({ servers: nats.url, user: 'alice', pass: 's3cret' });
    await provision(nc, loadConfig({ config: { prefix }, env: {} }));
    await nc.close();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  const mcpq = (args: string[], env: NodeJS.ProcessEnv = {}) => node(ENTRY.cli, args, { MCPQ_PREFIX: prefix, ...env });

  it('--server/-s, --user and --password connect (flags anywhere on the line)', async () => {
    expect((await mcpq(['--server', nats.url, '--user', 'alice', '--password', 's3cret', 'ls', '--json'])).code).toBe(0);
    expect((await mcpq(['ls', '-s', nats.url, '--user=alice', '--password=s3cret', '--json'])).code).toBe(0);
  });

  it('NATS_URL, NATS_USER and NATS_PASSWORD do the same; a flag wins over its variable', async () => {
    const env = { NATS_URL: nats.url, NATS_USER: 'alice', NATS_PASSWORD: 's3cret' };
    expect((await mcpq(['ls', '--json'], env)).code).toBe(0);
    const wrong = await mcpq(['ls', '--json', '--password', 'wrong'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/auth|Authorization/i);
  });

  it('NATS_CREDS, NATS_USER and NATS_PASSWORD reach the services through the same config loader (the password stays a reference)', () => {
    const config = loadConfig({ config: {}, env: { NATS_CREDS: '/etc/nats/mcpq.creds', NATS_USER: 'bob', NATS_PASSWORD: 'pw' } });
    expect(config.nats).toMatchObject({ credsFile: '/etc/nats/mcpq.creds', user: 'bob', password: { env: 'NATS_PASSWORD' } });
  });

  it("watch and result bound their wait with --max-wait; --timeout (a call's deadline) is refused there with a pointer", async () => {
    const env = { NATS_URL: nats.url, NATS_USER: 'alice', NATS_PASSWORD: 's3cret' };
    const refused = await mcpq(['result', 'no-such-call', '--timeout', '1s'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--timeout is the call's deadline .* use --max-wait/);
    const bounded = await mcpq(['result', 'no-such-call', '--max-wait', '300ms', '--json'], env);
    expect(bounded.code).toBe(6);
  });

  it('mcpq --version prints the version of @mcpq/client', async () => {
    expect(await mcpq(['--version'])).toMatchObject({ code: 0, stdout: `${version('packages/client')}\n` });
  });
});
