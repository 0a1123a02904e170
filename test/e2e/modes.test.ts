/**
 * The three rejoin modes against real SDK-built MCP servers: task mode
 * (InMemoryTaskStore), hold mode (no event store), resume mode with a server
 * that closes streams after the priming event (SEP-1699), and modes forced
 * by config that the server cannot honour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

describe('task mode', () => {
  it('200 task-mode calls of a 3 s tool complete with one joiner, which holds no parked call', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 1_000 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        h!.client.submit('tasks', 'slow_task', { durationMs: 3_000, steps: 3, label: `t${i}` }).then((r) => r.callId),
      ),
    );
    // While the calls wait upstream, sample what the joiner itself reports holding.
    const samples: Array<{ at: number; held: number }> = [];
    const results = Promise.all(ids.map((id) => h!.client.result(id, { timeoutMs: 90_000 })));
    let done = false;
    void results.finally(() => (done = true));
    while (!done) {
      samples.push({ at: Date.now(), held: await joiner.metric('mcpq_calls_held') });
      await new Promise((r) => setTimeout(r, 200));
    }
    const all = await results;
    all.forEach((r, i) => {
      expect(r.status).toBe('completed');
      expect(r.mode).toBe('task');
      expect(text(r.result)).toBe(`slow_task done: t${i}`);
    });
    // Only the samples read while every task still ran upstream (before the first one ended, as
    // the server stamps it): from then on the 200 tasks end together, and collecting them is a burst
    // of follows that on a loaded machine overlap up to all 200 at once, which is not waiting.
    const firstEnd = Math.min(...all.map((r) => (r.result?.structuredContent as { endedAt: number }).endedAt));
    const held = samples.filter((s) => s.at < firstEnd).map((s) => s.held);
    expect(held.length).toBeGreaterThan(5);
    // All 200 calls waited upstream at once for seconds; had the joiner held them, the gauge would
    // have neared 200. Parked, they are leased to the task watcher, which wakes each only when its
    // task moves (2 status messages and the end): the joiner follows a call only for those deliveries,
    // not once per poll interval, however loaded the machine.
    expect(Math.max(...held)).toBeLessThan(100);
    expect(await joiner.metric('mcpq_calls_parked_total')).toBeGreaterThanOrEqual(200);
    expect(await joiner.metric('mcpq_task_wakes_total', { reason: 'ended' })).toBeGreaterThan(0);
    const rec = await h.record(ids[0]!);
    expect(rec).toMatchObject({ mode: 'task', status: 'completed' });
    expect(rec!.taskId).toBeTruthy();
    expect(Object.values(h.mcp.tasks!.stats().executions.slow_task!)).toEqual(Array(200).fill(1));
  });

  it('statusMessage changes become progress events', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 2_000, steps: 4 });
    const events = await h.watch(callId);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((p) => p.message)).toEqual(['step 1 of 4', 'step 2 of 4', 'step 3 of 4']);
    expect(progress.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
  });

  it('input_required is published as a status with a clear detail', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 400, steps: 2, askInput: true }, { timeoutMs: 3_000 });
    const events = await h.watch(callId);
    const detail = events.find((e) => e.type === 'status' && e.detail?.startsWith('input_required'));
    expect(detail).toBeDefined();
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'timeout' });
  });
});

describe('hold mode', () => {
  it('a server without an event store runs in hold mode; SIGKILL of the joiner mid-call: outcome_unknown for a non-idempotent tool, a completed re-run for an idempotent one', async () => {
    h = await createHarness({ servers: { plain: { eventStore: false } } });
    await h.start('submitter');
    const first = await h.start('joiner');
    const args = { durationMs: 4_000, steps: 4 };
    const once = await Promise.all([1, 2, 3].map(() => h!.client.submit('plain', 'slow', args).then((r) => r.callId)));
    const twice = await Promise.all([1, 2, 3].map(() => h!.client.submit('plain', 'slow_idempotent', args).then((r) => r.callId)));
    await waitFor('every call held by the first joiner', async () => {
      const recs = await Promise.all([...once, ...twice].map((id) => h!.record(id)));
      return recs.every((r) => r?.mode === 'hold' && r.status === 'dispatching' && r.owner?.includes(`-${first.pid}-`));
    });
    await waitFor('the tools started upstream', () => h!.mcp.plain!.stats().started === 6);
    first.kill('SIGKILL');
    await first.exited;
    await h.start('joiner');

    for (const id of once) {
      const r = await h.client.result(id, { timeoutMs: 60_000 });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('outcome_unknown');
    }
    for (const id of twice) {
      const r = await h.client.result(id, { timeoutMs: 60_000 });
      expect(r.status).toBe('completed');
      expect(r.attempts).toBe(2);
    }
    const runs = h.mcp.plain!.stats().executions;
    for (const id of once) expect(runs.slow![id]).toBe(1);
    for (const id of twice) expect(runs.slow_idempotent![id]).toBe(2);
  });

  it('a held call reports progress and completes', async () => {
    h = await createHarness({ servers: { plain: { eventStore: false } } });
    await h.start('submitter');
    await h.start('joiner');
    const { callId } = await h.client.submit('plain', 'slow', { durationMs: 1_000, steps: 3, label: 'held' });
    const events = await h.watch(callId);
    expect(events.filter((e) => e.type === 'progress').map((e) => e.seq)).toEqual([1, 2, 3]);
    const result = events.at(-1)!;
    expect(result).toMatchObject({ type: 'result', status: 'completed', mode: 'hold' });
  });
});

describe('resume mode with SSE polling (SEP-1699)', () => {
  it('a server that closes the stream after the priming event: calls complete through parking and re-GET', async () => {
    h = await createHarness({ servers: { polling: { closeStreams: true, retryIntervalMs: 300 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        h!.client.submit('polling', 'slow', { durationMs: 2_000, steps: 4, label: `p${i}` }).then((r) => r.callId),
      ),
    );
    for (const [i, id] of ids.entries()) {
      const events = await h.watch(id);
      expect(events.filter((e) => e.type === 'progress').map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const result = events.at(-1)!;
      expect(result.type === 'result' && text(result.result)).toBe(`slow done: p${i}`);
    }
    expect(await joiner.metric('mcpq_calls_parked_total')).toBeGreaterThanOrEqual(5);
  });
});

describe('forced modes the server cannot honour', () => {
  it('give mode_unsupported at dispatch, not a hang', async () => {
    h = await createHarness({
      servers: {
        plainTask: { eventStore: false, mode: 'task' },
        plainResume: { eventStore: false, mode: 'resume' },
        tasksHold: { tasks: true, mode: 'hold' },
      },
    });
    await h.start('submitter');
    await h.start('joiner');
    const cases: Array<[string, string, RegExp]> = [
      ['plainTask', 'slow', /does not advertise tasks/],
      ['plainResume', 'slow', /no SSE event ids/],
      ['tasksHold', 'slow_task_required', /requires a task/],
    ];
    for (const [server, tool, message] of cases) {
      const { callId } = await h.client.submit(server, tool, {});
      const r = await h.client.result(callId, { timeoutMs: 20_000 });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('mode_unsupported');
      expect(r.error?.message).toMatch(message);
    }
  });
});
