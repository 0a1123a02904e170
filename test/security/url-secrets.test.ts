/**
 * Secrets in configured URLs (issue 14): a server URL with user info and an
 * `?api_key=` reaches the server (user info as Basic auth) and appears in no
 * status event, record, result, dead letter or log line, also when every
 * request to it fails.
 */
import { DeliverPolicy } from '@nats-io/jetstream';
import { freePort } from '@mcpq/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

const SECRETS = ['pw-secret-3e81', 'url-secret-5c2f', 'down-pw-0a9b', 'down-key-77d1'];
let h: Harness;

beforeAll(async () => {
  const port = await freePort();
  const closed = await freePort(); // nothing listens here
  h = await createHarness({
    servers: {
      keyed: {
        port,
        requireAuthorization: `Basic ${Buffer.from('bob:pw-secret-3e81').toString('base64')}`,
        settings: { url: `http://bob:pw-secret-3e81@127.0.0.1:${port}/mcp?api_key=url-secret-5c2f` },
      },
    },
    config: {
      servers: { down: { url: `http://carol:down-pw-0a9b@127.0.0.1:${closed}/mcp?api_key=down-key-77d1` } },
      submitter: { maxDeliver: 2 },
      log: { level: 'debug' },
    },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

describe('secrets in configured URLs', () => {
  it('reach the server (user info as Basic auth, the query as it is) and appear nowhere mcpq writes', async () => {
    const ok = await h.client.submit('keyed', 'slow', { durationMs: 200, steps: 2 });
    expect((await h.client.result(ok.callId, { timeoutMs: 30_000 })).status).toBe('completed');
    const down = await h.client.submit('down', 'echo', { text: 'x' });
    const failed = await h.client.result(down.callId, { timeoutMs: 30_000 });
    expect(failed.error?.code).toBe('server_unreachable');
    expect(JSON.stringify(failed.error)).toMatch(/\[REDACTED\]/);

    const everything: string[] = [];
    for (const stream of [h.names.streams.events, h.names.streams.dlq, `KV_${h.names.bucket}`]) {
      const consumer = await h.js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
      if ((await consumer.info(true)).num_pending === 0) continue;
      const batch = await consumer.fetch({ max_messages: 10_000, expires: 2_000 });
      for await (const m of batch) {
        everything.push(m.subject, new TextDecoder().decode(m.data));
        if (m.info.pending === 0) break;
      }
    }
    for (const s of h.services) everything.push(...s.raw);
    expect(everything.length).toBeGreaterThan(20);
    expect(everything.filter((text) => SECRETS.some((secret) => text.includes(secret)))).toEqual([]);
  });
});
