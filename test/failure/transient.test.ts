/**
 * Transient upstream failures: refused connections, 5xx, 429 with
 * Retry-After, servers that never answer. Retried with backoff, visible as
 * `queued` status events and in `attempts`, bounded by deliveries and by the
 * call's deadline, then `failed / server_unreachable` with the last cause.
 * (Faults are injected by FaultProxy, a fault injector in front of a real server.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';
import { freePort } from '@mcpq/testkit';

let h: Harness;
beforeAll(async () => {
  const closed = await freePort(); // nothing listens here: connections are refused
  h = await createHarness({
    servers: { flaky: { proxied: true }, slowpoke: { proxied: true, settings: { requestTimeoutMs: 500 } } },
    config: {
      servers: { down: { url: `http://127.0.0.1:${closed}/mcp` } },
      submitter: { maxDeliver: 4 },
    },
  });
  await h.start('submitter');
  await h.start('joiner');
});
afterAll(async () => {
  await h.close();
});

const retries = async (callId: string) =>
  (await h.storedEvents(callId)).status.filter((s) => s.status === 'queued' && s.detail?.startsWith('retrying'));

describe('transient upstream failures', () => {
  it('connection refused: retried, then failed / server_unreachable with the last cause; attempts and status events show the retries', async () => {
    const { callId } = await h.client.submit('down', 'echo', { text: 'x' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('server_unreachable');
    expect(r.error?.message).toMatch(/gave up after 4 attempts/);
    expect(JSON.stringify(r.error?.data)).toMatch(/ECONNREFUSED|fetch failed/);
    expect(r.attempts).toBe(4);
    expect(await retries(callId)).toHaveLength(3);
  });

  it('HTTP 503 twice, then the server answers: the call completes after two retries', async () => {
    h.proxies.flaky!.inject({ match: 'tools/call', action: { kind: 'status', status: 503 }, times: 2 });
    const { callId } = await h.client.submit('flaky', 'echo', { text: 'after 503' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    expect(r.attempts).toBe(3);
    expect(await retries(callId)).toHaveLength(2);
    expect(h.proxies.flaky!.count('tools/call', 'status')).toBe(2);
  });

  it('HTTP 429 with Retry-After: 1 waits the second the server asked for', async () => {
    h.proxies.flaky!.inject({ match: 'tools/call', action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, times: 1 });
    const { callId } = await h.client.submit('flaky', 'echo', { text: 'after 429' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    const [retry] = await retries(callId);
    expect(retry!.detail).toMatch(/^retrying in 1\d\d\d ms: .*HTTP 429/);
  });

  it('a server that never answers: each request times out (requestTimeoutMs), then server_unreachable', async () => {
    h.proxies.slowpoke!.inject({ match: 'initialize', action: { kind: 'hang' } });
    const { callId } = await h.client.submit('slowpoke', 'echo', { text: 'x' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.error?.code).toBe('server_unreachable');
    expect(JSON.stringify(r.error?.data)).toMatch(/no answer within 500 ms/);
    h.proxies.slowpoke!.clear();
  });

  it("retries stop at the call's deadline: timeout, with the last failure as its cause", async () => {
    const { callId } = await h.client.submit('down', 'echo', { text: 'x' }, { timeoutMs: 600 });
    const r = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(r.status).toBe('timeout');
    expect(r.error?.code).toBe('timeout');
    expect((r.error?.data as { cause?: { code?: string } }).cause?.code).toBe('server_unreachable');
  });
});
