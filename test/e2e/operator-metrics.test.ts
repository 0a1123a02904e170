/**
 * The operators' metrics: queue depth and the age of the oldest waiting
 * request read from JetStream, per-server labels on call metrics, and label
 * values from callers kept bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { BoundedLabel, createMetrics, loadConfig, OTHER_LABEL, provision, QueueStats, Telemetry } from '@mcpq/shared';
import { startNatsServer, type NatsServer } from '@mcpq/testkit';

let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  ({ jsm } = await provision(nc, loadConfig({ config: { prefix: 'opm' }, env: {} }), { consumers: ['submitter', 'joiner'] }));
});
afterAll(async () => {
  await nc.close();
  await nats.dispose();
});

/** The value of one sample in Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('queue depth from JetStream consumer info', () => {
  it('counts waiting and unacknowledged requests and ages the oldest waiting one from its stored time', async () => {
    const js = jetstream(nc);
    for (const i of [1, 2, 3]) await js.publish('opm.submit.demo', JSON.stringify({ callId: `q${i}`, tool: 't' }));
    const stats = new QueueStats(jsm, [{ stream: 'OPM_SUBMIT', consumer: 'submitter' }], { minIntervalMs: 0 });
    const first = (await jsm.streams.getMessage('OPM_SUBMIT', { seq: 1 }))!.time.getTime();
    const second = (await jsm.streams.getMessage('OPM_SUBMIT', { seq: 2 }))!.time.getTime();

    const before = await stats.read(first + 10_000);
    expect(before.failed).toEqual([]);
    expect(before.stats[0]).toMatchObject({ pending: 3, ackPending: 0, oldestAgeSeconds: 10 });

    // A submitter takes the first request and has not acknowledged it: the oldest waiting one is now the second.
    const consumer = await js.consumers.get('OPM_SUBMIT', 'submitter');
    const taken = await consumer.next({ expires: 5_000 });
    expect(taken?.seq).toBe(1);
    const after = await stats.read(second + 4_000);
    expect(after.stats[0]).toMatchObject({ pending: 2, ackPending: 1, oldestAgeSeconds: 4 });
    taken!.ack();
  });

  it('reads JetStream at most once per interval, however many scrapes come', async () => {
    const stats = new QueueStats(jsm, [{ stream: 'OPM_JOIN', consumer: 'joiner' }], { minIntervalMs: 60_000 });
    const a = stats.read(1_000_000);
    expect(stats.read(1_000_500)).toBe(a);
    expect(stats.read(1_061_000)).not.toBe(a);
  });

  it('a queue that cannot be read is reported as down, not as empty', async () => {
    const stats = new QueueStats(jsm, [{ stream: 'OPM_SUBMIT', consumer: 'nobody' }], { minIntervalMs: 0 });
    const telemetry = new Telemetry();
    const text = await createMetrics('test', telemetry, { inFlight: () => 0, queues: stats }).metrics();
    expect(sample(text, 'mcpq_queue_stats_up', 'consumer="nobody"')).toBe(0);
    expect(sample(text, 'mcpq_queue_pending', 'consumer="nobody"')).toBeUndefined();
  });

  it('/metrics shows the depth of every queue it reads', async () => {
    const stats = new QueueStats(jsm, [{ stream: 'OPM_JOIN', consumer: 'joiner' }]);
    const text = await createMetrics('test', new Telemetry(), { inFlight: () => 0, queues: stats }).metrics();
    expect(sample(text, 'mcpq_queue_pending', 'stream="OPM_JOIN",consumer="joiner"')).toBe(0);
    expect(sample(text, 'mcpq_queue_stats_up', 'stream="OPM_JOIN"')).toBe(1);
  });
});

describe('call metrics per server alias', () => {
  it('counts results, tool errors, durations and queue waits by server, tool, mode and code', async () => {
    const telemetry = new Telemetry();
    const registry = createMetrics('test', telemetry, { inFlight: () => 0 });
    const done = { callId: 'c1', server: 'demo', tool: 'slow', mode: 'resume' as const, durationMs: 1500 };
    telemetry.emit('call:finished', { ...done, status: 'completed', isError: true });
    telemetry.emit('call:finished', { ...done, callId: 'c2', status: 'failed', code: 'session_lost' });
    telemetry.emit('queue:taken', { queue: 'submit', server: 'demo', waitMs: 250 });
    const text = await registry.metrics();
    expect(sample(text, 'mcpq_calls_finished_total', 'server="demo",tool="slow",status="failed",mode="resume",code="session_lost"')).toBe(
      1,
    );
    expect(sample(text, 'mcpq_tool_errors_total', 'server="demo",tool="slow"')).toBe(1);
    expect(sample(text, 'mcpq_call_duration_seconds_sum', 'server="demo",tool="slow",status="completed"')).toBe(1.5);
    expect(sample(text, 'mcpq_queue_wait_seconds_sum', 'queue="submit",server="demo"')).toBe(0.25);
  });

  it('a joiner reports the calls it holds and the calls it parked as two gauges', async () => {
    const text = await createMetrics('joiner', new Telemetry(), { inFlight: () => 0, held: () => 3, parked: () => 7 }).metrics();
    expect(text).toMatch(/^mcpq_calls_held\{service="joiner"\} 3$/m);
    expect(text).toMatch(/^mcpq_calls_parked\{service="joiner"\} 7$/m);
  });

  it('label values callers choose are bounded: past the limit they count as _other', () => {
    const label = new BoundedLabel(2);
    expect(['a', 'b', 'c', 'a', 'd'].map((v) => label.value(v))).toEqual(['a', 'b', OTHER_LABEL, 'a', OTHER_LABEL]);
  });
});
