/**
 * A request whose every delivery dies with its submitter (here: the MCP
 * server never answers initialize — through the FaultProxy fault injector —
 * and each submitter is SIGKILLed while waiting) exhausts its deliveries.
 * It must not sit in the queue forever: it becomes a dead letter with the
 * original payload and the call gets a failed result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ servers: { gate: { proxied: true } }, config: { submitter: { maxDeliver: 2, ackWaitMs: 2_000 } } });
});
afterAll(async () => {
  await h.close();
});

describe('exhausted deliveries', () => {
  it('become a dead letter on <prefix>.dlq.exhausted and a failed / delivery_exhausted result, and leave the queue', async () => {
    const proxy = h.proxies.gate!;
    proxy.inject({ match: 'initialize', action: { kind: 'hang' } });
    let submitter = await h.start('submitter');
    const { callId } = await h.client.submit('gate', 'echo', { text: 'never' });
    for (let delivery = 1; delivery <= 2; delivery++) {
      if (delivery > 1) submitter = await h.start('submitter');
      await waitFor(`delivery ${delivery} stuck in initialize`, () => proxy.count('initialize') >= delivery, 30_000);
      submitter.kill('SIGKILL');
      await submitter.exited;
    }
    proxy.clear();
    await h.start('submitter');
    const r = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('delivery_exhausted');
    const letter = await waitFor('the dead letter', async () => (await h.deadLetters()).find((d) => d.callId === callId));
    expect(letter).toMatchObject({ reason: 'exhausted', code: 'delivery_exhausted', subject: h.names.submit('gate'), deliveries: 2 });
    expect(JSON.parse(letter.payload!)).toMatchObject({ callId, tool: 'echo' });
    const jsm = await h.jsm();
    await waitFor('the submit queue is empty', async () => (await jsm.streams.info(h.names.streams.submit)).state.messages === 0);
    expect(h.mcp.gate!.stats().started).toBe(0);
  });
});
