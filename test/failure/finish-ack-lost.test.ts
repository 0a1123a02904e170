/**
 * The submitter's fast path ends a call with a write of the record whose
 * acknowledgement never comes back: the write reached NATS, then the
 * connection dropped (NatsCutProxy, a fault injector in front of the real
 * nats-server, passes the write on whole and cuts the submitter's connection
 * before the answer). The retry's compare-and-set then finds the record
 * changed — by this very write. It happens on the request's last delivery
 * (maxDeliver 2; the first one met a 503 from FaultProxy), so a nak would
 * leave nobody to publish the result: the call must still end with the
 * tool's answer, published exactly once, and no dead letter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { NatsCutProxy } from '../helpers/nats-cut-proxy.js';

let h: Harness;
const cutters: NatsCutProxy[] = [];
/** A fault injector in front of the test's nats-server that loses the answer to the write ending a call. */
async function cutter(): Promise<NatsCutProxy> {
  const record = `$KV.${h.names.bucket}.`;
  const c = await NatsCutProxy.start(
    h.nats.url,
    (subject, payload) => subject.startsWith(record) && payload.includes('"status":"completed"'),
  );
  cutters.push(c);
  return c;
}
beforeAll(async () => {
  h = await createHarness({
    servers: { demo: { proxied: true } },
    // The joiner's AckWait stays the tests' 3 s: a lost answer costs a request timeout (5 s) first,
    // and the joiner still retries its write (it rides out NATS for AckWait plus that timeout,
    // joinRideOutMs, its heartbeat keeping the join meanwhile).
    config: { submitter: { maxDeliver: 2 } },
  });
});
afterAll(async () => {
  await h.close();
  await Promise.all(cutters.map((c) => c.close()));
});

describe('the fast path loses the acknowledgement of its final write', () => {
  it("on the request's last delivery: the tool's answer is the result, published once, no dead letter", async () => {
    const cut = await cutter();
    await h.start('submitter', { NATS_URL: cut.url }); // no joiner yet: only the fast path can finish the call
    h.proxies.demo!.inject({ match: 'tools/call', action: { kind: 'status', status: 503 }, times: 1 });
    const { callId } = await h.client.submit('demo', 'echo', { text: 'once' });

    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(cut.cuts).toBe(1);
    expect(h.proxies.demo!.count('tools/call', 'status')).toBe(1);
    expect(result.status).toBe('completed');
    expect(result.result?.content).toEqual([{ type: 'text', text: 'once' }]);
    expect(result.attempts).toBe(2);
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
    expect(h.mcp.demo!.stats().executions.echo).toEqual({ [callId]: 1 });
    expect(await h.deadLetters()).toEqual([]);
    // The request leaves the queue (acked once the result is out), not dead-lettered.
    const jsm = await h.jsm();
    await waitFor(
      'the request to leave the queue',
      async () => (await jsm.streams.info(h.names.streams.submit)).state.messages === 0,
      10_000,
    );
    expect(await h.deadLetters()).toEqual([]);
  });

  it("in the joiner: it ends the call itself with the tool's answer (not by finding it ended), published once", async () => {
    const cut = await cutter();
    const joiner = await h.start('joiner', { NATS_URL: cut.url });
    await h.start('submitter'); // straight to NATS (the first test's may be there too)
    // Longer than the submitter's answer window: the call is handed to the joiner, which writes its end.
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 1_500, steps: 2, label: 'joined' });

    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(cut.cuts).toBe(1);
    expect(result.status).toBe('completed');
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
    expect(h.mcp.demo!.stats().executions.slow).toEqual({ [callId]: 1 });
    // Logged after the result is out: waited for. Finding the call ended instead would log "letting go".
    const lines = () => joiner.raw.filter((l) => l.includes(callId));
    await waitFor(
      'the joiner to log how the call ended',
      () => lines().some((l) => /"msg":"(call finished|.*letting go)"/.test(l)),
      10_000,
    );
    expect(lines().filter((l) => l.includes('"msg":"call finished"'))).toHaveLength(1);
    expect(lines().filter((l) => l.includes('letting go'))).toEqual([]);
  });
});
