/**
 * Records of quiet calls do not expire (issue 14): with `streams.callsTtlMs`
 * of 3 s, a call that sends nothing for 9 s keeps its record (the services
 * rewrite it once it is a third of its TTL old) and gets its result; a TTL
 * below what a live call may need is refused at start-up.
 */
import { loadConfig } from '@mcpq/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

const QUICK = {
  submitter: { ackWaitMs: 1_000, dispatchTimeoutMs: 1_000, retryBaseMs: 100, retryMaxMs: 500 },
  joiner: {
    ackWaitMs: 1_000,
    heartbeatMs: 300,
    idleTimeoutMs: 1_000,
    pollMinMs: 100,
    pollMaxMs: 500,
    parkLeaseMs: 500,
    retryBaseMs: 100,
    retryMaxMs: 500,
  },
  limits: { maxRetryAfterMs: 500 },
};

let h: Harness;
beforeAll(async () => {
  h = await createHarness({
    servers: { quiet: {}, tasks: { tasks: true, taskPollMs: 200 }, held: { eventStore: false } },
    config: { ...QUICK, streams: { callsTtlMs: 3_000 } },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h?.close();
});

describe('record lifetime', () => {
  it('a resumed call quiet for three TTLs keeps its record and completes', async () => {
    const { callId } = await h.client.submit('quiet', 'slow', { durationMs: 9_000, steps: 1 });
    const r = await h.client.result(callId, { timeoutMs: 40_000 });
    expect(r.status).toBe('completed');
    expect((await h.record(callId))?.status).toBe('completed');
  });

  it('a task quiet for three TTLs keeps its record and completes', async () => {
    const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 9_000, steps: 1 });
    const r = await h.client.result(callId, { timeoutMs: 40_000 });
    expect(r.status).toBe('completed');
  });

  it('a held call (hold mode) quiet for three TTLs keeps its record and completes', async () => {
    const { callId } = await h.client.submit('held', 'slow', { durationMs: 9_000, steps: 1 });
    const r = await h.client.result(callId, { timeoutMs: 40_000 });
    expect(r.status).toBe('completed');
    expect(r.mode).toBe('hold');
  });

  it('a TTL below three times the longest quiet time is refused at start-up, naming the field', () => {
    expect(() => loadConfig({ config: { streams: { callsTtlMs: 60_000 } }, env: {} })).toThrow(/streams\.callsTtlMs .* at least 180000/);
    expect(() => loadConfig({ config: { ...QUICK, streams: { callsTtlMs: 3_000 } }, env: {} })).not.toThrow();
  });
});
