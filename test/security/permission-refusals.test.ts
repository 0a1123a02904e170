/**
 * A read NATS refuses for want of permission fails at once with that
 * reason, instead of being retried until the read's bound as if NATS were
 * briefly down: asking again cannot change a permission. (nats.js reports
 * the refusal as a RequestError caused by a PermissionViolationError, a
 * few milliseconds after the request.)
 *
 * A nats-server with two users in one JetStream account: `admin` may do
 * anything (it provisions mcpq), `reader` may not make the direct gets and
 * message gets mcpq's client reads records and results with.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { McpqClient } from '@mcpq/client';
import { ErrorCode, loadConfig, provision } from '@mcpq/shared';
import { startNatsServer, type NatsServer } from '@mcpq/testkit';

const CONF = `
accounts {
  APP {
    jetstream: enabled
    users: [
      { user: admin, password: admin-pw }
      { user: reader, password: reader-pw, permissions: { publish: { deny: ["$JS.API.DIRECT.GET.>", "$JS.API.STREAM.MSG.GET.>"] } } }
    ]
  }
}
`;
const prefix = 'perm';
let nats: NatsServer;
let admin: NatsConnection;
let reader: NatsConnection;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-perm-'));
  writeFileSync(join(dir, 'server.conf'), CONF);
  nats = await startNatsServer({ args: ['-c', join(dir, 'server.conf')] });
  admin = await connect({ servers: nats.url, user: 'admin', pass: 'admin-pw' });
  await provision(admin, loadConfig({ config: { prefix, servers: { demo: { url: 'http://127.0.0.1:9/mcp' } } }, env: {} }));
  reader = await connect({ servers: nats.url, user: 'reader', pass: 'reader-pw' });
});
afterAll(async () => {
  await reader?.close();
  await admin?.close();
  await nats?.dispose();
});

// Each read is given a bound far longer than the test's timeout: only a read that fails at once passes.
describe('a read refused by NATS permissions', { timeout: 20_000 }, () => {
  it('status() fails at once with the refusal, not after its 60 s bound', async () => {
    const client = new McpqClient(reader, { prefix });
    await expect(client.status('aaaaaaaaaaaaaaaaaaaaaa', { timeoutMs: 60_000 })).rejects.toMatchObject({
      code: ErrorCode.nats_error,
      message: expect.stringMatching(/Permissions Violation/),
    });
  });

  it('result() fails at once with the refusal, not after its 60 s bound', async () => {
    const client = new McpqClient(reader, { prefix });
    await expect(client.result('bbbbbbbbbbbbbbbbbbbbbb', { timeoutMs: 60_000 })).rejects.toMatchObject({
      code: ErrorCode.nats_error,
      message: expect.stringMatching(/Permissions Violation/),
    });
  });

  it('the same reads as admin work (the refusal is the permission, nothing else)', async () => {
    const client = new McpqClient(admin, { prefix });
    expect(await client.status('aaaaaaaaaaaaaaaaaaaaaa', { timeoutMs: 5_000 })).toBeNull();
  });
});
