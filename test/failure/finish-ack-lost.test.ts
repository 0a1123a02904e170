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
import { createHarness, type Harness } from '../helpers/harness.js';
import { NatsCutProxy } from '../helpers/nats-cut-proxy.js';

let h: Harness;
let cutter: NatsCutProxy;
beforeAll(async () => {
  h = await createHarness({ servers: { demo: { proxied: true } }, config: { submitter: { maxDeliver: 2 } } });
  const record = `$KV.${h.names.bucket}.`;
  // The write that ends a call: its record's subject, and the call's result in it.
  cutter = await NatsCutProxy.start(h.nats.url, (subject, payload) => subject.startsWith(record) && payload.includes('"status":"completed"'));
  await h.start('submitter', { NATS_URL: cutter.url }); // no joiner: only the fast path can finish the call
});
afterAll(async () => {
  await h.close();
  await cutter.close();
});

describe('the fast path loses the acknowledgement of its final write', () => {
  it("on the request's last delivery: the tool's answer is the result, published once, no dead letter", async () => {
    h.proxies.demo!.inject({ match: 'tools/call', action: { kind: 'status', status: 503 }, times: 1 });
    const { callId } = await h.client.submit('demo', 'echo', { text: 'once' });

    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(cutter.cuts).toBe(1);
    expect(h.proxies.demo!.count('tools/call', 'status')).toBe(1);
    expect(result.status).toBe('completed');
    expect(result.result?.content).toEqual([{ type: 'text', text: 'once' }]);
    expect(result.attempts).toBe(2);
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
    expect(h.mcp.demo!.stats().executions.echo).toEqual({ [callId]: 1 });
    expect(await h.deadLetters()).toEqual([]);
    // The request left the queue (acked, not exhausted).
    expect((await (await h.jsm()).streams.info(h.names.streams.submit)).state.messages).toBe(0);
  });
});
