/**
 * Input bounds (arguments and results) and secrets: header secrets and NATS
 * credentials given through the environment reach the MCP server and NATS,
 * and nowhere else: not the call records, not the events, not the dead
 * letters, not the logs.
 */
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliverPolicy } from '@nats-io/jetstream';
import { startNatsServer } from '@mcpq/testkit';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

const HEADER_SECRET = 'Bearer hdr-secret-7f3a9c';
const NATS_PASSWORD = 'nats-secret-41b2e8';

let h: Harness;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpq-secrets-'));
  writeFileSync(join(dir, 'server.conf'), `authorization { users: [ { user: "svc", password: "${NATS_PASSWORD}" } ] }\n`);
  const nats = await startNatsServer({ args: ['-c', join(dir, 'server.conf')] });
  const env = { SECURE_MCP_TOKEN: HEADER_SECRET, SECURE_NATS_PASSWORD: NATS_PASSWORD };
  h = await createHarness({
    nats,
    configEnv: env,
    clientNatsOptions: { user: 'svc', pass: NATS_PASSWORD },
    servers: { secure: { requireAuthorization: HEADER_SECRET, settings: { headers: { authorization: { env: 'SECURE_MCP_TOKEN' } } } } },
    config: {
      nats: { user: 'svc', password: { env: 'SECURE_NATS_PASSWORD' } },
      limits: { maxArgumentsBytes: 4_096, maxResultBytes: 10_000 },
      log: { level: 'debug' },
    },
  });
  await h.start('submitter', env);
  await h.start('joiner', env);
});
afterAll(async () => {
  await h.close();
});

describe('input bounds', () => {
  it('arguments over limits.maxArgumentsBytes end arguments_too_large', async () => {
    const { callId } = await h.client.submit('secure', 'echo', { text: 'y'.repeat(5_000) });
    const r = await h.client.result(callId, { timeoutMs: 20_000 });
    expect(r.error?.code).toBe('arguments_too_large');
  });

  it('a result over limits.maxResultBytes ends failed / result_too_large with its size; a smaller one completes', async () => {
    const big = await h.client.submit('secure', 'big', { bytes: 20_000 });
    const r = await h.client.result(big.callId, { timeoutMs: 20_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('result_too_large');
    expect((r.error?.data as { bytes: number }).bytes).toBeGreaterThan(20_000);
    expect(r.result).toBeUndefined();
    const small = await h.client.submit('secure', 'big', { bytes: 5_000 });
    expect((await h.client.result(small.callId, { timeoutMs: 20_000 })).status).toBe('completed');
  });
});

describe('secrets', () => {
  it('reach the MCP server and NATS, and appear in no record, event, dead letter or log line', async () => {
    // Calls that succeed (so the header did reach the server), fail, and a dead letter.
    const ok = await h.client.submit('secure', 'slow', { durationMs: 300, steps: 2 });
    expect((await h.client.result(ok.callId, { timeoutMs: 20_000 })).status).toBe('completed');
    const nope = await h.client.submit('secure', 'no_such_tool', {});
    expect((await h.client.result(nope.callId, { timeoutMs: 20_000 })).error?.code).toBe('unknown_tool');
    await h.js.publish(h.names.submit('secure'), 'not json');
    await waitFor('the dead letter', async () => (await h.deadLetters()).length > 0);

    const everything: string[] = [];
    for (const stream of [h.names.streams.events, h.names.streams.dlq, `KV_${h.names.bucket}`]) {
      const consumer = await h.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
      const pending = (await consumer.info(true)).num_pending;
      if (pending === 0) continue;
      const batch = await consumer.fetch({ max_messages: 10_000, expires: 2_000 });
      for await (const m of batch) {
        everything.push(m.subject, new TextDecoder().decode(m.data), JSON.stringify(m.headers ? [...m.headers] : []));
        if (m.info.pending === 0) break;
      }
    }
    for (const s of h.services) everything.push(...s.raw);
    expect(everything.length).toBeGreaterThan(20);
    const leaks = everything.filter((text) => text.includes('hdr-secret-7f3a9c') || text.includes(NATS_PASSWORD));
    expect(leaks).toEqual([]);
  });
});
