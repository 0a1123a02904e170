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
import { cpuShare, percentile, rssBytes, sampleMax, waitUntil } from '../measure.js';

export interface ParkedOptions {
  calls: number;
  /**
   * How long each task runs on the server, at least: longer when the warm-up says dispatching
   * every call would not leave a waiting window (twice the estimate, plus 10 s).
   */
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

/** The calls could not all be dispatched well before the first task ends: a longer task is needed. */
export class DispatchTooSlow extends Error {
  /** Seconds dispatching every call would take at the rate seen. */
  readonly estimatedSeconds: number;
  constructor(options: ParkedOptions, dispatched: number, seconds: number) {
    super(
      `bench: ${dispatched} of ${options.calls} tasks dispatched in ${seconds.toFixed(1)} s, ` +
        `too slow to read a waiting window before the ${options.taskMs / 1000} s tasks end`,
    );
    this.estimatedSeconds = (seconds * options.calls) / Math.max(1, dispatched);
  }
}

interface Seen {
  receivedAt: number;
  status: string;
  endedAt?: number;
}

const WARM_CALLS = 100;

export async function parked(requested: ParkedOptions): Promise<ParkedCost> {
  const joinerDefaults = JoinerConfigSchema.parse({});
  const env = await Environment.start({ joiners: 1, nodeArgs: ['--expose-gc'], taskPollMs: requested.pollMs });
  try {
    const joiner = env.joiners[0]!;
    const warmStarted = Date.now();
    await env.warm(WARM_CALLS);
    const estimatedDispatchMs = ((Date.now() - warmStarted) * requested.calls) / WARM_CALLS;
    const taskMs = Math.max(requested.taskMs, Math.ceil((2 * estimatedDispatchMs + 10_000) / 1000) * 1000);
    const options = { ...requested, taskMs };
    // The joiner has then followed tasks: its one-time fetch load is not counted as the parked calls' (Environment.warmTasks).
    await env.warmTasks();
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
    // Every call must be dispatched, and parked once, a while before the first task can end
    // (it started no earlier than its submission): that while is the window CPU is read over.
    const windowEnd = firstSubmitAt + options.taskMs - 1_000;
    let dispatched = 0;
    // A /metrics read that times out (a submitter busy dispatching) keeps the last count.
    const readDispatched = async () =>
      (dispatched = await env.submitter.metric('mcpq_calls_dispatched_total').then(
        (n) => n - dispatchedBefore,
        () => dispatched,
      ));
    while ((await readDispatched()) < options.calls) {
      if (Date.now() > windowEnd - 3_000) throw new DispatchTooSlow(options, dispatched, (Date.now() - firstSubmitAt) / 1000);
      await new Promise((r) => setTimeout(r, 250));
    }
    const dispatchSeconds = (Date.now() - firstSubmitAt) / 1000;
    await new Promise((r) => setTimeout(r, 1_000));
    const windowMs = windowEnd - Date.now();
    const [[cpu, serverCpu], heldMax] = await Promise.all([
      cpuShare([joiner.pid!, env.mcpPid], windowMs),
      sampleMax(() => joiner.metric('mcpq_calls_held'), windowMs),
    ]);
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
