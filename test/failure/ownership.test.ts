/**
 * A joiner that stalls past AckWait (SIGSTOP: the process is frozen, as in a
 * long GC pause or a swapped-out VM) loses its calls to another joiner; when
 * it wakes up it must not publish anything for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

describe('ownership', () => {
  it('a stalled joiner that wakes up after another took over stops quietly: one result, no duplicate progress', async () => {
    await h.start('submitter');
    const stalled = await h.start('joiner');
    const ids = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => h.client.submit('demo', 'slow', { durationMs: 6_000, steps: 6, label: `o${i}` }).then((r) => r.callId)),
    );
    await waitFor('the first joiner follows every call', async () => (await stalled.metric('mcpq_calls_held')) === 5);
    process.kill(stalled.pid!, 'SIGSTOP');
    const other = await h.start('joiner');
    await waitFor(
      'the other joiner took every call over',
      async () => (await Promise.all(ids.map((id) => h.record(id)))).every((r) => r?.owner?.includes(`-${other.pid}-`)),
      30_000,
    );
    process.kill(stalled.pid!, 'SIGCONT');
    for (const id of ids) expect((await h.client.result(id, { timeoutMs: 60_000 })).status).toBe('completed');
    await new Promise((r) => setTimeout(r, 1_500)); // time for the woken joiner to try (and fail) to write
    for (const id of ids) {
      const stored = await h.storedEvents(id);
      expect(stored.results).toHaveLength(1);
      expect(stored.progress.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    expect(stalled.running).toBe(true);
    expect(stalled.logs((l) => /letting go/.test(l.msg ?? '')).length).toBeGreaterThan(0);
    // Its followers from before the stall (first deliveries) published nothing; after waking up it may
    // legitimately take later deliveries of these joins, claimed afresh by compare-and-set.
    expect(stalled.logs((l) => l.msg === 'call finished' && l.delivery === 1)).toEqual([]);
  });
});
