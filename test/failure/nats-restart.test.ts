/**
 * The broker goes away for a few seconds in the middle of 100 calls and
 * comes back on the same store (file storage): services reconnect on their
 * own, provision nothing destructive, and every call ends with exactly one
 * result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ servers: { demo: {}, tasks: { tasks: true, taskPollMs: 300 } } });
});
afterAll(async () => {
  await h.close();
});

describe('nats-server restart', () => {
  it('in the middle of 100 calls loses none and duplicates none', async () => {
    const services = [await h.start('submitter'), await h.start('joiner'), await h.start('joiner')];
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const [server, tool] = i % 3 === 0 ? ['tasks', 'slow_task'] : ['demo', i % 2 ? 'slow' : 'echo'];
      const args = tool === 'echo' ? { text: `r${i}` } : { durationMs: 3_000, steps: 3, label: `r${i}` };
      ids.push((await h.client.submit(server!, tool!, args)).callId);
    }
    // Some calls are running, some are still queued.
    await waitFor(
      'calls in flight',
      async () => (await h.record(ids[60]!)) !== undefined && (await h.record(ids[1]!))?.status === 'running',
    );
    await h.nats.stop();
    await new Promise((r) => setTimeout(r, 3_000));
    await h.nats.restart();

    const results = await Promise.all(ids.map((id) => h.client.result(id, { timeoutMs: 120_000 })));
    expect(
      results.filter((r) => r.status !== 'completed').map((r) => `${r.callId}: ${r.status} ${r.error?.code} ${r.error?.message}`),
    ).toEqual([]);
    for (const id of ids) expect((await h.storedEvents(id)).results).toHaveLength(1);
    for (const s of services) expect(s.running).toBe(true);
    // Every call ran; no tool that is not idempotent ran twice (echo is idempotent: it may run again).
    const runs = { ...h.mcp.demo!.stats().executions, ...h.mcp.tasks!.stats().executions };
    expect(
      Object.values(runs)
        .flatMap((byKey) => Object.keys(byKey))
        .sort(),
    ).toEqual([...ids].sort());
    const twice = Object.entries(runs).flatMap(([tool, byKey]) =>
      Object.entries(byKey)
        .filter(([, n]) => n > 1)
        .map(([id, n]) => `${tool} ${id} x${n}`),
    );
    expect(twice.filter((t) => !t.startsWith('echo '))).toEqual([]);
  });
});
