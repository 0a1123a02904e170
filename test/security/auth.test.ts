/**
 * Every standard NATS credential: user/password, token, NKey seed file,
 * .creds file (operator JWTs), TLS with client certificates. For each, a
 * nats-server that demands it, services and a caller configured with it
 * (secrets from the environment or files), and one call end to end.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAccount, createOperator, createUser } from '@nats-io/nkeys';
import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';
import { readFileSync } from 'node:fs';
import { startNatsServer } from '@mcpq/testkit';
import type { ConfigInput } from '@mcpq/shared';
import { createHarness, type Harness } from '../helpers/harness.js';
import { createTestPki } from '../helpers/test-pki.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const dir = () => mkdtempSync(join(tmpdir(), 'mcpq-auth-'));

interface Setup {
  /** nats-server config lines. */
  server: string[];
  /** The mcpq config's nats section (besides servers). */
  nats: NonNullable<ConfigInput['nats']>;
  /** How the test's own connections authenticate. */
  client: Partial<ConnectionOptions>;
  env?: Record<string, string>;
  url?: (port: number) => string;
}

async function runCallWith(setup: Setup): Promise<void> {
  const d = dir();
  const conf = join(d, 'server.conf');
  writeFileSync(conf, setup.server.join('\n'));
  Object.assign(process.env, setup.env);
  const nats = await startNatsServer({ args: ['-c', conf] });
  h = await createHarness({ nats, clientNatsOptions: setup.client, config: { nats: { ...setup.nats } } });
  // the harness writes nats.servers itself; services read the rest of the nats section from the config file
  const submitter = await h.start('submitter', setup.env ?? {});
  await h.start('joiner', setup.env ?? {});
  const { callId } = await h.client.submit('demo', 'slow', { durationMs: 300, steps: 2 });
  const r = await h.client.result(callId, { timeoutMs: 20_000 });
  expect(r.status).toBe('completed');
  expect(submitter.running).toBe(true);
}

describe('NATS credentials', () => {
  it('user and password (password from the environment)', async () => {
    await runCallWith({
      server: ['authorization { users: [ { user: "svc", password: "pw-from-env-1" } ] }'],
      nats: { user: 'svc', password: { env: 'TEST_NATS_PASSWORD' } },
      client: { user: 'svc', pass: 'pw-from-env-1' },
      env: { TEST_NATS_PASSWORD: 'pw-from-env-1' },
    });
  });

  it('token (from a file)', async () => {
    const d = dir();
    writeFileSync(join(d, 'token'), 's3cr3t-token\n');
    await runCallWith({
      server: ['authorization { token: "s3cr3t-token" }'],
      nats: { token: { file: join(d, 'token') } },
      client: { token: 's3cr3t-token' },
    });
  });

  it('NKey seed file', async () => {
    const user = createUser();
    const d = dir();
    const seedFile = join(d, 'user.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()));
    await runCallWith({
      server: [`authorization { users: [ { nkey: "${user.getPublicKey()}" } ] }`],
      nats: { nkeySeedFile: seedFile },
      client: { authenticator: nkeyAuthenticator(user.getSeed()) },
    });
  });

  it('.creds file (operator, account and user JWTs)', async () => {
    const operator = createOperator();
    const system = createAccount();
    const account = createAccount();
    const user = createUser();
    const operatorJwt = await encodeOperator('mcpq-test', operator, { system_account: system.getPublicKey() });
    const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
    // Every limit spelled out: a limit left out of an account JWT means 0 (no connections at all).
    const limits = {
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    };
    const accountJwt = await encodeAccount('APP', account, { limits }, { signer: operator });
    const userJwt = await encodeUser('svc', user, account);
    const d = dir();
    const credsFile = join(d, 'svc.creds');
    writeFileSync(credsFile, fmtCreds(userJwt, user));
    await runCallWith({
      server: [
        `operator: "${operatorJwt}"`,
        `system_account: "${system.getPublicKey()}"`,
        'resolver: MEMORY',
        `resolver_preload: { "${system.getPublicKey()}": "${systemJwt}", "${account.getPublicKey()}": "${accountJwt}" }`,
      ],
      nats: { credsFile },
      client: { authenticator: credsAuthenticator(readFileSync(credsFile)) },
    });
  });

  it('TLS with a client certificate (mutual TLS)', async () => {
    const pki = createTestPki(dir());
    const server = pki.issue('server', ['IP:127.0.0.1', 'DNS:localhost']);
    const client = pki.issue('client', ['IP:127.0.0.1', 'DNS:localhost']);
    const tls = { caFile: pki.caFile, certFile: client.certFile, keyFile: client.keyFile };
    await runCallWith({
      server: [`tls { cert_file: "${server.certFile}", key_file: "${server.keyFile}", ca_file: "${pki.caFile}", verify: true }`],
      nats: { tls },
      client: { tls },
    });
  });
});
