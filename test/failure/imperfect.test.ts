/**
 * Event stores found in the wild misbehave: they replay other requests'
 * events, never deliver live events on a resumed stream, replay out of
 * order, or fail the replay. Each example server here has one such fault
 * (a real SDK server with a faulty event store); every call must still end
 * correctly and never hang past its deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

describe('imperfect event stores', () => {
  it('replays events of other requests of the session: each call gets only its own progress and result', async () => {
    h = await createHarness({ servers: { noisy: { eventStoreFault: 'foreign-replay' } } });
    await h.start('submitter');
    // The joiner starts late, so every resume replays a stream full of the other calls' events.
    const ids = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => h!.client.submit('noisy', 'slow', { durationMs: 1_500, steps: 3, label: `n${i}` }).then((r) => r.callId)),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    await h.start('joiner');
    for (const [i, id] of ids.entries()) {
      const events = await h.watch(id);
      const result = events.at(-1)!;
      expect(result.type === 'result' && text(result.result)).toBe(`slow done: n${i}`);
      expect(events.filter((e) => e.type === 'progress').map((e) => e.seq)).toEqual([1, 2, 3]);
    }
  });

  it('never delivers live events on a resumed stream: the idle stream is re-requested later and the call completes', async () => {
    h = await createHarness({ servers: { mute: { eventStoreFault: 'no-live-on-resume' } }, config: { joiner: { idleTimeoutMs: 700 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const { callId } = await h.client.submit('mute', 'slow', { durationMs: 2_500, steps: 5, label: 'mute' });
    const events = await h.watch(callId);
    expect(events.filter((e) => e.type === 'progress').map((e) => e.progress)).toEqual([1, 2, 3, 4, 5]);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
    expect(await joiner.metric('mcpq_calls_parked_total')).toBeGreaterThanOrEqual(2);
  });

  it('replays out of order: progress still only moves forward and the result is right', async () => {
    h = await createHarness({ servers: { shuffled: { eventStoreFault: 'out-of-order' } } });
    await h.start('submitter');
    const { callId } = await h.client.submit('shuffled', 'slow', { durationMs: 1_500, steps: 5, label: 'shuffled' });
    await new Promise((r) => setTimeout(r, 2_000)); // the whole call is in the store when the joiner replays it, reversed
    await h.start('joiner');
    const events = await h.watch(callId);
    const progress = events.filter((e) => e.type === 'progress').map((e) => e.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);
    const result = events.at(-1)!;
    expect(result.type === 'result' && text(result.result)).toBe('slow done: shuffled');
  });

  it('fails the first replays (HTTP 500): retried with backoff until it works', async () => {
    h = await createHarness({ servers: { broken: { eventStoreFault: 'replay-errors', replayErrors: 3 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    // Longer than submitter.answerWindowMs (500 ms): a call answered within it is finished by the submitter (the fast path) and never replayed.
    const { callId } = await h.client.submit('broken', 'slow', { durationMs: 1_500, steps: 2, label: 'broken' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status).toBe('completed');
    expect(await joiner.metric('mcpq_retries_total', { stage: 'rejoin' })).toBe(3);
  });

  it("a JSON-RPC error response replayed on resume is the call's outcome", async () => {
    h = await createHarness();
    await h.start('submitter');
    const { callId } = await h.client.submit('demo', 'needs_browser', { delayMs: 300 });
    await new Promise((r) => setTimeout(r, 800)); // the error is stored before any joiner resumes
    await h.start('joiner');
    const r = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('upstream_error');
    expect((r.error?.data as { jsonrpcCode?: number }).jsonrpcCode).toBe(-32042);
  });

  it('a stream that stays silent never holds a call past its deadline', async () => {
    h = await createHarness({ servers: { mute: { eventStoreFault: 'no-live-on-resume' } }, config: { joiner: { idleTimeoutMs: 60_000 } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('mute', 'slow', { durationMs: 30_000, steps: 3 }, { timeoutMs: 2_000 });
    const r = await h.client.result(callId, { timeoutMs: 30_000 });
    expect(r.status).toBe('timeout');
    expect(Date.parse(r.finishedAt) - Date.parse(r.startedAt)).toBeLessThan(10_000);
  });
});
