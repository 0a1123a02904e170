/**
 * The task watcher's two rules that need no server: when a task state seen
 * while its call is parked wakes the call (the same rule as noteTaskStatus
 * publishing), the per-server poll budget (a clock passed in, no waiting), and
 * which first deliveries are watched without a tasks/get (justCreatedTask).
 * The watcher itself runs against real servers in test/e2e/parked.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { justCreatedTask, PollBudget, taskNeedsFollow } from '@mcpq/joiner';
import { loadConfig, type CallRecord, type ServiceContext } from '@mcpq/shared';

describe('taskNeedsFollow', () => {
  const recorded = { status: 'working', message: 'step 1' };
  it('wakes for an ended task, input_required, and a new status message only', () => {
    for (const status of ['completed', 'failed', 'cancelled'])
      expect(taskNeedsFollow(recorded, { status, message: 'step 1' })).toBe('ended');
    expect(taskNeedsFollow(recorded, { status: 'input_required', message: 'step 1' })).toBe('input');
    expect(taskNeedsFollow({ status: 'input_required', message: 'x' }, { status: 'input_required', message: 'x' })).toBeUndefined();
    expect(taskNeedsFollow(recorded, { status: 'working', message: 'step 2' })).toBe('progress');
    expect(taskNeedsFollow(recorded, { status: 'working', message: 'step 1' })).toBeUndefined();
    // A message that disappears publishes nothing (noteTaskStatus publishes only a new message).
    expect(taskNeedsFollow(recorded, { status: 'working', message: undefined })).toBeUndefined();
    expect(taskNeedsFollow({ status: undefined, message: undefined }, { status: 'working', message: undefined })).toBeUndefined();
  });
});

describe('PollBudget', () => {
  it('allows pollsPerSecond requests a second after a small burst, and says how long until the next', () => {
    const t0 = Date.now();
    const budget = new PollBudget(50, t0);
    let burst = 0;
    while (budget.tryTake(t0)) burst++;
    expect(burst).toBe(10); // a fifth of a second's worth
    expect(budget.waitMs(t0)).toBe(20);
    let taken = 0;
    for (let t = t0 + 1; t <= t0 + 1_000; t++) if (budget.tryTake(t)) taken++;
    expect(taken).toBe(50);
  });

  it('a budget below one a second still allows one request, then waits', () => {
    const t0 = Date.now();
    const budget = new PollBudget(0.5, t0);
    expect(budget.tryTake(t0)).toBe(true);
    expect(budget.tryTake(t0 + 1_000)).toBe(false);
    expect(budget.waitMs(t0 + 1_000)).toBe(1_000);
    expect(budget.tryTake(t0 + 2_000)).toBe(true);
  });
});

describe('justCreatedTask', () => {
  const config = loadConfig({ config: { servers: { s: { url: 'http://127.0.0.1:3000/mcp' } } }, env: {} });
  // justCreatedTask reads only the config of its context.
  const ctx = { config } as unknown as ServiceContext;
  const now = Date.parse('2026-11-29T04:00:00.000Z');
  const fresh: CallRecord = {
    v: 1,
    callId: 'c1',
    server: 's',
    tool: 'slow_task',
    status: 'dispatched',
    mode: 'task',
    idempotent: false,
    sessionId: 'sess',
    protocolVersion: '2025-11-25',
    taskId: 't1',
    taskStatus: 'working',
    pollIntervalMs: 100,
    progressSeq: 0,
    attempts: 1,
    createdAt: '2026-11-29T03:59:59.000Z',
    updatedAt: '2026-11-29T03:59:59.500Z',
    dispatchedAt: '2026-11-29T03:59:59.500Z',
  };
  it('watches a task the submitter recorded moments ago as working, with the poll delay the follower would use', () => {
    expect(justCreatedTask(ctx, fresh, now)).toEqual({
      taskId: 't1',
      era: 'classic',
      sessionId: 'sess',
      protocolVersion: '2025-11-25',
      status: 'working',
      message: undefined,
      pollMs: config.joiner.pollMinMs,
    });
    expect(justCreatedTask(ctx, { ...fresh, deadline: now + config.joiner.parkLeaseMs + 1 }, now)).toBeDefined();
  });
  it('follows every other delivery with a tasks/get', () => {
    const cases: Array<Partial<CallRecord>> = [
      { status: 'running' }, // a later delivery
      { taskStatus: 'input_required' },
      { taskId: undefined },
      { rejoinFailures: 1 },
      { dispatchedAt: '2026-11-29T03:59:49.000Z' }, // 11 s ago: the join waited
      { dispatchedAt: undefined },
      { dispatchedAt: 'not a time' },
      { deadline: now + config.joiner.parkLeaseMs }, // the lease would end at the deadline
      { protocol: '2026-07-28' }, // the joiner made that task itself
    ];
    for (const c of cases) expect(justCreatedTask(ctx, { ...fresh, ...c }, now), JSON.stringify(c)).toBeUndefined();
  });
});
