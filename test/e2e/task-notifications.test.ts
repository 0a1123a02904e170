/**
 * Parked task-mode calls woken by the server's `notifications/tasks/status`
 * (issue 15, item 3): the SDK v1 example server (--tasks) sends one on its
 * session's standalone GET stream at every task status change (the SDK's
 * request task store does, shared/protocol.js requestTaskStore); the joiner's
 * task watcher holds that stream, one per session, and keeps polls as the
 * safety net. Real nats-server, real SDK servers, real submitter and joiner
 * processes; the fault proxy only to drop the stream and to write lies and
 * garbage into it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { taskSessionTag, type TaskStatusCue } from '@mcpq/shared';
import { jsonRpcReply } from '../helpers/fault-proxy.js';
import { createHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const text = (r: Record<string, unknown> | undefined) => (r?.content as Array<{ text?: string }> | undefined)?.[0]?.text;

async function submitTasks(alias: string, n: number, args: Record<string, unknown>): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => h!.client.submit(alias, 'slow_task', { ...args, label: `${alias}${i}` }).then((r) => r.callId)),
  );
}

/** Every call completed with its own (real) result, exactly one result stored, the tool run once. */
async function expectCompletedOnce(alias: string, ids: string[], others = 0): Promise<void> {
  const all = await Promise.all(ids.map((id) => h!.client.result(id, { timeoutMs: 90_000 })));
  all.forEach((r, i) => {
    expect(r.status).toBe('completed');
    expect(r.mode).toBe('task');
    expect(text(r.result)).toBe(`slow_task done: ${alias}${i}`);
  });
  for (const id of ids) expect((await h!.storedEvents(id)).results).toHaveLength(1);
  expect(Object.values(h!.mcp[alias]!.stats().executions.slow_task!)).toEqual(Array(ids.length + others).fill(1));
}

/** A notifications/tasks/status SSE frame as the SDK writes one. */
const statusFrame = (taskId: string, status: string) =>
  `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/tasks/status', params: { taskId, status, statusMessage: 'lie', createdAt: new Date().toISOString(), ttl: 60_000 } })}\n\n`;

describe('task status notifications', () => {
  it('parked calls are woken by notifications/tasks/status: polls are re-learns at stream opens only, far fewer than the same calls polled', async () => {
    // tasks/get servers (no tasks.list), so that a poll is one task: the server suggests 100 ms (raised to
    // pollMinMs, 500 ms). `pushed` keeps its safety poll (notifiedPollMs) beyond the test; `polled` has no stream.
    const N = 30;
    h = await createHarness({
      servers: {
        pushed: { tasks: true, tasksList: false, taskPollMs: 100, settings: { notifiedPollMs: 600_000 } },
        polled: { tasks: true, tasksList: false, taskPollMs: 100, settings: { taskNotifications: false } },
      },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const polls = (server: string) => joiner.metric('mcpq_task_polls_total', { server, method: 'tasks/get' });
    // A first call parked opens the session's stream (before that, its task is polled as usual).
    const { callId: first } = await h.client.submit('pushed', 'slow_task', { durationMs: 6_000, steps: 1, label: 'first' });
    await waitFor(
      'the stream open',
      async () => (await joiner.metric('mcpq_task_streams_total', { server: 'pushed', event: 'open' })) >= 1,
      20_000,
    );
    const pollsBefore = await polls('pushed');
    const pushed = await submitTasks('pushed', N, { durationMs: 4_000, steps: 1 });
    const polled = await submitTasks('polled', N, { durationMs: 4_000, steps: 1 });
    expect((await h.client.result(first, { timeoutMs: 30_000 })).status).toBe('completed');
    await expectCompletedOnce('pushed', pushed, 1);
    await expectCompletedOnce('polled', polled);

    const opens = await joiner.metric('mcpq_task_streams_total', { server: 'pushed', event: 'open' });
    const unknown = await joiner.metric('mcpq_task_notifications_total', { server: 'pushed', outcome: 'unknown' });
    // One session (the submitter's), one stream: opened, never refused.
    expect(opens).toBeGreaterThanOrEqual(1);
    expect(await joiner.metric('mcpq_task_streams_total', { server: 'pushed', event: 'refused' })).toBe(0);
    expect(await joiner.metric('mcpq_task_streams_total', { server: 'polled' })).toBe(0);
    // The completions came by notification and woke the calls.
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'pushed', outcome: 'used' })).toBeGreaterThanOrEqual(N / 2);
    expect(await joiner.metric('mcpq_task_wakes_total', { server: 'pushed', reason: 'ended' })).toBeGreaterThanOrEqual(N / 2);
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'pushed', outcome: 'malformed' })).toBe(0);
    // The design's bound: with the stream open a task is asked once at each re-open of the stream, and
    // once when a notification about it came while it was not watched (and the first call once more,
    // if its look at the first open came after pollsBefore was read); its safety poll is beyond the test.
    const pushedPolls = (await polls('pushed')) - pollsBefore;
    expect(pushedPolls).toBeLessThanOrEqual((N + 1) * (opens - 1) + unknown + 1);
    // The same calls polled: each task every 500 ms for 4 s, about 8 polls a call.
    expect(await polls('polled')).toBeGreaterThan(2 * Math.max(pushedPolls, N));
    expect(await joiner.metric('mcpq_tasks_watched')).toBe(0);
  });

  it('a notification stream the server drops: the watcher polls meanwhile, re-opens it (after refused attempts, with backoff) and is woken by it again', async () => {
    const N = 10;
    h = await createHarness({
      servers: { drops: { tasks: true, tasksList: false, taskPollMs: 100, proxied: true, settings: { notifiedPollMs: 600_000 } } },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('drops', N, { durationMs: 10_000, steps: 1 });
    const opens = () => joiner.metric('mcpq_task_streams_total', { server: 'drops', event: 'open' });
    await waitFor(
      'every call watched and the stream open',
      async () => (await joiner.metric('mcpq_tasks_watched')) >= N && (await opens()) >= 1,
      20_000,
    );
    const proxy = h.proxies.drops!;
    // The next two opens fail (a gateway that cannot reach the server), then the stream comes back.
    proxy.inject({ match: 'GET', action: { kind: 'status', status: 503 }, times: 2 });
    expect(proxy.dropStreams()).toBe(1);
    await waitFor('the stream open again', async () => (await opens()) >= 2, 30_000);
    const usedBefore = await joiner.metric('mcpq_task_notifications_total', { server: 'drops', outcome: 'used' });
    await expectCompletedOnce('drops', ids);
    expect(proxy.count('GET', 'status')).toBe(2);
    expect(await joiner.metric('mcpq_task_streams_total', { server: 'drops', event: 'down' })).toBe(3);
    expect(await joiner.metric('mcpq_task_streams_total', { server: 'drops', event: 'refused' })).toBe(0);
    // While the stream was down the tasks were polled, and its re-open re-learnt them; the re-opened stream woke the calls.
    expect(await joiner.metric('mcpq_task_polls_total', { server: 'drops', method: 'tasks/get', outcome: 'ok' })).toBeGreaterThanOrEqual(N);
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'drops', outcome: 'used' })).toBeGreaterThan(usedBefore);
  });

  it('lies and garbage on the stream end no call wrongly: a false "completed" only wakes the call, whose tasks/get decides', async () => {
    const N = 5;
    h = await createHarness({
      servers: { liar: { tasks: true, tasksList: false, taskPollMs: 100, proxied: true, settings: { notifiedPollMs: 600_000 } } },
      config: { limits: { maxResponseBytes: 64 * 1024 } },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const ids = await submitTasks('liar', N, { durationMs: 8_000, steps: 1 });
    const opens = () => joiner.metric('mcpq_task_streams_total', { server: 'liar', event: 'open' });
    await waitFor(
      'every call watched and the stream open',
      async () => (await joiner.metric('mcpq_tasks_watched')) >= N && (await opens()) >= 1,
      20_000,
    );
    const taskIds = await Promise.all(ids.map(async (id) => (await h!.record(id))!.taskId!));
    const lies =
      taskIds.map((t) => statusFrame(t, 'completed')).join('') +
      statusFrame('no-such-task', 'completed') +
      'event: message\ndata: {"jsonrpc":"2.0", this is not JSON\n\n' +
      'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"status":"completed"}}\n\n' +
      'event: message\ndata: [1,2,3]\n\n' +
      // Larger than limits.maxResponseBytes: ends the stream, which is opened again.
      `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'x'.repeat(100 * 1024) } })}\n\n`;
    h.proxies.liar!.inject({ match: 'GET', action: { kind: 'forward-with-events', events: lies }, times: 1 });
    expect(h.proxies.liar!.dropStreams()).toBe(1);
    await expectCompletedOnce('liar', ids);
    // Every lie about a watched task woke its call (then re-parked by the follow path's tasks/get), and
    // every real end woke it again.
    expect(await joiner.metric('mcpq_task_wakes_total', { server: 'liar', reason: 'ended' })).toBeGreaterThanOrEqual(2 * N);
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'liar', outcome: 'unknown' })).toBeGreaterThanOrEqual(1);
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'liar', outcome: 'malformed' })).toBe(3);
    // Opened, dropped by the test, opened with the lies, ended by the oversized event, opened again.
    expect(await opens()).toBeGreaterThanOrEqual(3);
    expect(await joiner.metric('mcpq_task_streams_total', { server: 'liar', event: 'refused' })).toBe(0);
  });

  it('a server repeating a false "completed" does not drive a wake loop: wakes by notification of one task are joiner.pollMinMs apart', async () => {
    h = await createHarness({
      servers: { repeater: { tasks: true, tasksList: false, taskPollMs: 100, proxied: true, settings: { notifiedPollMs: 2_000 } } },
    });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const [callId] = await submitTasks('repeater', 1, { durationMs: 6_000, steps: 1 });
    const opens = () => joiner.metric('mcpq_task_streams_total', { server: 'repeater', event: 'open' });
    await waitFor(
      'the call watched and the stream open',
      async () => (await joiner.metric('mcpq_tasks_watched')) >= 1 && (await opens()) >= 1,
      20_000,
    );
    const taskId = (await h.record(callId!))!.taskId!;
    // FaultProxy: the re-opened stream says the task completed, again every 20 ms, while its tasks/get says it works.
    h.proxies.repeater!.inject({
      match: 'GET',
      action: { kind: 'forward-with-events', events: statusFrame(taskId, 'completed'), repeatEveryMs: 20 },
      times: 1,
    });
    const started = Date.now();
    expect(h.proxies.repeater!.dropStreams()).toBe(1);
    await expectCompletedOnce('repeater', [callId!]);
    const elapsed = Date.now() - started;
    const wakes = await joiner.metric('mcpq_task_wakes_total', { server: 'repeater', reason: 'ended' });
    // The lies kept coming (each one seen while the call was watched counts as used).
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'repeater', outcome: 'used' })).toBeGreaterThan(20);
    // joiner.pollMinMs (500 ms) apart, plus the real end; each wake costs a tasks/get, a redelivery and a record read.
    expect(wakes).toBeLessThanOrEqual(Math.ceil(elapsed / 500) + 2);
  });

  it('a statusMessage of megabytes (the default 16 MB answer cap) is kept cut in the record and the progress event: the call completes, not failed on a record past the NATS payload limit', async () => {
    h = await createHarness({
      servers: { chatty: { tasks: true, tasksList: false, taskPollMs: 100, proxied: true, settings: { taskNotifications: false } } },
    });
    await h.start('submitter');
    await h.start('joiner');
    // FaultProxy: the first tasks/get answers (the watcher's poll and the follow path's) say the task works, with 1.5 MB to say.
    const huge = 's'.repeat(1_500_000);
    h.proxies.chatty!.inject({
      match: 'tasks/get',
      times: 4,
      action: {
        kind: 'respond',
        body: jsonRpcReply({
          result: { taskId: 'x', status: 'working', statusMessage: huge, createdAt: new Date().toISOString(), ttl: 60_000 },
        }),
      },
    });
    const { callId } = await h.client.submit('chatty', 'slow_task', { durationMs: 4_000, steps: 1, label: 'chatty' });
    const r = await h.client.result(callId, { timeoutMs: 60_000 });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(text(r.result)).toBe('slow_task done: chatty');
    expect(h.proxies.chatty!.count('tasks/get', 'respond')).toBeGreaterThanOrEqual(1);
    const told = (await h.storedEvents(callId)).progress.filter((p) => p.message?.startsWith('sss'));
    expect(told.length).toBeGreaterThanOrEqual(1);
    for (const p of told) expect(p.message!.length).toBeLessThanOrEqual(1_100);
  });

  it('a task whose server asks for polls a lease or more apart is watched too: its completion wakes the call by notification, long before its poll', async () => {
    // The server suggests polling every 60 s (kept to joiner.pollMaxMs, 30 s: the default parkLeaseMs, so the
    // lease is no longer than the poll interval). The result is waited for 20 s only: it must come by the
    // notification, not by the poll at 30 s. The proxy only counts the requests.
    h = await createHarness({ servers: { slow: { tasks: true, tasksList: false, taskPollMs: 60_000, proxied: true } } });
    await h.start('submitter');
    const joiner = await h.start('joiner');
    const [callId] = await submitTasks('slow', 1, { durationMs: 3_000, steps: 1 });
    const r = await h.client.result(callId!, { timeoutMs: 20_000 });
    expect(r.status, JSON.stringify(r.error)).toBe('completed');
    expect(text(r.result)).toBe('slow_task done: slow0');
    expect((await h.storedEvents(callId!)).results).toHaveLength(1);
    expect(await joiner.metric('mcpq_task_notifications_total', { server: 'slow', outcome: 'used' })).toBeGreaterThanOrEqual(1);
    expect(await joiner.metric('mcpq_task_wakes_total', { server: 'slow', reason: 'ended' })).toBe(1);
    // Never asked sooner than the server asked: the watcher did not poll it (not even at the stream's open,
    // just after the task was created), and the one tasks/get is the woken call's follow path deciding.
    expect(await joiner.metric('mcpq_task_polls_total', { server: 'slow' })).toBe(0);
    expect(h.proxies.slow!.count('tasks/get')).toBe(1);
  });

  describe('task status cues between joiners (joiner.shareTaskStatus)', () => {
    type Svc = Awaited<ReturnType<Harness['start']>>;
    const cues = (j: Svc, server: string, outcome: string) => j.metric('mcpq_task_status_cues_total', { server, outcome });
    const opens = (j: Svc, server: string) => j.metric('mcpq_task_streams_total', { server, event: 'open' });

    /** Two joiners; the first holds the session's stream (a first call parked on it before the second starts). */
    async function twoJoiners(alias: string): Promise<{ holder: Svc; other: Svc; anchor: string }> {
      await h!.start('submitter');
      const holder = await h!.start('joiner');
      const { callId: anchor } = await h!.client.submit(alias, 'slow_task', { durationMs: 12_000, steps: 1, label: 'anchor' });
      await waitFor('the first joiner holds the stream', async () => (await opens(holder, alias)) >= 1, 20_000);
      const other = await h!.start('joiner');
      return { holder, other, anchor };
    }

    it('the joiner without the stream is woken by the cues of the one that holds it: every call completes once', async () => {
      // Polls every 20 s (the server's pollInterval): within this test a parked call moves by a push or not at all.
      // Each call reports two steps (statusMessage), so its wakes hand it to either joiner.
      h = await createHarness({
        servers: { shared: { tasks: true, tasksList: false, taskPollMs: 20_000, settings: { notifiedPollMs: 600_000 } } },
      });
      const { holder, other, anchor } = await twoJoiners('shared');
      const ids = await submitTasks('shared', 20, { durationMs: 6_000, steps: 3 });
      await expectCompletedOnce('shared', ids, 1);
      expect((await h.client.result(anchor, { timeoutMs: 30_000 })).status).toBe('completed');
      // The setup: the server allows one stream per session, the first joiner kept it, the second never had one.
      expect(await opens(other, 'shared')).toBe(0);
      expect(await cues(holder, 'shared', 'published')).toBeGreaterThanOrEqual(20);
      // The second joiner heard them, used them for the calls it watched, and woke those calls by them.
      expect(await cues(other, 'shared', 'used')).toBeGreaterThanOrEqual(1);
      expect(await other.metric('mcpq_task_wakes_total', { server: 'shared' })).toBeGreaterThanOrEqual(1);
      expect(await cues(other, 'shared', 'malformed')).toBe(0);
      // A joiner does not take its own cues.
      expect(await cues(holder, 'shared', 'used')).toBe(0);
      expect(await cues(holder, 'shared', 'unknown')).toBe(0);
      expect(await other.metric('mcpq_tasks_watched')).toBe(0);
    });

    it('forged cues (junk, a lying "completed", a flood) end nothing early and are counted', async () => {
      // No stream at all (taskNotifications off): every cue here is the test's, and every joiner takes them
      // (a joiner skips cues of a session whose stream it holds open: it hears that session itself).
      h = await createHarness({
        servers: { forged: { tasks: true, tasksList: false, taskPollMs: 100, settings: { taskNotifications: false } } },
      });
      await h.start('submitter');
      const joiners = [await h.start('joiner'), await h.start('joiner')];
      const N = 6;
      const ids = await submitTasks('forged', N, { durationMs: 8_000, steps: 1 });
      const watched = async () => (await joiners[0]!.metric('mcpq_tasks_watched')) + (await joiners[1]!.metric('mcpq_tasks_watched'));
      await waitFor('every call watched', async () => (await watched()) >= N, 20_000);
      const subject = h.names.controlTaskStatus('forged');
      const junk: Array<[string, string | Uint8Array]> = [
        [subject, 'this is not JSON'],
        [subject, '[1,2,3]'],
        [subject, JSON.stringify({ joiner: 'x', session: 'not-a-tag', taskId: 't', status: 'completed' })],
        [subject, JSON.stringify({ joiner: 'x', session: '0'.repeat(32), taskId: 't', status: 'completed', pad: 'p'.repeat(20_000) })],
        [
          h.names.controlTaskStatus('no-such-server'),
          JSON.stringify({ joiner: 'x', session: '0'.repeat(32), taskId: 't', status: 'completed' }),
        ],
      ];
      for (const [subj, data] of junk) h.nc.publish(subj, data);
      // A lying 'completed' for every running task, with its session's real tag, then a flood of them.
      const lies: TaskStatusCue[] = [];
      for (const id of ids) {
        const rec = (await h.record(id))!;
        lies.push({
          joiner: 'forger',
          session: taskSessionTag(rec.sessionId!, rec.protocolVersion!),
          taskId: rec.taskId!,
          status: 'completed',
          statusMessage: 'lie',
        });
      }
      // A burst of them, then the lies keep coming every 20 ms until every call has its result.
      let published = 0;
      const publishLies = () => {
        for (const lie of lies) h!.nc.publish(subject, JSON.stringify(lie));
        published += lies.length;
      };
      const started = Date.now();
      for (let i = 0; i < 200; i += 1) publishLies();
      let done = false;
      const liar = (async () => {
        while (!done) {
          publishLies();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      try {
        await expectCompletedOnce('forged', ids);
      } finally {
        done = true;
        await liar;
      }
      const elapsed = Date.now() - started;
      await h.nc.flush();
      const heard = async (j: Svc) => (await cues(j, 'forged', 'used')) + (await cues(j, 'forged', 'unknown'));
      for (const j of joiners) await waitFor('every cue received', async () => (await heard(j)) >= published, 20_000);
      for (const j of joiners) {
        // Each junk message counted once by each joiner (the unknown server's under no server label), none taken.
        expect(await cues(j, 'forged', 'malformed')).toBe(junk.length - 1);
        expect(await cues(j, '', 'malformed')).toBe(1);
        // Every well-formed cue counted once: used (a watched task) or unknown (woken meanwhile, or watched by the other joiner);
        // no joiner holds a stream here (own_stream).
        expect(await heard(j)).toBe(published);
        expect(await cues(j, 'forged', 'published')).toBe(0);
        expect(await cues(j, 'forged', 'own_stream')).toBe(0);
      }
      // The lies woke the calls (whose tasks/get said working: parked again), but a task at most once per joiner.pollMinMs
      // (500 ms) on each joiner, plus its real end: without that spacing each lie would wake, ask and redeliver again.
      let wakes = 0;
      for (const j of joiners) wakes += await j.metric('mcpq_task_wakes_total', { server: 'forged', reason: 'ended' });
      expect(wakes).toBeGreaterThan(N);
      expect(wakes).toBeLessThanOrEqual(N * (2 * (Math.ceil(elapsed / 500) + 1) + 2));
    });
  });
});
