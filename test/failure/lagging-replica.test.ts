/**
 * Direct gets are answered by any replica of a stream, and in a cluster one
 * may not have applied the latest write yet (measured: 90 of 2,000 reads right
 * after a write's acknowledgement, 3 nodes, nats-server 2.9.10). Where mcpq
 * acts on what such a read says — a result's message came but the record has
 * not ended; a join names a call whose record is missing; a task id was handed
 * out but its marker is missing — it asks the stream's leader before acting.
 *
 * The lagging replica is played by StaleReadProxy (a fault injector in front
 * of the real nats-server: the chosen direct gets are answered "no message
 * found", as such a replica answers); reads through the leader pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { McpqClient } from '@mcpq/client';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';
import { StaleReadProxy } from '../helpers/stale-read-proxy.js';
import { connectHost } from '../gateway/gateway-helpers.js';

let h: Harness;
const proxies: StaleReadProxy[] = [];
const closers: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await Promise.all(proxies.map((p) => p.close()));
  await h?.close();
});

/** A proxy whose every direct get of a call record (and, with `statuses`, of a call's last status) answers as a lagging replica. */
async function laggingReplica(statuses = false): Promise<StaleReadProxy> {
  const records = `$JS.API.DIRECT.GET.KV_${h.names.bucket}.`;
  const events = `$JS.API.DIRECT.GET.${h.names.streams.events}.`;
  const proxy = await StaleReadProxy.start(
    h.nats.url,
    (subject) => subject.startsWith(records) || (statuses && subject.startsWith(events) && subject.endsWith('.status')),
  );
  proxies.push(proxy);
  return proxy;
}

describe('a lagging replica answers a read mcpq acts on', () => {
  it('call() and result(): the result has been published but a replica has no record yet: the leader is asked, the result returned', async () => {
    await h.start('submitter');
    const proxy = await laggingReplica();
    const client = await McpqClient.connect({ servers: proxy.url, config: h.config });
    closers.push(() => client.close());
    // Every direct get of the record says "none": without asking the leader, the wait would look
    // again every 5 s, be told the same, and end at its bound.
    const called = await client.call('demo', 'echo', { text: 'lagging' }, { waitTimeoutMs: 20_000 });
    expect(called).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'lagging' }] } });
    const { callId } = await client.submit('demo', 'echo', { text: 'again' });
    expect((await client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    expect(proxy.staleReads).toBeGreaterThanOrEqual(2);
  });

  it('result(): a message on the result subject while the record (as a replica has it) goes on: the leader is asked, and the wait goes on', async () => {
    // The replica a client reads from may still hold the record before its end was written; the proxy
    // cannot serve an older revision, so the contradiction is made the other way: junk on the result
    // subject of a call that runs. What result() does about it is the same: it asks the leader.
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 60_000, steps: 1, label: 'goes-on' });
    const seen: string[] = [];
    const tap = h.nc.subscribe('$JS.API.>', { callback: (_err, m) => void seen.push(m.subject) });
    closers.push(async () => tap.unsubscribe());
    await h.nc.flush(); // the tap is the server's before the client asks anything (another connection)
    const waiting = h.client.result(callId, { timeoutMs: 4_000 }).catch((err: unknown) => err);
    await waitFor('the first look', () => seen.some((s) => s.endsWith(`${callId}.result`)));
    h.nc.publish(h.names.call(callId, 'result'), 'junk, or a result a replica has not caught up with');
    await waitFor("a read of the record through the stream's leader", () => seen.includes(`$JS.API.STREAM.MSG.GET.KV_${h.names.bucket}`));
    expect(await waiting).toMatchObject({ code: 'wait_timeout' });
  });

  it('a joiner given a join whose record a replica does not have yet asks the leader, and follows the call (no dead letter)', async () => {
    const proxy = await laggingReplica();
    await h.start('joiner', { NATS_URL: proxy.url });
    // Longer than the submitter's answer window: handed to the joiner.
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 2_500, steps: 2, label: 'lagging-join' });
    const result = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(result).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'slow done: lagging-join' }] } });
    expect(proxy.staleReads).toBeGreaterThanOrEqual(1);
    expect((await h.deadLetters()).filter((d) => d.callId === callId)).toEqual([]);
    expect((await h.storedEvents(callId)).results).toHaveLength(1);
  });

  it('the gateway asked for a task it just handed out, whose marker a replica does not have yet, answers working, not "not found"', async () => {
    const proxy = await laggingReplica(true); // the record's read too: tasks/get then rests on the marker
    const { url } = await h.startGateway({ NATS_URL: proxy.url });
    const host = await connectHost(url);
    closers.push(() => host.close());
    const created = await host.request(
      { method: 'tools/call', params: { name: 'demo__slow', arguments: { durationMs: 60_000, steps: 1 }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    // The record's read says "none" (a lagging replica), so does the marker's first read: the leader has the marker.
    const task = await host.experimental.tasks.getTask(taskId);
    expect(task.taskId).toBe(taskId);
    expect(['working', 'completed']).toContain(task.status);
    // A made-up id of the same tenant is still not found (the leader has no marker either).
    await expect(host.experimental.tasks.getTask(`${taskId.slice(0, -4)}zzzz`)).rejects.toThrow();
  });
});
