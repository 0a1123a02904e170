/**
 * McpqClient.status() while the broker is away: the read rides out the
 * outage within its bound (the test's own nats-server is stopped and
 * restarted on the same store), and past the bound it fails with a typed
 * `nats_error`, not an untyped NATS timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, McpqError } from '@mcpq/shared';
import { createHarness, type Harness } from '../helpers/harness.js';
import { rejectionOf } from '../helpers/assertions.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h.close();
});

describe('status() while nats-server is down', () => {
  it('returns the record once the server is back; with a bound shorter than the outage, fails with nats_error', async () => {
    const { callId } = await h.client.submit('demo', 'echo', { text: 'still here' });
    expect((await h.client.result(callId, { timeoutMs: 30_000 })).status).toBe('completed');

    await h.nats.stop();
    const long = h.client.status(callId, { timeoutMs: 60_000 });
    const short = h.client.status(callId, { timeoutMs: 1_000 });
    // The short read gives up during the outage (its one read times out): the long one has then
    // failed at least once too, so only its retries can bring it the record.
    const err = await rejectionOf(short, McpqError);
    expect(err.code).toBe(ErrorCode.nats_error);
    expect(err.message).toMatch(/cannot read KV_/);
    await h.nats.restart();

    expect(await long).toMatchObject({ callId, status: 'completed', tool: 'echo' });
  });

  it('refuses a malformed call id at once with invalid_request (no retries)', async () => {
    const err = await rejectionOf(h.client.status('not a call id', { timeoutMs: 60_000 }), McpqError);
    expect(err.code).toBe(ErrorCode.invalid_request);
  });
});
