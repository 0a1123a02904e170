/**
 * Scenario 5: N task-mode calls parked at once. The example server runs each
 * as an MCP task of `taskMs` and suggests a poll interval of `pollMs`; one
 * joiner with the default config follows them all, parking each call between
 * polls. Measured on that joiner: RSS and live heap per parked call (before
 * vs while parked), CPU while they wait (over a window in which every call is
 * dispatched and none has ended), and how soon a result is seen after its task
 * ends on the server (the task stamps `endedAt` in its result; a subscriber on
 * every call's result subject stamps when the result arrives; both clocks are
 * this machine's).
 */
import { JoinerConfigSchema } from '@mcpq/shared';
import { Environment } from '../environment.js';
import { cpuShare, percentile, rssBytes, waitUntil } from '../measure.js';

export interface ParkedOptions {
  calls: number;
  /** How long each task runs on the server. */
  taskMs: number;
  /** The poll interval the server suggests for its tasks. */
  pollMs: number;
}

export interface ParkedCost {
  calls: number;
  taskMs: number;
  serverPollMs: number;
  /** The joiner's pollMinMs (default config): the server's suggestion is raised to it. */
  joinerPollMinMs: number;
  /** From the first submission until the submitter had dispatched every call. */
  dispatchSeconds: number;
  rssIdleBytes: number;
  rssParkedBytes: number;
  /** RSS growth of the joiner per parked call. */
  rssBytesPerCall: number;
  heapIdleBytes: number;
  heapParkedBytes: number;
  /** Growth of the joiner's live heap (after a full GC) per parked call. */
  heapBytesPerCall: number;
  /** The window CPU was read over: every call dispatched, none ended. */
  windowSeconds: number;
  /** The joiner's CPU over the window, in cores. */
  cpuCores: number;
  /** The example MCP server's CPU over the same window (it answers every poll), in cores. */
  serverCpuCores: number;
  /** Most calls the joiner held at once during the window (polls under way; parked calls are not held). */
  heldMax: number;
  /** Results seen, and of those completed. */
  results: number;
  completed: number;
  /** From a task's end on the server to its result seen by a subscriber, in ms. */
  noticeP50Ms: number;
  noticeP99Ms: number;
  noticeMaxMs: number;
}

interface Seen {
  receivedAt: number;
  status: string;
  endedAt?: number;
}

export async function parked(options: ParkedOptions): Promise<ParkedCost> {
  const joinerDefaults = JoinerConfigSchema.parse({});
  const env = await Environment.start({ joiners: 1, nodeArgs: ['--expose-gc'], taskPollMs: options.pollMs });
  try {
    const joiner = env.joiners[0]!;
    await env.warm();
    await new Promise((r) => setTimeout(r, 1_000));
    const heapIdle = await env.joinersHeap();
    const rssIdle = rssBytes(joiner.pid!);

    // One subscriber for every call's result, stamping when each arrives.
    const seen = new Map<string, Seen>();
    const sub = env.client.nc.subscribe(env.client.names.call('*', 'result'));
    void (async () => {
      for await (const m of sub) {
        const receivedAt = Date.now();
        const event = m.json<{ callId: string; status: string; result?: { structuredContent?: { endedAt?: unknown } } }>();
        const endedAt = event.result?.structuredContent?.endedAt;
        seen.set(event.callId, { receivedAt, status: event.status, ...(typeof endedAt === 'number' ? { endedAt } : {}) });
      }
    })();

    const dispatchedBefore = await env.submitter.metric('mcpq_calls_dispatched_total');
    const firstSubmitAt = Date.now();
    const ids = new Set<string>();
    for (let i = 0; i < options.calls; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, options.calls - i) }, (_, k) =>
          env.client.submit('bench', 'slow_task', { durationMs: options.taskMs, steps: 1, label: `p${i + k}` }),
        ),
      );
      for (const { callId } of batch) ids.add(callId);
    }
    await waitUntil(
      `${options.calls} tasks dispatched`,
      async () => (await env.submitter.metric('mcpq_calls_dispatched_total')) - dispatchedBefore >= options.calls,
      options.taskMs,
    );
    const dispatchSeconds = (Date.now() - firstSubmitAt) / 1000;
    // Let the last dispatched calls reach the joiner and be parked once, then read until 1 s
    // before the first task can end (it started no earlier than its submission).
    await new Promise((r) => setTimeout(r, 1_000));
    const windowMs = firstSubmitAt + options.taskMs - 1_000 - Date.now();
    if (windowMs < 1_000)
      throw new Error(
        `bench: dispatching ${options.calls} tasks took ${dispatchSeconds} s, too close to the task's ${options.taskMs} ms to read a waiting window; use a longer task`,
      );
    let heldMax = 0;
    const sampling = (async () => {
      const until = Date.now() + windowMs;
      while (Date.now() < until) {
        heldMax = Math.max(heldMax, await joiner.metric('mcpq_calls_held'));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const [cpu, serverCpu] = await cpuShare([joiner.pid!, env.mcpPid], windowMs);
    await sampling;
    const rssParked = rssBytes(joiner.pid!);
    const heapParked = await env.joinersHeap();

    await waitUntil(`${options.calls} results`, () => [...ids].every((id) => seen.has(id)), options.taskMs + 120_000);
    sub.unsubscribe();
    const mine = [...ids].map((id) => seen.get(id)!);
    const notice = mine
      .filter((s) => s.endedAt !== undefined)
      .map((s) => s.receivedAt - s.endedAt!)
      .sort((a, b) => a - b);
    return {
      calls: options.calls,
      taskMs: options.taskMs,
      serverPollMs: options.pollMs,
      joinerPollMinMs: joinerDefaults.pollMinMs,
      dispatchSeconds: Math.round(dispatchSeconds * 10) / 10,
      rssIdleBytes: rssIdle,
      rssParkedBytes: rssParked,
      rssBytesPerCall: Math.round((rssParked - rssIdle) / options.calls),
      heapIdleBytes: heapIdle,
      heapParkedBytes: heapParked,
      heapBytesPerCall: Math.round((heapParked - heapIdle) / options.calls),
      windowSeconds: Math.round(windowMs / 100) / 10,
      cpuCores: cpu!,
      serverCpuCores: serverCpu!,
      heldMax,
      results: mine.length,
      completed: mine.filter((s) => s.status === 'completed').length,
      noticeP50Ms: percentile(notice, 50),
      noticeP99Ms: percentile(notice, 99),
      noticeMaxMs: notice.at(-1) ?? 0,
    };
  } finally {
    await env.close();
  }
}
