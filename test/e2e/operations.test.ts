/**
 * What operators rely on: health and readiness, metrics, graceful shutdown
 * that hands calls over, and traces that follow a call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { traceIdOf } from '@mcpq/shared';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('health and metrics', () => {
  it('/readyz goes unready when NATS stops and ready again when it returns; /healthz stays up', async () => {
    h = await createHarness();
    const joiner = await h.start('joiner');
    expect((await joiner.http('/healthz')).status).toBe(200);
    await waitFor('ready', async () => (await joiner.http('/readyz')).status === 200);
    await h.nats.stop();
    const down = await waitFor('unready', async () => {
      const r = await joiner.http('/readyz');
      return r.status === 503 ? r : undefined;
    });
    expect(JSON.parse(down.body).ok).toBe(false);
    expect((await joiner.http('/healthz')).status).toBe(200);
    await h.nats.restart();
    await waitFor('ready again', async () => (await joiner.http('/readyz')).status === 200, 30_000);
    expect(joiner.running).toBe(true);
  });

  it('/metrics counts a completed call, its dispatch and its end-to-end latency', async () => {
    // answerWindowMs 0: the call goes through a joiner (the fast path's own counts are in fast-path.test.ts).
    h = await createHarness({ config: { submitter: { answerWindowMs: 0 } } });
    const submitter = await h.start('submitter');
    const joiner = await h.start('joiner');
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 300, steps: 2 });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    await waitFor(
      'the metric',
      async () => (await joiner.metric('mcpq_calls_finished_total', { status: 'completed', mode: 'resume' })) === 1,
    );
    expect(await submitter.metric('mcpq_calls_dispatched_total', { mode: 'resume' })).toBe(1);
    expect(await joiner.metric('mcpq_call_duration_seconds_count', { status: 'completed' })).toBe(1);
    expect(await joiner.metric('mcpq_calls_held')).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM of a joiner holding 20 resume-mode calls: it exits 0 before its AckWait would expire, and the other joiner completes all 20', async () => {
    h = await createHarness();
    await h.start('submitter');
    const first = await h.start('joiner');
    const ids = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h!.client.submit('demo', 'slow', { durationMs: 6_000, steps: 6, label: `g${i}` }).then((r) => r.callId),
      ),
    );
    await waitFor('the first joiner holds all 20', async () => (await first.metric('mcpq_calls_held')) === 20);
    const second = await h.start('joiner');
    const t0 = Date.now();
    first.kill('SIGTERM');
    const exit = await first.exited;
    const tookMs = Date.now() - t0;
    expect(exit.code).toBe(0);
    expect(tookMs).toBeLessThan(h.config.joiner.ackWaitMs);
    for (const id of ids) {
      const r = await h.client.result(id, { timeoutMs: 60_000 });
      expect(r.status).toBe('completed');
      const stored = await h.storedEvents(id);
      expect(stored.results).toHaveLength(1);
      expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect((await h.record(id))!.owner).toContain(`-${second.pid}-`);
    }
    expect(Object.values(h.mcp.demo!.stats().executions.slow!)).toEqual(Array(20).fill(1));
  });

  it('SIGTERM of the submitter exits 0 and loses no request', async () => {
    h = await createHarness();
    const submitter = await h.start('submitter');
    await h.start('joiner');
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => h!.client.submit('demo', 'echo', { text: `e${i}` }).then((r) => r.callId)),
    );
    expect((await submitter.stop()).code).toBe(0);
    await h.start('submitter');
    for (const id of ids) expect((await h.client.result(id, { timeoutMs: 30_000 })).status).toBe('completed');
  });
});

describe('tracing', () => {
  it("a caller's traceparent reaches the MCP server in _meta, the events' headers and the log lines", async () => {
    h = await createHarness({ config: { submitter: { answerWindowMs: 0 } } }); // through a joiner, whose log lines are checked too
    const submitter = await h.start('submitter');
    const joiner = await h.start('joiner');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { callId } = await h.client.submit('demo', 'slow', { durationMs: 300, steps: 1 }, { traceparent });
    expect((await h.client.result(callId, { timeoutMs: 20_000 })).status).toBe('completed');
    const seen = h.mcp.demo!.stats().traceparents[callId];
    expect(traceIdOf(seen)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(seen).not.toBe(traceparent); // a child span of the caller's
    const stored = await h.js.consumers
      .get(h.names.streams.events, { filter_subjects: h.names.call(callId, 'result') })
      .then((c) => c.next({ expires: 2_000 }));
    expect(stored?.headers?.get('traceparent')).toBe(traceparent);
    expect(submitter.logs((l) => l.callId === callId).every((l) => l.traceId === '4bf92f3577b34da6a3ce929d0e0e4736')).toBe(true);
    expect(joiner.logs((l) => l.callId === callId && l.traceId === '4bf92f3577b34da6a3ce929d0e0e4736').length).toBeGreaterThan(0);
  });
});
