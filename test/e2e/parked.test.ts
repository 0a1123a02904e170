/**
 * Parked task-mode calls under the joiner's task watcher (issue 15, "parked
 * means parked"): a waiting call's join is given back for a lease
 * (joiner.parkLeaseMs) and woken when its task moves, the task states learned
 * by tasks/list sweeps where the server offers them, by tasks/get under the
 * server's poll budget elsewhere. Real nats-server, real SDK example servers
 * (--tasks), real submitter and joiner processes; the fault proxy only to make
 * a server's tasks/list lie.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

async function submitTasks(alias: string, n: number, args: Record<string, unknown>, timeoutMs?: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      h!.client
        .submit(alias, 'slow_task', { ...args, label: `${alias}${i}` }, timeoutMs !== undefined ? { timeoutMs } : {})
        .then((r) => r.callId),
    ),
  );
}

/** Every call completed with its own result, exactly one result stored, the tool run once. */
async function expectCompletedOnce(alias: string, ids: string[]): Promise<void> {
  const all = await Promise.all(ids.map((id) => h!.client.result(id, { timeoutMs: 90_000 })));
  all.forEach((r, i) => {
    expect(r.status).toBe('completed');
    expect(r.mode).toBe('task');
    expect(text(r.result)).toBe(`slow_task done: ${alias}${i}`);
  });
  for (const id of ids.slice(0, 10)) expect((await h!.storedEvents(id)).results).toHaveLength(1);
  expect(Object.values(h!.mcp[alias]!.stats().executions.slow_task!)).toEqual(Array(ids.length).fill(1));
}

describe('task watcher', () => {
  it('150 parked task calls are woken by tasks/list sweeps: one result each, about one park per call instead of one per poll interval', async () => {
    // The server suggests polling every 100 ms (raised to pollMinMs, 500 ms): per-call polling of
    // these 3 s tasks would park each call about six times.
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('tasks', 150, { durationMs: 3_000, steps: 1 });
    await expectCompletedOnce('tasks', ids);
    const parks = await joiner.metric('mcpq_calls_parked_total');
    expect(parks).toBeGreaterThanOrEqual(150);
    // One lease per call (its first delivery), plus one for a call whose dispatch and first
    // delivery straddled a sweep; per-call polling would be about 900.
    expect(parks).toBeLessThan(2 * 150);
    expect(await joiner.metric('mcpq_task_wakes_total', { reason: 'ended' })).toBeGreaterThanOrEqual(140);
    const lists = await joiner.metric('mcpq_task_polls_total', { method: 'tasks/list', outcome: 'ok' });
    expect(lists).toBeGreaterThan(0);
    expect(await joiner.metric('mcpq_task_polls_total', { method: 'tasks/get' })).toBe(0);
    // Nothing left watched once every call ended.
    expect(await joiner.metric('mcpq_tasks_watched')).toBe(0);
  });

  it('statusMessage steps wake the call: progress is published in order, once each', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const { callId } = await h.client.submit('tasks', 'slow_task', { durationMs: 4_000, steps: 4 });
    const events = await h.watch(callId);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((p) => p.message)).toEqual(['step 1 of 4', 'step 2 of 4', 'step 3 of 4']);
    expect(progress.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect((await h.storedEvents(callId)).progress.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'completed' });
    expect(await joiner.metric('mcpq_task_wakes_total', { reason: 'progress' })).toBe(3);
  });

  it('a server without tasks.list is asked by tasks/get under its poll budget', async () => {
    // Polls only: with the server's task notifications the completions could wake every call before
    // a poll was due (test/e2e/task-notifications.test.ts).
    h = await createHarness({
      servers: {
        nolist: {
          tasks: true,
          tasksList: false,
          taskPollMs: 100,
          settings: { pollsPerSecond: 40, maxPolling: 2, taskNotifications: false },
        },
      },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('nolist', 60, { durationMs: 2_000, steps: 1 });
    await expectCompletedOnce('nolist', ids);
    expect(await joiner.metric('mcpq_task_polls_total', { method: 'tasks/list' })).toBe(0);
    expect(await joiner.metric('mcpq_task_polls_total', { method: 'tasks/get', outcome: 'ok' })).toBeGreaterThan(0);
    expect(await joiner.metric('mcpq_calls_parked_total')).toBeLessThan(2 * 60);
  });

  it('a tasks/list that leaves tasks out, answers garbage or pages of megabytes still ends every call', async () => {
    h = await createHarness({
      servers: {
        // Polls only (no task notifications), so that every call is followed through the lying lists.
        omits: { tasks: true, taskPollMs: 100, proxied: true, settings: { taskNotifications: false } },
        garbage: { tasks: true, taskPollMs: 100, proxied: true, settings: { taskNotifications: false } },
        huge: { tasks: true, taskPollMs: 100, proxied: true, settings: { taskNotifications: false } },
      },
      config: { limits: { maxResponseBytes: 256 * 1024 } },
    });
    const answer = (result: string) => (rpc: { id?: string | number }) =>
      `{"jsonrpc":"2.0","id":${JSON.stringify(rpc.id ?? null)},"result":${result}}`;
    h.proxies.omits!.inject({ match: 'tasks/list', action: { kind: 'respond', body: answer('{"tasks":[]}') } });
    h.proxies.garbage!.inject({ match: 'tasks/list', action: { kind: 'respond', body: '{"jsonrpc":"2.0", this is not JSON' } });
    const bigTask = JSON.stringify({ taskId: 'x', status: 'working', statusMessage: 'y'.repeat(1024) });
    const huge = `{"tasks":[${Array(1024).fill(bigTask).join(',')}],"nextCursor":"again"}`;
    h.proxies.huge!.inject({ match: 'tasks/list', action: { kind: 'respond', body: answer(huge) } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const omits = await submitTasks('omits', 20, { durationMs: 2_000, steps: 1 });
    const garbage = await submitTasks('garbage', 20, { durationMs: 2_000, steps: 1 });
    const big = await submitTasks('huge', 20, { durationMs: 2_000, steps: 1 });
    await expectCompletedOnce('omits', omits);
    await expectCompletedOnce('garbage', garbage);
    await expectCompletedOnce('huge', big);
    // Each lie was asked, and the calls were then followed by tasks/get.
    expect(h.proxies.omits!.count('tasks/list', 'respond')).toBeGreaterThan(0);
    expect(h.proxies.garbage!.count('tasks/list', 'respond')).toBeGreaterThan(0);
    expect(h.proxies.huge!.count('tasks/list', 'respond')).toBeGreaterThan(0);
    expect(await joiner.metric('mcpq_task_polls_total', { server: 'garbage', method: 'tasks/list', outcome: 'failed' })).toBeGreaterThan(0);
    expect(await joiner.metric('mcpq_task_polls_total', { server: 'huge', method: 'tasks/list', outcome: 'failed' })).toBeGreaterThan(0);
    for (const alias of ['omits', 'garbage', 'huge']) {
      expect(await joiner.metric('mcpq_task_polls_total', { server: alias, method: 'tasks/get', outcome: 'ok' })).toBeGreaterThan(0);
    }
  });

  it('a lease that ends with nothing new is renewed by the joiner that watches the call, without asking the server again', async () => {
    h = await createHarness({
      servers: { tasks: { tasks: true, taskPollMs: 100, proxied: true } },
      config: { joiner: { parkLeaseMs: 1_000 } },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('tasks', 5, { durationMs: 6_000, steps: 1 });
    await expectCompletedOnce('tasks', ids);
    // About six leases per call (renewed each second), but tasks/get only on the first delivery and
    // on the wake at the end: renewals ask nothing (the watcher's sweeps use tasks/list).
    expect(await joiner.metric('mcpq_calls_parked_total')).toBeGreaterThanOrEqual(4 * 5);
    expect(h.proxies.tasks!.count('tasks/get')).toBeLessThanOrEqual(3 * 5);
  });

  it('the first delivery of a task the submitter has just created asks nothing: the watcher learns its end, one tasks/get per call (the wake)', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100, proxied: true } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('tasks', 5, { durationMs: 2_000, steps: 1 });
    await expectCompletedOnce('tasks', ids);
    // Following each first delivery would ask tasks/get once more per call (10 in all).
    expect(h.proxies.tasks!.count('tasks/get')).toBe(ids.length);
    expect(h.proxies.tasks!.count('tasks/list')).toBeGreaterThan(0);
    expect(await joiner.metric('mcpq_task_wakes_total', { reason: 'ended' })).toBe(ids.length);
  });

  it('a task that ended before its first delivery is noticed by the watcher and finished with one result', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100, proxied: true } } });
    await h.start('submitter');
    // No joiner yet: the 50 ms tasks end while their joins wait in the stream.
    const ids = await submitTasks('tasks', 5, { durationMs: 50, steps: 1 });
    await waitFor(
      'every call dispatched',
      async () => {
        const records = await Promise.all(ids.map((id) => h!.record(id)));
        return records.every((r) => r?.status === 'dispatched' && r.taskStatus === 'working');
      },
      20_000,
    );
    const joiner = await h.start('joiner');
    await expectCompletedOnce('tasks', ids);
    // Each call was watched from its first delivery, which asked nothing, and woken by a sweep.
    expect(await joiner.metric('mcpq_task_wakes_total', { reason: 'ended' })).toBe(ids.length);
    expect(h.proxies.tasks!.count('tasks/get')).toBe(ids.length);
  });

  it('a joiner SIGKILLed with parked calls: another joiner finishes them after their lease, one result each', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } }, config: { joiner: { parkLeaseMs: 3_000 } } });
    await h.start('submitter');
    const first = await h.start('joiner');
    const ids = await submitTasks('tasks', 30, { durationMs: 5_000, steps: 1 });
    await waitFor('every call watched by the first joiner', async () => (await first.metric('mcpq_tasks_watched')) >= 30, 20_000);
    first.kill('SIGKILL');
    await first.exited;
    const second = await h.start('joiner');
    await expectCompletedOnce('tasks', ids);
    expect(await second.metric('mcpq_calls_finished_total')).toBe(30);
  });

  it('a SIGTERMed joiner hands its parked calls back (woken, once its last pull request expired), long before their lease end', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } }, config: { joiner: { parkLeaseMs: 600_000 } } });
    await h.start('submitter');
    const first = await h.start('joiner');
    const ids = await submitTasks('tasks', 20, { durationMs: 3_000, steps: 1 });
    await waitFor('every call watched by the first joiner', async () => (await first.metric('mcpq_tasks_watched')) >= 20, 20_000);
    await first.stop();
    await h.start('joiner');
    // With a 10-minute lease, only the shutdown wake lets the second joiner see these calls in time.
    await expectCompletedOnce('tasks', ids);
  });

  it('the deadline of a parked call is met: the lease ends at the deadline', async () => {
    h = await createHarness({ servers: { tasks: { tasks: true, taskPollMs: 100 } } });
    await h.start('submitter');
    await h.start('joiner');
    const [callId] = await submitTasks('tasks', 1, { durationMs: 60_000, steps: 1 }, 2_500);
    const r = await h.client.result(callId!, { timeoutMs: 30_000 });
    expect(r.status).toBe('timeout');
    expect(r.error?.code).toBe('timeout');
    expect((await h.storedEvents(callId!)).results).toHaveLength(1);
  });
});
